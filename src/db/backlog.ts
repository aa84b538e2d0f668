/**
 * The backlog: Autopack's own tables (runs, phases, tiers and the two telemetry tables), in a
 * PostgreSQL database or a SQLite file. Reached through this one small interface; the
 * PostgreSQL implementation is here, the SQLite one in backlog-sqlite.ts.
 *
 * Two kinds of access:
 *   - the per-try reads and the one write (`--on-kill fail`'s hand-back) as methods, each one
 *     statement in the backlog's own dialect;
 *   - `sql(scope)`: a Queryable on the RECORDS database (our drain_* tables) in which Autopack's
 *     tables are visible too, for the statements that join both (selection, memory, verify,
 *     reports). With a PostgreSQL backlog that is the database itself (records live beside
 *     the backlog); with SQLite, each statement runs on the records database with the backlog
 *     rows it names given as a snapshot (backlog-snapshot.ts), so every such statement, the
 *     selection rules included, has one home and one dialect.
 */
import type pg from 'pg';
import type { Queryable } from './pool.js';
import type { BacklogLocation } from './database-url.js';
import {
  backlogCounts,
  getPhase,
  handBackStrandedPhase,
  tokensOf,
  type BacklogCounts,
  type PhaseRow,
} from './phases.js';
import { countPhaseTelemetry } from './telemetry.js';
import { phaseFacts, type PhaseFacts } from './phase-facts.js';
import type { TokenCounters } from '../domain/tokens.js';

/** Which backlog rows a joined statement needs (SQLite snapshots only those; PostgreSQL ignores it). */
export interface SnapshotScope {
  /** Only phases in these states (e.g. selection: FAILED and QUEUED). */
  phaseStates?: readonly string[];
  /** Only this run's rows (phases, telemetry). */
  runId?: string;
  /** With runId: only this phase's rows. */
  phaseId?: string;
}

export interface Backlog {
  readonly location: BacklogLocation;
  /** Records and backlog share one PostgreSQL database (the PostgreSQL backlog layout). */
  readonly sharesRecords: boolean;
  /** Statements over our records that also read Autopack's tables (see the module comment). */
  sql(scope?: SnapshotScope): Queryable;
  getPhase(runId: string, phaseId: string): Promise<PhaseRow | null>;
  backlogCounts(): Promise<BacklogCounts>;
  /** What a try reads at its start and its end, in one statement (phase-facts.ts). */
  phaseFacts(runId: string, phaseId: string): Promise<PhaseFacts>;
  countPhaseTelemetry(runId: string, phaseId: string): Promise<number>;
  /** phases.tokens_used and runs.tokens_used (null: the backlog has no such column, or no row). */
  tokensOf(runId: string, phaseId: string): Promise<TokenCounters>;
  /** FAILED with `reason` unless the phase is terminal already (an executor that ended wins). */
  handBackStrandedPhase(runId: string, phaseId: string, reason: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A PostgreSQL backlog: Autopack's tables in the same database as our records (one pool). */
export class PostgresBacklog implements Backlog {
  readonly sharesRecords = true;
  constructor(
    readonly location: BacklogLocation & { kind: 'postgres' },
    private readonly pool: pg.Pool,
  ) {}

  sql(): Queryable {
    return this.pool;
  }
  getPhase(runId: string, phaseId: string) {
    return getPhase(this.pool, runId, phaseId);
  }
  backlogCounts() {
    return backlogCounts(this.pool);
  }
  phaseFacts(runId: string, phaseId: string) {
    return phaseFacts(this.pool, runId, phaseId);
  }
  countPhaseTelemetry(runId: string, phaseId: string) {
    return countPhaseTelemetry(this.pool, runId, phaseId);
  }
  tokensOf(runId: string, phaseId: string) {
    return tokensOf(this.pool, runId, phaseId);
  }
  handBackStrandedPhase(runId: string, phaseId: string, reason: string) {
    return handBackStrandedPhase(this.pool, runId, phaseId, reason);
  }
  async close(): Promise<void> {
    /* the pool is the records pool: its owner ends it */
  }
}
