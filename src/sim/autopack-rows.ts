/**
 * The one writer of Autopack's rows (runs, their tier, phases, telemetry events), in both
 * dialects, for the seeds of the demo, the tests and the benchmarks and for the reference
 * executor. Rows are written the way Autopack's ORM writes them (../shared/reference/autopack-schema.md):
 *   - every NOT NULL column is given (Autopack's defaults are Python-side: the tables have none);
 *   - a run gets one tier row ('T1'); its phases point at the run's first tier;
 *   - times are naive UTC: on PostgreSQL `(now() AT TIME ZONE 'UTC')` (a bare now() into a
 *     naive column would be shifted by the server's TimeZone), on SQLite the text SQLAlchemy
 *     writes ('2026-12-07 12:00:50.453000', src/db/autopack-time.ts);
 *   - states are the upper-case names. On PostgreSQL they are written through the column's own
 *     type (a plain literal, a parameter the server types from the column, or
 *     jsonb_populate_recordset(NULL::phases, …)), so the same statement works on Autopack's enum
 *     columns and on the text columns of databases migrated from our old shape (a
 *     `$1::text::phasestate` cast fails there, and a CASE of literals is text, which an enum
 *     column refuses);
 *   - SQLite writes are short BEGIN IMMEDIATE transactions on a connection with a busy timeout,
 *     never changing the journal mode; booleans are 0/1.
 * A model call of the executor adds its output tokens to phases.tokens_used and
 * runs.tokens_used, as Autopack's executor does (a --force requeue does not reset them).
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

function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
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
async function pgTransaction<T>(t: PgTarget, fn: (c: PgTarget) => Promise<T>): Promise<T> {
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
const nowText = () => naiveUtcText(new Date());
const bit = (b: boolean) => (b ? 1 : 0);

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

// ---------------------------------------------------------------------------------------
// Runs, tiers and phases (seeds).

const RUN_COLUMNS = `id, state, created_at, updated_at, safety_profile, run_scope, token_cap, max_phases,
   max_duration_minutes, tokens_used, ci_runs_used, minor_issues_count, major_issues_count,
   promotion_eligible_to_main`;
const TIER_COLUMNS = `tier_id, run_id, tier_index, name, state, max_major_issues_tolerated, tokens_used,
   ci_runs_used, minor_issues_count, major_issues_count, cleanliness, created_at, updated_at`;
const PHASE_COLUMNS = `phase_id, run_id, tier_id, phase_index, name, description, state, task_category,
   complexity, phase_type, scope, builder_attempts, auditor_attempts, tokens_used, minor_issues_count,
   major_issues_count, issue_state, quality_blocked, retry_attempt, revision_epoch, escalation_level,
   last_failure_reason, created_at, updated_at`;
/**
 * Reseeding a phase resets what a drain changes (tokens_used stays, as in Autopack); a phase
 * without a tier (migrated from our old shape) gets its run's.
 */
const PHASE_RESET = `tier_id = COALESCE(phases.tier_id, EXCLUDED.tier_id), phase_index = EXCLUDED.phase_index,
   name = EXCLUDED.name, description = EXCLUDED.description,
   state = EXCLUDED.state, last_failure_reason = EXCLUDED.last_failure_reason,
   task_category = EXCLUDED.task_category, complexity = EXCLUDED.complexity, phase_type = EXCLUDED.phase_type,
   scope = EXCLUDED.scope, started_at = NULL, completed_at = NULL, updated_at = EXCLUDED.updated_at`;

const { safetyProfile, runScope, tokenCap, maxPhases, maxDurationMinutes } = RUN_DEFAULTS;
const RUN_CONSTANTS = `'${safetyProfile}', '${runScope}', ${tokenCap}, ${maxPhases}, ${maxDurationMinutes}, 0, 0, 0, 0, 'false'`;
const TIER_CONSTANTS = `0, 'Tier 1'`;
const TIER_COUNTERS = `0, 0, 0, 0, 0, 'clean'`;
const PHASE_COUNTERS = `0, 0, 0, 0, 0, 'no_issues', false, 0, 0, 0`;

