/** The executor's phase transitions on Autopack's phases table, both dialects (see src/sim/autopack-rows.ts). */
import {
  isSqlite,
  pgQuery,
  PG_NOW_UTC,
  nowText,
  bit,
  sqliteWrite,
  type AutopackTarget,
  type PhaseKey,
} from './autopack-target.js';

// ---------------------------------------------------------------------------------------
// The executor's phase transitions. A phase is addressed by (run_id, phase_id).

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
