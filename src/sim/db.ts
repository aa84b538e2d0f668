/**
 * The reference executor's database: the backlog DATABASE_URL names, PostgreSQL or a SQLite
 * file, opened the way Autopack's executor opens it (on SQLite: Python's sqlite3 defaults, a
 * 5 s busy timeout and the journal mode left alone). Its reads are here; its writes (phase
 * transitions, telemetry rows, tokens) are autopack-rows.ts, the one writer of Autopack's rows.
 * A phase is always addressed by the pair (run_id, phase_id).
 */
import pg from 'pg';
import type Database from 'better-sqlite3';
import { parseDatabaseUrl } from '../db/database-url.js';
import { openAutopackSqlite } from '../db/autopack-sqlite.js';
import '../db/pool.js'; // naive timestamps read as UTC
import * as rows from './autopack-rows.js';
import type { EstimationEvent, PhaseKey } from './autopack-rows.js';

export type { EstimationEvent, PhaseKey } from './autopack-rows.js';

export interface SimPhase extends PhaseKey {
  state: string;
  lastFailureReason: string | null;
  scope: unknown;
  name: string | null;
  taskCategory: string | null;
  complexity: string | null;
}

/** An open backlog connection: a pg client or a better-sqlite3 connection. */
export type SimDb = pg.Client | Database.Database;

/**
 * Opens the backlog a DATABASE_URL names (a postgres URL, or sqlite:/// resolved against `cwd`
 * as Autopack resolves it). Throws DatabaseUrlError for a URL it cannot use.
 */
export async function openSimDb(url: string, cwd = process.cwd()): Promise<SimDb> {
  const loc = parseDatabaseUrl(url, { workspace: cwd });
  if (loc.kind === 'sqlite') {
    if (loc.windows) throw new Error(`${loc.path} is a Windows path: it cannot be opened here`);
    return openAutopackSqlite(loc.path);
  }
  const client = new pg.Client({ connectionString: loc.url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {
    /* the server went away while idle: the next query reports it */
  });
  await client.connect();
  return client;
}

export async function closeSimDb(db: SimDb): Promise<void> {
  if (rows.isSqlite(db)) db.close();
  else await db.end();
}

interface PhaseColumns {
  state: string;
  last_failure_reason: string | null;
  scope: unknown;
  name: string | null;
  task_category: string | null;
  complexity: string | null;
}

export async function loadPhase(db: SimDb, key: PhaseKey): Promise<SimPhase | null> {
  let row: PhaseColumns | undefined;
  if (rows.isSqlite(db)) {
    row = db
      .prepare(
        `SELECT state, last_failure_reason, scope, name, task_category, complexity
           FROM phases WHERE run_id = ? AND phase_id = ?`,
      )
      .get(key.runId, key.phaseId) as PhaseColumns | undefined;
  } else {
    const r = await db.query<PhaseColumns>(
      `SELECT state::text AS state, last_failure_reason, scope, name, task_category, complexity
         FROM phases WHERE run_id = $1 AND phase_id = $2`,
      [key.runId, key.phaseId],
    );
    row = r.rows[0];
  }
  if (!row) return null;
  return {
    ...key,
    state: row.state,
    lastFailureReason: row.last_failure_reason,
    scope: row.scope,
    name: row.name,
    taskCategory: row.task_category,
    complexity: row.complexity,
  };
}

/** fromState → QUEUED, clearing the failure reason (Autopack's --force requeue). False if the state moved. */
export function requeuePhase(db: SimDb, key: PhaseKey, fromState: string): Promise<boolean> {
  return rows.requeuePhase(db, key, fromState);
}

/** QUEUED → EXECUTING. False if the phase was not QUEUED any more (another executor took it). */
export function startPhase(db: SimDb, key: PhaseKey): Promise<boolean> {
  return rows.startPhase(db, key);
}

export async function finishPhase(
  db: SimDb,
  key: PhaseKey,
  state: 'COMPLETE' | 'FAILED',
  reason: string | null,
): Promise<void> {
  await rows.setPhaseState(db, key, state, state === 'COMPLETE' ? null : reason);
}

/** A telemetry row of one model call; its output tokens count in the phase's and run's tokens_used. */
export function insertEstimationEvent(db: SimDb, key: PhaseKey, e: EstimationEvent): Promise<void> {
  return rows.insertEstimationEvent(db, key, e);
}

/** A truncated attempt at max_tokens=baseValue, which spent `tokens` output tokens (null: unknown). */
export function insertEscalationEvent(
  db: SimDb,
  key: PhaseKey,
  attemptIndex: number,
  baseValue: number,
  tokens: number | null = baseValue,
): Promise<void> {
  return rows.insertEscalationEvent(db, key, { attemptIndex, baseValue, tokensUsed: tokens });
}

/** Tokens spent by model calls whose telemetry is not written (TELEMETRY_DB_ENABLED off). */
export function addTokens(db: SimDb, key: PhaseKey, tokens: number): Promise<void> {
  return rows.addTokens(db, key, tokens);
}