// PostgreSQL: rows as JSON through jsonb_populate_recordset(NULL::<table>, …), which types each
// field as its column (enum or text states alike).
const PG_RUNS = `
  INSERT INTO runs (${RUN_COLUMNS})
  SELECT r.id, r.state, ${PG_NOW_UTC}, ${PG_NOW_UTC}, ${RUN_CONSTANTS}
    FROM jsonb_populate_recordset(NULL::runs, $1::jsonb) r
  ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`;
const PG_TIERS = `
  WITH r AS (SELECT run_id, state FROM jsonb_populate_recordset(NULL::tiers, $1::jsonb)),
  seeded AS (
    UPDATE tiers t SET state = r.state, updated_at = ${PG_NOW_UTC}
      FROM r WHERE t.run_id = r.run_id AND t.tier_id = '${TIER_ID}')
  INSERT INTO tiers (${TIER_COLUMNS})
  SELECT '${TIER_ID}', r.run_id, ${TIER_CONSTANTS}, r.state, ${TIER_COUNTERS}, ${PG_NOW_UTC}, ${PG_NOW_UTC}
    FROM r WHERE NOT EXISTS (SELECT 1 FROM tiers t WHERE t.run_id = r.run_id)`;
const PG_PHASES = `
  INSERT INTO phases (${PHASE_COLUMNS})
  SELECT s.phase_id, s.run_id, t.id, s.phase_index, s.name, s.description, s.state, s.task_category,
         s.complexity, s.phase_type, s.scope, ${PHASE_COUNTERS}, s.last_failure_reason, ${PG_NOW_UTC}, ${PG_NOW_UTC}
    FROM jsonb_populate_recordset(NULL::phases, $1::jsonb) WITH ORDINALITY s
    LEFT JOIN (SELECT DISTINCT ON (run_id) run_id, id FROM tiers ORDER BY run_id, tier_index, id) t
      ON t.run_id = s.run_id
   ORDER BY s.ordinality -- new phases get their ids in the order given (selection breaks ties by id)
  ON CONFLICT (run_id, phase_id) DO UPDATE SET ${PHASE_RESET}`;

const SQLITE_RUN = `
  INSERT INTO runs (${RUN_COLUMNS})
  VALUES (@id, @state, @now, @now, ${RUN_CONSTANTS})
  ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`;
const SQLITE_TIER_UPDATE = `UPDATE tiers SET state = @state, updated_at = @now WHERE run_id = @run AND tier_id = '${TIER_ID}'`;
const SQLITE_TIER_INSERT = `
  INSERT INTO tiers (${TIER_COLUMNS})
  VALUES ('${TIER_ID}', @run, ${TIER_CONSTANTS}, @state, ${TIER_COUNTERS}, @now, @now)`;
const SQLITE_PHASE = `
  INSERT INTO phases (${PHASE_COLUMNS})
  VALUES (@phaseId, @runId, @tierId, @phaseIndex, @name, @description, @state, @taskCategory, @complexity,
          @phaseType, @scope, ${PHASE_COUNTERS.replace('false', '0')}, @lastFailureReason, @now, @now)
  ON CONFLICT (run_id, phase_id) DO UPDATE SET ${PHASE_RESET.replace(/EXCLUDED/g, 'excluded')}`;

/**
 * SQLite, inside a transaction: upserts the runs and gives each its tier row ('T1', state
 * following the run's) unless it has one; returns each run's first tier id. Autopack indexes
 * no tiers.run_id: the tiers are read once, not looked up per row.
 */
