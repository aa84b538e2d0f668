import type { Queryable } from './pool.js';

export interface TelemetryCounts {
  /** Rows for one run/phase in both telemetry tables. */
  phase: number;
  /** Rows in both telemetry tables overall. */
  global: number;
}

/** Counts telemetry rows for a phase and overall (token_estimation_v2 + token_budget_escalation). */
export async function countTelemetry(
  db: Queryable,
  runId: string,
  phaseId: string,
): Promise<TelemetryCounts> {
  const res = await db.query<{ phase: string; global: string }>(
    `SELECT
       (SELECT count(*) FROM token_estimation_v2_events WHERE run_id = $1 AND phase_id = $2)
     + (SELECT count(*) FROM token_budget_escalation_events WHERE run_id = $1 AND phase_id = $2) AS phase,
       (SELECT count(*) FROM token_estimation_v2_events)
     + (SELECT count(*) FROM token_budget_escalation_events) AS global`,
    [runId, phaseId],
  );
  return { phase: Number(res.rows[0].phase), global: Number(res.rows[0].global) };
}

/** Telemetry rows written for a phase since a moment (used when reconciling after a crash). */
export async function countTelemetrySince(
  db: Queryable,
  runId: string,
  phaseId: string,
  since: string,
): Promise<number> {
  const res = await db.query<{ n: string }>(
    `SELECT
       (SELECT count(*) FROM token_estimation_v2_events WHERE run_id = $1 AND phase_id = $2 AND timestamp >= $3)
     + (SELECT count(*) FROM token_budget_escalation_events WHERE run_id = $1 AND phase_id = $2 AND timestamp >= $3) AS n`,
    [runId, phaseId, since],
  );
  return Number(res.rows[0].n);
}
