/**
 * What a try reads of the backlog at its start and at its end, in one statement: the phase
 * row, its run's phases by state, the telemetry rows (the phase's per table, and both tables
 * overall) and the tokens_used counters. One read per side of a try (issue 19: it was four),
 * and one snapshot: the counts and the row are of the same moment.
 */
import type { Queryable } from './pool.js';
import type { PhaseRow } from './phases.js';
import { TELEMETRY_TABLES, type TelemetryCounts } from './telemetry.js';
import type { TokenCounters } from '../domain/tokens.js';

export interface PhaseFacts {
  /** The phase row (null: no such phase). */
  phase: PhaseRow | null;
  /** The run's phases by state. */
  runCounts: Record<string, number>;
  telemetry: TelemetryCounts;
  /** phases.tokens_used and runs.tokens_used (null: the backlog has no such column, or no row). */
  tokens: TokenCounters;
}

interface FactsRow {
  run_id: string | null;
  phase_id: string | null;
  state: string | null;
  last_failure_reason: string | null;
  updated_at: Date | null;
  phase_tokens: string | null;
  run_tokens: string | null;
  est: string;
  esc: string;
  global: string;
  run_counts: Record<string, string | number> | null;
}

const num = (v: string | number | null | undefined) => (v === null || v === undefined ? null : Number(v));

/**
 * The facts from their parts as read (both dialects): counts as numbers, the per-table telemetry
 * keyed by table name. `phase` is null when the row is missing.
 */
export function factsFrom(r: {
  phase: PhaseRow | null;
  runCounts: Record<string, string | number> | null;
  est: string | number;
  esc: string | number;
  global: string | number;
  phaseTokens: string | number | null;
  runTokens: string | number | null;
}): PhaseFacts {
  const byTable = { [TELEMETRY_TABLES[0]]: Number(r.est), [TELEMETRY_TABLES[1]]: Number(r.esc) };
  return {
    phase: r.phase,
    runCounts: Object.fromEntries(Object.entries(r.runCounts ?? {}).map(([s, n]) => [s, Number(n)])),
    telemetry: { phase: Number(r.est) + Number(r.esc), global: Number(r.global), byTable },
    tokens: { phase: num(r.phaseTokens), run: num(r.runTokens) },
  };
}

/**
 * The facts of one phase in a PostgreSQL backlog. tokens_used is read through the row as JSON,
 * so the statement is valid on older schemas without the column (null, never 0).
 */
export async function phaseFacts(db: Queryable, runId: string, phaseId: string): Promise<PhaseFacts> {
  const res = await db.query<FactsRow>(
    `SELECT p.run_id, p.phase_id, p.state, p.last_failure_reason, p.updated_at,
       (to_jsonb(p) ->> 'tokens_used')::bigint AS phase_tokens,
       (SELECT (to_jsonb(r) ->> 'tokens_used')::bigint FROM runs r WHERE r.id = $1) AS run_tokens,
       (SELECT count(*) FROM token_estimation_v2_events WHERE run_id = $1 AND phase_id = $2) AS est,
       (SELECT count(*) FROM token_budget_escalation_events WHERE run_id = $1 AND phase_id = $2) AS esc,
       (SELECT count(*) FROM token_estimation_v2_events)
         + (SELECT count(*) FROM token_budget_escalation_events) AS global,
       (SELECT json_object_agg(s.state, s.n)
          FROM (SELECT state, count(*) AS n FROM phases WHERE run_id = $1 GROUP BY state) s) AS run_counts
     FROM (SELECT 1) AS one LEFT JOIN phases p ON p.run_id = $1 AND p.phase_id = $2`,
    [runId, phaseId],
  );
  const r = res.rows[0];
  // No row: every column of the LEFT JOIN's phase is null (run_id is never null in a row).
  const { run_id, phase_id, state, last_failure_reason, updated_at } = r;
  return factsFrom({
    phase:
      run_id === null ? null : ({ run_id, phase_id, state, last_failure_reason, updated_at } as PhaseRow),
    runCounts: r.run_counts,
    est: r.est,
    esc: r.esc,
    global: r.global,
    phaseTokens: r.phase_tokens,
    runTokens: r.run_tokens,
  });
}