function sqliteRunsAndTiers(
  db: Database.Database,
  runs: readonly RunSpec[],
  now: string,
): Map<string, number> {
  const tierOf = new Map<string, number>();
  const wanted = new Set(runs.map((r) => r.id));
  const tiers = db.prepare('SELECT run_id, id FROM tiers ORDER BY tier_index, id').iterate() as Iterable<{
    run_id: string;
    id: number;
  }>;
  for (const t of tiers) if (wanted.has(t.run_id) && !tierOf.has(t.run_id)) tierOf.set(t.run_id, t.id);
  const run = db.prepare(SQLITE_RUN);
  const tierUpdate = db.prepare(SQLITE_TIER_UPDATE);
  const tierInsert = db.prepare(SQLITE_TIER_INSERT);
  for (const r of runs) {
    run.run({ id: r.id, state: r.state, now });
    const tier = { run: r.id, state: tierStateOf(r.state), now };
    if (tierOf.has(r.id)) tierUpdate.run(tier);
    else tierOf.set(r.id, Number(tierInsert.run(tier).lastInsertRowid));
  }
  return tierOf;
}

/**
 * Upserts runs (each with its tier row) and phases in one transaction: a run's state and its
 * tier's follow the spec; a phase is reset to its spec (ON CONFLICT (run_id, phase_id)).
 */
export async function writeRunsAndPhases(
  t: AutopackTarget,
  runs: readonly RunSpec[],
  phases: readonly PhaseSpec[],
): Promise<void> {
  if (isSqlite(t)) {
    const now = nowText();
    const phase = t.prepare(SQLITE_PHASE);
    t.transaction(() => {
      const tierOf = sqliteRunsAndTiers(t, runs, now);
      for (const p of phases) {
        const scope = p.scope === null ? null : JSON.stringify(p.scope);
        phase.run({ ...p, scope, tierId: tierOf.get(p.runId) ?? null, now });
      }
    }).immediate();
    return;
  }
  await pgTransaction(t, async (c) => {
    await pgQuery(c, PG_RUNS, [JSON.stringify(runs.map((r) => ({ id: r.id, state: r.state })))]);
    await pgQuery(c, PG_TIERS, [
      JSON.stringify(runs.map((r) => ({ run_id: r.id, state: tierStateOf(r.state) }))),
    ]);
    await pgQuery(c, PG_PHASES, [
      JSON.stringify(
        phases.map((p) => ({
          run_id: p.runId,
          phase_id: p.phaseId,
          phase_index: p.phaseIndex,
          name: p.name,
          description: p.description,
          state: p.state,
          last_failure_reason: p.lastFailureReason,
          task_category: p.taskCategory,
          complexity: p.complexity,
          phase_type: p.phaseType,
          scope: p.scope,
        })),
      ),
    ]);
  });
}

// ---------------------------------------------------------------------------------------
// Synthetic backlogs (benchmarks): deterministic, bulk.

export interface SyntheticSpec {
  prefix: string;
  phases: number;
  runs: number;
  /** FAILED buckets out of 10,000 (another 200 are QUEUED; the rest COMPLETE). */
  failedBuckets: number;
  reasons: readonly (string | null)[];
}

const SYNTH_RUN_STATE = 'DONE_FAILED_REQUIRES_HUMAN_REVIEW';
const SYNTH_CATEGORIES = ['implementation', 'tests', 'docs', 'refactor'];
const SYNTH_COMPLEXITIES = ['low', 'medium', 'high'];

/** Synthetic phase g (1-based): run ((g-1) mod runs)+1, its state from a fixed scramble of g. */
export function syntheticPhase(s: SyntheticSpec, g: number): PhaseSpec {
  const bucket = (g * 7919 + 17) % 10_000;
  const failed = bucket < s.failedBuckets;
  return {
    runId: syntheticRunId(s.prefix, ((g - 1) % s.runs) + 1),
    phaseId: `${s.prefix}-phase-${String(g).padStart(7, '0')}`,
    phaseIndex: Math.floor((g - 1) / s.runs),
    state: failed ? 'FAILED' : bucket < s.failedBuckets + 200 ? 'QUEUED' : 'COMPLETE',
    name: `synthetic phase ${g}`,
    description: null,
    lastFailureReason: failed ? s.reasons[g % s.reasons.length] : null,
    taskCategory: SYNTH_CATEGORIES[g % 4],
    complexity: SYNTH_COMPLEXITIES[g % 3],
    phaseType: 'implementation',
    scope: null,
  };
}

const syntheticRunId = (prefix: string, n: number) => `${prefix}-run-${String(n).padStart(6, '0')}`;

