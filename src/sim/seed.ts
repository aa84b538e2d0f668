/**
 * Backlog seeding for the demo, the tests and the benchmarks: hand-written phases that act
 * out sim scenarios (seedPhases / sampleBacklog), and bulk synthetic backlogs (seedSynthetic).
 * A target is a PostgreSQL pool or connection, a SQLite file path (created with Autopack's
 * tables when absent) or an open SQLite connection; the rows are written by autopack-rows.ts.
 */
import type Database from 'better-sqlite3';
import { openAutopackSqlite } from '../db/autopack-sqlite.js';
import { PHASE_STATES } from '../domain/types.js';
import { sampleBacklog } from './sample.js';
import {
  isSqlite,
  writeRunsAndPhases,
  writeSyntheticBacklog,
  type AutopackTarget,
  type PgTarget,
} from './autopack-rows.js';

export { sampleBacklog } from './sample.js';

/** Where seeds go: PostgreSQL, an open SQLite connection, or a SQLite file path. */
type SeedTarget = PgTarget | Database.Database | string;

/** Runs `fn` on the target; a SQLite path is opened (Autopack's tables created when absent) and closed. */
async function onTarget<T>(target: SeedTarget, fn: (t: AutopackTarget) => Promise<T>): Promise<T> {
  if (typeof target !== 'string') return fn(target);
  const db = openAutopackSqlite(target, { create: true });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

export interface PhaseSeed {
  runId: string;
  phaseId: string;
  /** Default: the phase's position among its run's seeds (0-based). */
  phaseIndex?: number;
  /** Default FAILED. */
  state?: string;
  lastFailureReason?: string | null;
  /** Stored as scope.sim (see scenario.ts); absent → scope NULL → default scenario. */
  sim?: object;
  name?: string;
  description?: string;
  taskCategory?: string;
  complexity?: string;
}

const RUN_STATE_RANK: readonly (readonly [string, readonly string[]])[] = [
  ['DONE_SUCCESS', ['COMPLETE', 'SKIPPED']],
  ['DONE_FAILED_REQUIRES_HUMAN_REVIEW', ['FAILED']],
  ['PHASE_EXECUTION', ['QUEUED', 'EXECUTING', 'GATE', 'CI_RUNNING']],
];

export interface SeedCounts {
  runs: number;
  phases: number;
}

/**
 * Upserts the runs (each with its tier) and phases in one transaction: seeding twice is safe
 * and resets the phases to their seeded state. A later seed of the same key wins.
 */
export async function seedPhases(target: SeedTarget, specs: readonly PhaseSeed[]): Promise<SeedCounts> {
  const byKey = new Map<string, PhaseSeed & { phaseIndex: number; state: string }>();
  const perRun = new Map<string, number>();
  for (const s of specs) {
    const state = s.state ?? 'FAILED';
    if (!(PHASE_STATES as readonly string[]).includes(state)) {
      throw new Error(`seed ${s.runId}:${s.phaseId}: unknown state ${JSON.stringify(state)}`);
    }
    const position = perRun.get(s.runId) ?? 0;
    perRun.set(s.runId, position + 1);
    byKey.set(JSON.stringify([s.runId, s.phaseId]), {
      ...s,
      state,
      phaseIndex: s.phaseIndex ?? position,
    });
  }
  const rows = [...byKey.values()];
  if (rows.length === 0) return { runs: 0, phases: 0 };

  // Autopack-like run state: still executing if a phase is not terminal, else failed if one failed.
  const runStates = new Map<string, string>();
  for (const r of rows) {
    const mine = RUN_STATE_RANK.findIndex(([, states]) => states.includes(r.state));
    const prev = RUN_STATE_RANK.findIndex(([s]) => s === runStates.get(r.runId));
    if (mine > prev) runStates.set(r.runId, RUN_STATE_RANK[mine][0]);
  }
  await onTarget(target, (t) =>
    writeRunsAndPhases(
      t,
      [...runStates].map(([id, state]) => ({ id, state })),
      rows.map((r) => ({
        runId: r.runId,
        phaseId: r.phaseId,
        phaseIndex: r.phaseIndex,
        state: r.state,
        name: r.name ?? r.phaseId,
        description: r.description ?? null,
        lastFailureReason: r.lastFailureReason ?? null,
        taskCategory: r.taskCategory ?? 'implementation',
        complexity: r.complexity ?? 'medium',
        phaseType: 'implementation',
        scope: r.sim === undefined ? null : { sim: r.sim },
      })),
    ),
  );
  return { runs: runStates.size, phases: rows.length };
}

export function seedSample(target: SeedTarget): Promise<SeedCounts> {
  return seedPhases(target, sampleBacklog());
}

interface SyntheticOptions {
  phases: number;
  runs: number;
  /** Fraction of phases left FAILED (default 0.1); another 2% are QUEUED; the rest COMPLETE. */
  failedFraction?: number;
  /** Run ids are `<prefix>-run-000001`…, phase ids `<prefix>-phase-0000001`… Default "synth". */
  prefix?: string;
}

export interface SyntheticCounts extends SeedCounts {
  byState: Record<string, number>;
}

/** One failure reason per category (NULL = unknown), cycled over the FAILED phases. */
const SYNTHETIC_REASONS: readonly (string | null)[] = [
  null,
  "CI collection/import error: ModuleNotFoundError: No module named 'autopack.research'",
  'Missing deliverables: src/autopack/research/gatherers/web.py',
  'Patch application failed: hunk #1 FAILED at 42',
  'No-op patch: builder produced no changes',
  'Phase timed out after 900s',
  'TOKEN_ESCALATION: output truncated at max_tokens',
  'Builder returned invalid JSON',
];

/**
 * Bulk insert of a deterministic synthetic backlog (for benchmarks): on PostgreSQL one
 * INSERT … SELECT FROM generate_series (~1,000,000 phases in seconds), on SQLite one prepared
 * statement in one transaction. Phase g belongs to run ((g-1) mod runs)+1; its state comes
 * from a fixed scramble of g (autopack-rows.ts syntheticPhase). Re-seeding resets the rows.
 */
export async function seedSynthetic(target: SeedTarget, o: SyntheticOptions): Promise<SyntheticCounts> {
  const failed = o.failedFraction ?? 0.1;
  const prefix = o.prefix ?? 'synth';
  if (!Number.isInteger(o.phases) || o.phases < 0)
    throw new Error('seedSynthetic: phases must be an integer >= 0');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('seedSynthetic: runs must be an integer >= 1');
  if (!(failed >= 0 && failed <= 0.98))
    throw new Error('seedSynthetic: failedFraction must be within [0, 0.98]');
  if (o.phases === 0) return { runs: 0, phases: 0, byState: {} };
  const runs = Math.min(o.runs, o.phases);
  const spec = {
    prefix,
    phases: o.phases,
    runs,
    failedBuckets: Math.round(failed * 10_000),
    reasons: SYNTHETIC_REASONS,
  };
  const byState = await onTarget(target, async (t) => {
    const counts = await writeSyntheticBacklog(t, spec);
    // Statistics for the planner on PostgreSQL; a SQLite file is left as Autopack has it (no ANALYZE).
    if (!isSqlite(t)) await t.query('ANALYZE phases');
    return counts;
  });
  return { runs, phases: o.phases, byState };
}
