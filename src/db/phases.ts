import type { Queryable } from './pool.js';

export interface PhaseRow {
  run_id: string;
  phase_id: string;
  state: string;
  last_failure_reason: string | null;
  updated_at: Date | null;
}

export async function getPhase(db: Queryable, runId: string, phaseId: string): Promise<PhaseRow | null> {
  const res = await db.query<PhaseRow>(
    `SELECT run_id, phase_id, state, last_failure_reason, updated_at
     FROM phases WHERE run_id = $1 AND phase_id = $2`,
    [runId, phaseId],
  );
  return res.rows[0] ?? null;
}

export interface BacklogCounts {
  runs: number;
  phases: number;
  byState: Record<string, number>;
}

/** Counts for the DB identity banner. */
export async function backlogCounts(db: Queryable): Promise<BacklogCounts> {
  const res = await db.query<{ state: string | null; n: string; runs: string }>(
    `SELECT s.state, s.n, (SELECT count(*) FROM runs) AS runs
     FROM (SELECT state, count(*) AS n FROM phases GROUP BY state) s
     UNION ALL SELECT NULL, 0, (SELECT count(*) FROM runs)`,
  );
  const byState: Record<string, number> = {};
  let phases = 0;
  for (const r of res.rows) {
    if (r.state === null) continue;
    byState[r.state] = Number(r.n);
    phases += Number(r.n);
  }
  return { runs: Number(res.rows[0]?.runs ?? 0), phases, byState };
}

/**
 * Hands a phase whose executor we stopped back to selection: FAILED with our reason, only if it
 * is still non-terminal (an executor that finished it meanwhile wins). Returns whether it did.
 */
export async function handBackStrandedPhase(
  db: Queryable,
  runId: string,
  phaseId: string,
  reason: string,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE phases SET state = 'FAILED', last_failure_reason = $3, updated_at = (now() AT TIME ZONE 'UTC')
     WHERE run_id = $1 AND phase_id = $2 AND state NOT IN ('COMPLETE', 'FAILED', 'SKIPPED')`,
    [runId, phaseId, reason],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * phases.tokens_used and runs.tokens_used of one phase and its run, in one statement. A backlog
 * without the column (older schemas) gives null for it, never 0: the row is read as JSON, so the
 * statement is valid whether the column exists or not.
 */
export async function tokensOf(
  db: Queryable,
  runId: string,
  phaseId: string,
): Promise<{ phase: number | null; run: number | null }> {
  const res = await db.query<{ phase: string | null; run: string | null }>(
    `SELECT (SELECT (to_jsonb(p) ->> 'tokens_used')::bigint FROM phases p
              WHERE p.run_id = $1 AND p.phase_id = $2) AS phase,
            (SELECT (to_jsonb(r) ->> 'tokens_used')::bigint FROM runs r WHERE r.id = $1) AS run`,
    [runId, phaseId],
  );
  const r = res.rows[0];
  const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return { phase: num(r?.phase), run: num(r?.run) };
}
