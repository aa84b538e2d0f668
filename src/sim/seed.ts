/**
 * Backlog seeding for the demo, the tests and the benchmarks: hand-written phases that act
 * out sim scenarios (seedPhases / sampleBacklog), and bulk synthetic backlogs (seedSynthetic).
 */
import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import { PHASE_STATES } from '../domain/types.js';
import { sampleBacklog } from './sample.js';

export { sampleBacklog } from './sample.js';

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
 * Upserts the runs and phases (ON CONFLICT (run_id, phase_id) DO UPDATE: seeding twice is
 * safe and resets the phases to their seeded state). A later seed of the same key wins.
 */
export async function seedPhases(pool: Queryable, specs: readonly PhaseSeed[]): Promise<SeedCounts> {
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
  await pool.query(
    `INSERT INTO runs (id, state)
     SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
    [[...runStates.keys()], [...runStates.values()]],
  );
  await pool.query(
    `INSERT INTO phases (run_id, phase_id, phase_index, name, description, state, last_failure_reason,
                         task_category, complexity, phase_type, scope)
     SELECT r, p, i, n, d, s, f, c, x, 'implementation', j::json
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::text[], $10::text[]) AS t(r, p, i, n, d, s, f, c, x, j)
     ON CONFLICT (run_id, phase_id) DO UPDATE SET
       phase_index = EXCLUDED.phase_index, name = EXCLUDED.name, description = EXCLUDED.description,
       state = EXCLUDED.state, last_failure_reason = EXCLUDED.last_failure_reason,
       task_category = EXCLUDED.task_category, complexity = EXCLUDED.complexity,
       scope = EXCLUDED.scope, started_at = NULL, completed_at = NULL, updated_at = now()`,
    [
      rows.map((r) => r.runId),
      rows.map((r) => r.phaseId),
      rows.map((r) => r.phaseIndex),
      rows.map((r) => r.name ?? r.phaseId),
      rows.map((r) => r.description ?? null),
      rows.map((r) => r.state),
      rows.map((r) => r.lastFailureReason ?? null),
      rows.map((r) => r.taskCategory ?? 'implementation'),
      rows.map((r) => r.complexity ?? 'medium'),
      rows.map((r) => (r.sim === undefined ? null : JSON.stringify({ sim: r.sim }))),
    ],
  );
  return { runs: runStates.size, phases: rows.length };
}

export function seedSample(pool: Queryable): Promise<SeedCounts> {
  return seedPhases(pool, sampleBacklog());
}

export interface SyntheticOptions {
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
export const SYNTHETIC_REASONS: readonly (string | null)[] = [
  null,
  "CI collection/import error: ModuleNotFoundError: No module named 'autopack.research'",
  'Missing deliverables: src/autopack/research/gatherers/web.py',
  'Patch application failed: hunk #1 FAILED at 42',
  'No-op patch: builder produced no changes',
  'Phase timed out after 900s',
  'TOKEN_ESCALATION: output truncated at max_tokens',
  'Builder returned invalid JSON',
];

function isPool(p: Queryable): p is pg.Pool {
  return 'totalCount' in p && typeof (p as pg.Pool).connect === 'function';
}

/** $1 prefix, $2 phases, $3 runs, $4 FAILED buckets (of 10,000), $5 reasons. Counts rows per state. */
const SYNTHETIC_PHASES_SQL = `WITH src AS (
       SELECT g, (g::bigint * 7919 + 17) % 10000 AS bucket FROM generate_series(1, $2::int) AS g
     ), ins AS (
       INSERT INTO phases (run_id, phase_id, phase_index, name, state, last_failure_reason,
                           task_category, complexity, phase_type)
       SELECT $1 || '-run-' || lpad((((g - 1) % $3::int) + 1)::text, 6, '0'),
              $1 || '-phase-' || lpad(g::text, 7, '0'),
              (g - 1) / $3::int,
              'synthetic phase ' || g,
              CASE WHEN bucket < $4::int THEN 'FAILED' WHEN bucket < $4::int + 200 THEN 'QUEUED' ELSE 'COMPLETE' END,
              CASE WHEN bucket < $4::int THEN ($5::text[])[1 + (g % array_length($5::text[], 1))] END,
              (ARRAY['implementation','tests','docs','refactor'])[1 + g % 4],
              (ARRAY['low','medium','high'])[1 + g % 3],
              'implementation'
         FROM src
       ON CONFLICT (run_id, phase_id) DO UPDATE SET
         state = EXCLUDED.state, last_failure_reason = EXCLUDED.last_failure_reason,
         phase_index = EXCLUDED.phase_index, started_at = NULL, completed_at = NULL, updated_at = now()
       RETURNING state
     )
     SELECT state, count(*) AS n FROM ins GROUP BY state`;

/**
 * Bulk insert of a deterministic synthetic backlog with one INSERT … SELECT FROM
 * generate_series (for benchmarks: ~1,000,000 phases in seconds). Phase g belongs to run
 * ((g-1) mod runs)+1; its state comes from a fixed scramble of g. Re-seeding resets the rows.
 */
export async function seedSynthetic(pool: Queryable, o: SyntheticOptions): Promise<SyntheticCounts> {
  const failed = o.failedFraction ?? 0.1;
  const prefix = o.prefix ?? 'synth';
  if (!Number.isInteger(o.phases) || o.phases < 0)
    throw new Error('seedSynthetic: phases must be an integer >= 0');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('seedSynthetic: runs must be an integer >= 1');
  if (!(failed >= 0 && failed <= 0.98))
    throw new Error('seedSynthetic: failedFraction must be within [0, 0.98]');
  if (o.phases === 0) return { runs: 0, phases: 0, byState: {} };
  const runs = Math.min(o.runs, o.phases);
  await pool.query(
    `INSERT INTO runs (id, state)
     SELECT $1 || '-run-' || lpad(g::text, 6, '0'), 'DONE_FAILED_REQUIRES_HUMAN_REVIEW'
       FROM generate_series(1, $2::int) AS g
     ON CONFLICT (id) DO NOTHING`,
    [prefix, runs],
  );
  const params = [prefix, o.phases, runs, Math.round(failed * 10_000), SYNTHETIC_REASONS];
  // On a pool: one transaction on one connection and, where allowed (a superuser, e.g. the
  // embedded Postgres), without the per-row foreign-key checks: every run exists (just above).
  const client = isPool(pool) ? await pool.connect() : null;
  let r: pg.QueryResult<{ state: string; n: string }>;
  try {
    if (client) {
      await client.query('BEGIN');
      await client.query('SAVEPOINT fk');
      await client
        .query("SET LOCAL session_replication_role = 'replica'")
        .catch(() => client.query('ROLLBACK TO SAVEPOINT fk'));
    }
    r = await (client ?? pool).query(SYNTHETIC_PHASES_SQL, params);
    if (client) await client.query('COMMIT');
  } catch (e) {
    if (client) await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client?.release();
  }
  await pool.query('ANALYZE phases');
  const byState: Record<string, number> = {};
  for (const row of r.rows) byState[row.state] = Number(row.n);
  return { runs, phases: o.phases, byState };
}
