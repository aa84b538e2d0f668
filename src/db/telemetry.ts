import type { Queryable } from './pool.js';

/** The telemetry tables whose rows count as telemetry events. */
export const TELEMETRY_TABLES = ['token_estimation_v2_events', 'token_budget_escalation_events'] as const;

export interface TelemetryCounts {
  /** Rows for one run/phase in both telemetry tables. */
  phase: number;
  /** Rows in both telemetry tables overall. */
  global: number;
  /** Rows for the run/phase per table. */
  byTable: Record<string, number>;
}

/**
 * Telemetry rows for one run/phase in both tables: indexed, unlike the overall counts of
 * phaseFacts (which counts both tables whole), so cheap enough to ask every second while an
 * executor runs (--stall-seconds).
 */
export async function countPhaseTelemetry(db: Queryable, runId: string, phaseId: string): Promise<number> {
  const res = await db.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM token_estimation_v2_events WHERE run_id = $1 AND phase_id = $2)
          + (SELECT count(*) FROM token_budget_escalation_events WHERE run_id = $1 AND phase_id = $2) AS n`,
    [runId, phaseId],
  );
  return Number(res.rows[0].n);
}

/** Per-table difference after − before (never negative). */
export function tableDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    TELEMETRY_TABLES.map((t) => [t, Math.max(0, (after[t] ?? 0) - (before[t] ?? 0))]),
  );
}