/**
 * $1 prefix, $2 phases, $3 runs, $4 FAILED buckets (of 10,000), $5 reasons: syntheticPhase in
 * SQL, one INSERT … SELECT FROM generate_series. The CASE starts with a branch typed as
 * phases.state, so its literals take the column's type (enum or text).
 */
const PG_SYNTHETIC_PHASES = `WITH src AS (
       SELECT g, (g::bigint * 7919 + 17) % 10000 AS bucket,
              $1 || '-run-' || lpad((((g - 1) % $3::int) + 1)::text, 6, '0') AS run_id
         FROM generate_series(1, $2::int) AS g
     ), tier AS (
       SELECT DISTINCT ON (run_id) run_id, id FROM tiers
        WHERE starts_with(run_id, $1 || '-run-') ORDER BY run_id, tier_index, id
     ), ins AS (
       INSERT INTO phases (${PHASE_COLUMNS})
       SELECT $1 || '-phase-' || lpad(g::text, 7, '0'), src.run_id, tier.id, (g - 1) / $3::int,
              'synthetic phase ' || g, NULL,
              CASE WHEN false THEN (NULL::phases).state
                   WHEN bucket < $4::int THEN 'FAILED' WHEN bucket < $4::int + 200 THEN 'QUEUED'
                   ELSE 'COMPLETE' END,
              (ARRAY['${SYNTH_CATEGORIES.join("','")}'])[1 + g % 4],
              (ARRAY['${SYNTH_COMPLEXITIES.join("','")}'])[1 + g % 3],
              'implementation', NULL, ${PHASE_COUNTERS},
              CASE WHEN bucket < $4::int THEN ($5::text[])[1 + (g % array_length($5::text[], 1))] END,
              ${PG_NOW_UTC}, ${PG_NOW_UTC}
         FROM src LEFT JOIN tier ON tier.run_id = src.run_id
        ORDER BY g -- ids in g order
       ON CONFLICT (run_id, phase_id) DO UPDATE SET
         state = EXCLUDED.state, last_failure_reason = EXCLUDED.last_failure_reason,
         phase_index = EXCLUDED.phase_index, started_at = NULL, completed_at = NULL,
         updated_at = EXCLUDED.updated_at
       RETURNING state
     )
     SELECT state::text AS state, count(*) AS n FROM ins GROUP BY state`;

/**
 * Writes a synthetic backlog (its runs with their tiers, then the phases) in one transaction and
 * returns the phases per state. PostgreSQL: set-based statements, and where allowed (a
 * superuser, e.g. the embedded Postgres) without per-row foreign-key checks (every run and tier
 * exists: written just before). SQLite: one prepared statement in one immediate transaction.
 */
