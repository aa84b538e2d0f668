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
import type Database from 'better-sqlite3';
import {
  isSqlite,
  pgQuery,
  pgTransaction,
  PG_NOW_UTC,
  nowText,
  RUN_DEFAULTS,
  TIER_ID,
  tierStateOf,
  type AutopackTarget,
  type RunSpec,
  type PhaseSpec,
} from './autopack-target.js';

export {
  isSqlite,
  PG_NOW_UTC,
  RUN_DEFAULTS,
  SIM_MODEL,
  TIER_ID,
  tierStateOf,
  type AutopackTarget,
  type PgTarget,
  type PhaseKey,
  type PhaseSpec,
  type RunSpec,
} from './autopack-target.js';
export * from './autopack-telemetry.js';
export * from './autopack-phase-state.js';
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
