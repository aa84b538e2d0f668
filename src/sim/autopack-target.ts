/**
 * Where src/sim/autopack-rows.ts writes Autopack's rows (PostgreSQL or SQLite), the helpers its
 * writers share (a query, a transaction, now as naive UTC, SQLite writes), the values a new run
 * gets and the shapes of runs, phases and their keys.
 */
import type pg from 'pg';
import type Database from 'better-sqlite3';
import { naiveUtcText } from '../db/autopack-time.js';

/** A PostgreSQL connection or pool: anything with pg's query(). */
export type PgTarget = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;
/** Where Autopack's rows are written: PostgreSQL, or an open better-sqlite3 connection. */
export type AutopackTarget = PgTarget | Database.Database;

export function isSqlite(t: AutopackTarget): t is Database.Database {
  return typeof (t as Database.Database).prepare === 'function';
}

export function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  t: PgTarget,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  return (t as Pick<pg.Pool, 'query'>).query<R>(text, values);
}

function isPool(t: PgTarget): t is pg.Pool {
  return 'totalCount' in t && typeof (t as pg.Pool).connect === 'function';
}

/** Runs `fn` in one transaction on one connection of a pool; on a single connection as it is. */
export async function pgTransaction<T>(t: PgTarget, fn: (c: PgTarget) => Promise<T>): Promise<T> {
  if (!isPool(t)) return fn(t);
  const c = await t.connect();
  try {
    await c.query('BEGIN');
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/** Now, as Autopack's naive UTC: the SQL expression (PostgreSQL) and the text (SQLite). */
export const PG_NOW_UTC = `(now() AT TIME ZONE 'UTC')`;
export const nowText = () => naiveUtcText(new Date());
export const bit = (b: boolean) => (b ? 1 : 0);

/** The values a new run gets for Autopack's NOT NULL columns (its models' defaults). */
export const RUN_DEFAULTS = {
  safetyProfile: 'normal',
  runScope: 'multi_tier',
  tokenCap: 5_000_000,
  maxPhases: 25,
  maxDurationMinutes: 120,
} as const;
/** The one tier a seeded run gets. */
export const TIER_ID = 'T1';
/** `model` of the executor's telemetry rows. */
export const SIM_MODEL = 'sim-model';

export interface RunSpec {
  id: string;
  /** A runstate name (upper case). */
  state: string;
}

export interface PhaseSpec {
  runId: string;
  phaseId: string;
  phaseIndex: number;
  /** A phasestate name (upper case). */
  state: string;
  name: string;
  description: string | null;
  lastFailureReason: string | null;
  taskCategory: string | null;
  complexity: string | null;
  phaseType: string | null;
  /** phases.scope (JSON); null: SQL NULL. */
  scope: unknown;
}

export interface PhaseKey {
  runId: string;
  phaseId: string;
}

/** The tier state that goes with a run state. */
export function tierStateOf(runState: string): string {
  if (runState === 'DONE_SUCCESS') return 'COMPLETE';
  if (runState.startsWith('DONE_FAILED')) return 'FAILED';
  if (['QUEUED', 'PLAN_BOOTSTRAP', 'RUN_CREATED'].includes(runState)) return 'PENDING';
  return 'IN_PROGRESS';
}

/** One write on SQLite in a short BEGIN IMMEDIATE transaction; the rows it changed. */
export function sqliteWrite(db: Database.Database, sql: string, params: Record<string, unknown>): number {
  const stmt = db.prepare(sql);
  return db.transaction(() => stmt.run(params).changes).immediate();
}