export async function writeSyntheticBacklog(
  t: AutopackTarget,
  s: SyntheticSpec,
): Promise<Record<string, number>> {
  const byState: Record<string, number> = {};
  if (isSqlite(t)) {
    const now = nowText();
    const phase = t.prepare(SQLITE_PHASE);
    const runs = Array.from({ length: s.runs }, (_, i) => ({
      id: syntheticRunId(s.prefix, i + 1),
      state: SYNTH_RUN_STATE,
    }));
    t.transaction(() => {
      const tierOf = sqliteRunsAndTiers(t, runs, now);
      for (let g = 1; g <= s.phases; g++) {
        const p = syntheticPhase(s, g);
        phase.run({ ...p, tierId: tierOf.get(p.runId) ?? null, now });
        byState[p.state] = (byState[p.state] ?? 0) + 1;
      }
    }).immediate();
    return byState;
  }
  const rows = await pgTransaction(t, async (c) => {
    await pgQuery(
      c,
      `INSERT INTO runs (${RUN_COLUMNS})
       SELECT $1 || '-run-' || lpad(g::text, 6, '0'), '${SYNTH_RUN_STATE}', ${PG_NOW_UTC}, ${PG_NOW_UTC},
              ${RUN_CONSTANTS}
         FROM generate_series(1, $2::int) AS g
       ON CONFLICT (id) DO NOTHING`,
      [s.prefix, s.runs],
    );
    await pgQuery(
      c,
      `INSERT INTO tiers (${TIER_COLUMNS})
       SELECT '${TIER_ID}', r, ${TIER_CONSTANTS}, '${tierStateOf(SYNTH_RUN_STATE)}', ${TIER_COUNTERS},
              ${PG_NOW_UTC}, ${PG_NOW_UTC}
         FROM (SELECT $1 || '-run-' || lpad(g::text, 6, '0') AS r FROM generate_series(1, $2::int) AS g) x
        WHERE NOT EXISTS (SELECT 1 FROM tiers t WHERE t.run_id = x.r)`,
      [s.prefix, s.runs],
    );
    if (c !== t) {
      await pgQuery(c, 'SAVEPOINT fk');
      await pgQuery(c, "SET LOCAL session_replication_role = 'replica'").catch(() =>
        pgQuery(c, 'ROLLBACK TO SAVEPOINT fk'),
      );
    }
    return (
      await pgQuery<{ state: string; n: string }>(c, PG_SYNTHETIC_PHASES, [
        s.prefix,
        s.phases,
        s.runs,
        s.failedBuckets,
        s.reasons,
      ])
    ).rows;
  });
  for (const r of rows) byState[r.state] = Number(r.n);
  return byState;
}

// ---------------------------------------------------------------------------------------
// The executor's phase transitions. A phase is addressed by (run_id, phase_id).

function sqliteWrite(db: Database.Database, sql: string, params: Record<string, unknown>): number {
  const stmt = db.prepare(sql);
  return db.transaction(() => stmt.run(params).changes).immediate();
}

/** fromState → QUEUED, clearing the failure reason and times (a --force requeue). False if the state moved. */
export async function requeuePhase(t: AutopackTarget, key: PhaseKey, fromState: string): Promise<boolean> {
  const set = `state = 'QUEUED', last_failure_reason = NULL, started_at = NULL, completed_at = NULL`;
  if (isSqlite(t))
    return (
      sqliteWrite(
        t,
        `UPDATE phases SET ${set}, updated_at = @now WHERE run_id = @runId AND phase_id = @phaseId AND state = @fromState`,
        { ...key, fromState, now: nowText() },
      ) === 1
    );
  const r = await pgQuery(
    t,
    `UPDATE phases SET ${set}, updated_at = ${PG_NOW_UTC}
      WHERE run_id = $1 AND phase_id = $2 AND state::text = $3`,
    [key.runId, key.phaseId, fromState],
  );
  return r.rowCount === 1;
}

/** QUEUED → EXECUTING. False if the phase was not QUEUED any more (another executor took it). */
export async function startPhase(t: AutopackTarget, key: PhaseKey): Promise<boolean> {
  if (isSqlite(t)) {
    const now = nowText();
    return (
      sqliteWrite(
        t,
        `UPDATE phases SET state = 'EXECUTING', started_at = @now, last_attempt_timestamp = @now, updated_at = @now
          WHERE run_id = @runId AND phase_id = @phaseId AND state = 'QUEUED'`,
        { ...key, now },
      ) === 1
    );
  }
  const r = await pgQuery(
    t,
    `UPDATE phases SET state = 'EXECUTING', started_at = ${PG_NOW_UTC}, last_attempt_timestamp = ${PG_NOW_UTC},
            updated_at = ${PG_NOW_UTC}
      WHERE run_id = $1 AND phase_id = $2 AND state = 'QUEUED'`,
    [key.runId, key.phaseId],
  );
  return r.rowCount === 1;
}

/**
 * Sets a phase's state and failure reason whatever it was (an executor ending a phase, or a
 * test's executor acting one out); COMPLETE also sets completed_at. Returns the rows changed.
 */
