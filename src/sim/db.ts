/**
 * The reference executor's SQL: Autopack's phase transitions and telemetry rows, one
 * statement per function. A phase is always addressed by the pair (run_id, phase_id).
 */
import type pg from 'pg';

export interface PhaseKey {
  runId: string;
  phaseId: string;
}

export interface SimPhase extends PhaseKey {
  state: string;
  lastFailureReason: string | null;
  scope: unknown;
  name: string | null;
  taskCategory: string | null;
  complexity: string | null;
}

type Db = Pick<pg.Client, 'query'>;

export async function loadPhase(db: Db, key: PhaseKey): Promise<SimPhase | null> {
  const r = await db.query(
    `SELECT state, last_failure_reason, scope, name, task_category, complexity
       FROM phases WHERE run_id = $1 AND phase_id = $2`,
    [key.runId, key.phaseId],
  );
  const row = r.rows[0];
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
export async function requeuePhase(db: Db, key: PhaseKey, fromState: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE phases SET state = 'QUEUED', last_failure_reason = NULL, started_at = NULL,
            completed_at = NULL, updated_at = now()
      WHERE run_id = $1 AND phase_id = $2 AND state = $3`,
    [key.runId, key.phaseId, fromState],
  );
  return r.rowCount === 1;
}

/** QUEUED → EXECUTING. False if the phase was not QUEUED any more (another executor took it). */
export async function startPhase(db: Db, key: PhaseKey): Promise<boolean> {
  const r = await db.query(
    `UPDATE phases SET state = 'EXECUTING', started_at = now(), updated_at = now()
      WHERE run_id = $1 AND phase_id = $2 AND state = 'QUEUED'`,
    [key.runId, key.phaseId],
  );
  return r.rowCount === 1;
}

export async function finishPhase(
  db: Db,
  key: PhaseKey,
  state: 'COMPLETE' | 'FAILED',
  reason: string | null,
): Promise<void> {
  await db.query(
    `UPDATE phases SET state = $3, last_failure_reason = $4, updated_at = now(),
            completed_at = CASE WHEN $3 = 'COMPLETE' THEN now() ELSE completed_at END
      WHERE run_id = $1 AND phase_id = $2`,
    [key.runId, key.phaseId, state, state === 'COMPLETE' ? null : reason],
  );
}

export interface EstimationEvent {
  category: string;
  complexity: string;
  deliverableCount: number;
  predictedOutputTokens: number;
  actualOutputTokens: number;
  success: boolean;
}

export async function insertEstimationEvent(db: Db, key: PhaseKey, e: EstimationEvent): Promise<void> {
  await db.query(
    `INSERT INTO token_estimation_v2_events
       (run_id, phase_id, timestamp, category, complexity, deliverable_count,
        predicted_output_tokens, actual_output_tokens, success)
     VALUES ($1, $2, now(), $3, $4, $5, $6, $7, $8)`,
    [
      key.runId,
      key.phaseId,
      e.category,
      e.complexity,
      e.deliverableCount,
      e.predictedOutputTokens,
      e.actualOutputTokens,
      e.success,
    ],
  );
}

export async function insertEscalationEvent(
  db: Db,
  key: PhaseKey,
  attemptIndex: number,
  baseValue: number,
): Promise<void> {
  await db.query(
    `INSERT INTO token_budget_escalation_events
       (run_id, phase_id, timestamp, attempt_index, reason, was_truncated, base_value, retry_max_tokens)
     VALUES ($1, $2, now(), $3, 'truncation', true, $4, $5)`,
    [key.runId, key.phaseId, attemptIndex, baseValue, Math.min(baseValue * 2, 64_000)],
  );
}