export async function setPhaseState(
  t: AutopackTarget,
  key: PhaseKey,
  state: string,
  reason: string | null = null,
): Promise<number> {
  const completed = state === 'COMPLETE';
  if (isSqlite(t))
    return sqliteWrite(
      t,
      `UPDATE phases SET state = @state, last_failure_reason = @reason, updated_at = @now,
              completed_at = CASE WHEN @completed THEN @now ELSE completed_at END
        WHERE run_id = @runId AND phase_id = @phaseId`,
      { ...key, state, reason, completed: bit(completed), now: nowText() },
    );
  // $3 is typed by the server as the state column (enum or text).
  const r = await pgQuery(
    t,
    `UPDATE phases SET state = $3, last_failure_reason = $4, updated_at = ${PG_NOW_UTC},
            completed_at = CASE WHEN $5::boolean THEN ${PG_NOW_UTC} ELSE completed_at END
      WHERE run_id = $1 AND phase_id = $2`,
    [key.runId, key.phaseId, state, reason, completed],
  );
  return r.rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------
// Telemetry events, and the tokens the model call spent.

export interface EstimationEvent {
  category: string;
  complexity: string;
  deliverableCount: number;
  predictedOutputTokens: number;
  actualOutputTokens: number;
  success: boolean;
}

export interface EscalationEvent {
  attemptIndex: number;
  /** The max_tokens the truncated attempt had. */
  baseValue: number;
  /** Output tokens of the truncated call (added to the phase's and run's tokens_used); null: none recorded. */
  tokensUsed: number | null;
}

const PG_ADD_TOKENS = (n: string) => `
  phase_tokens AS (
    UPDATE phases SET tokens_used = tokens_used + ${n}, updated_at = ${PG_NOW_UTC}
     WHERE run_id = $1 AND phase_id = $2 AND ${n} > 0)
  UPDATE runs SET tokens_used = tokens_used + ${n}, updated_at = ${PG_NOW_UTC} WHERE id = $1 AND ${n} > 0`;
const SQLITE_ADD_PHASE_TOKENS = `UPDATE phases SET tokens_used = tokens_used + @tokens, updated_at = @now
  WHERE run_id = @runId AND phase_id = @phaseId`;
const SQLITE_ADD_RUN_TOKENS = `UPDATE runs SET tokens_used = tokens_used + @tokens, updated_at = @now WHERE id = @runId`;

/** The budget a call was given for a prediction (Autopack selects one above the estimate). */
export const selectedBudget = (predicted: number) => Math.max(1024, Math.ceil((predicted * 1.2) / 256) * 256);

function estimationColumns(e: EstimationEvent) {
  const budget = selectedBudget(e.predictedOutputTokens);
  const p = e.predictedOutputTokens;
  const a = e.actualOutputTokens;
  return {
    category: e.category,
    complexity: e.complexity,
    deliverableCount: e.deliverableCount,
    deliverablesJson: JSON.stringify(
      Array.from({ length: e.deliverableCount }, (_, i) => `deliverable_${i + 1}`),
    ),
    predicted: p,
    actual: a,
    budget,
    success: e.success,
    smape: p + a > 0 ? (200 * Math.abs(p - a)) / (p + a) : 0,
    waste: a > 0 ? p / a : null,
    underestimated: a > p,
  };
}

/** One token_estimation_v2_events row; its actual output tokens are added to the phase and run. */
export async function insertEstimationEvent(
  t: AutopackTarget,
  key: PhaseKey,
  e: EstimationEvent,
): Promise<void> {
  const c = estimationColumns(e);
  const cols = `run_id, phase_id, timestamp, category, complexity, deliverable_count, deliverables_json,
     predicted_output_tokens, actual_output_tokens, selected_budget, actual_max_tokens, success, truncated,
     stop_reason, model, smape_percent, waste_ratio, underestimated, is_truncated_output, created_at`;
  if (isSqlite(t)) {
    const now = nowText();
    const insert = t.prepare(
      `INSERT INTO token_estimation_v2_events (${cols})
       VALUES (@runId, @phaseId, @now, @category, @complexity, @deliverableCount, @deliverablesJson, @predicted,
               @actual, @budget, @budget, @success, 0, 'end_turn', '${SIM_MODEL}', @smape, @waste,
               @underestimated, 0, @now)`,
    );
    const phase = t.prepare(SQLITE_ADD_PHASE_TOKENS);
    const run = t.prepare(SQLITE_ADD_RUN_TOKENS);
    t.transaction(() => {
      insert.run({ ...key, ...c, success: bit(c.success), underestimated: bit(c.underestimated), now });
      if (c.actual > 0) {
        phase.run({ ...key, tokens: c.actual, now });
        run.run({ ...key, tokens: c.actual, now });
      }
    }).immediate();
    return;
  }
  await pgQuery(
    t,
    `WITH event AS (
       INSERT INTO token_estimation_v2_events (${cols})
       VALUES ($1, $2, ${PG_NOW_UTC}, $3, $4, $5, $6, $7, $8::int, $9, $9, $10, false, 'end_turn', '${SIM_MODEL}',
               $11, $12, $13, false, ${PG_NOW_UTC})),
     ${PG_ADD_TOKENS('$8::int')}`,
    [
      key.runId,
      key.phaseId,
      c.category,
      c.complexity,
      c.deliverableCount,
      c.deliverablesJson,
      c.predicted,
      c.actual,
      c.budget,
      c.success,
      c.smape,
      c.waste,
      c.underestimated,
    ],
  );
}

/** Autopack's retry budget after a truncation: twice the base, at most 64k. */
export const retryMaxTokens = (base: number) => Math.min(base * 2, 64_000);

/** One token_budget_escalation_events row (a truncated attempt); its tokens are added to the phase and run. */
export async function insertEscalationEvent(
  t: AutopackTarget,
  key: PhaseKey,
  e: EscalationEvent,
): Promise<void> {
  const cols = `run_id, phase_id, timestamp, attempt_index, reason, was_truncated, output_utilization,
     escalation_factor, base_value, base_source, retry_max_tokens, selected_budget, actual_max_tokens, tokens_used`;
  const tokens = e.tokensUsed ?? 0;
  const retry = retryMaxTokens(e.baseValue);
  if (isSqlite(t)) {
    const now = nowText();
    const insert = t.prepare(
      `INSERT INTO token_budget_escalation_events (${cols})
       VALUES (@runId, @phaseId, @now, @attempt, 'truncation', 1, 1.0, 2.0, @base, 'selected_budget', @retry,
               @base, @base, @tokensUsed)`,
    );
    const phase = t.prepare(SQLITE_ADD_PHASE_TOKENS);
    const run = t.prepare(SQLITE_ADD_RUN_TOKENS);
    t.transaction(() => {
      insert.run({
        ...key,
        attempt: e.attemptIndex,
        base: e.baseValue,
        retry,
        tokensUsed: e.tokensUsed,
        now,
      });
      if (tokens > 0) {
        phase.run({ ...key, tokens, now });
        run.run({ ...key, tokens, now });
      }
    }).immediate();
    return;
  }
  await pgQuery(
    t,
    `WITH event AS (
       INSERT INTO token_budget_escalation_events (${cols})
       VALUES ($1, $2, ${PG_NOW_UTC}, $3, 'truncation', true, 1.0, 2.0, $4, 'selected_budget', $5, $4, $4, $6)),
     ${PG_ADD_TOKENS('$7::int')}`,
    [key.runId, key.phaseId, e.attemptIndex, e.baseValue, retry, e.tokensUsed, tokens],
  );
}

/** Output tokens of model calls whose telemetry rows are not written: the phase's and run's tokens_used. */
export async function addTokens(t: AutopackTarget, key: PhaseKey, tokens: number): Promise<void> {
  if (!(tokens > 0)) return;
  if (isSqlite(t)) {
    const now = nowText();
    const phase = t.prepare(SQLITE_ADD_PHASE_TOKENS);
    const run = t.prepare(SQLITE_ADD_RUN_TOKENS);
    t.transaction(() => {
      phase.run({ ...key, tokens, now });
      run.run({ ...key, tokens, now });
    }).immediate();
    return;
  }
  await pgQuery(t, `WITH ${PG_ADD_TOKENS('$3::int')}`, [key.runId, key.phaseId, tokens]);
}
