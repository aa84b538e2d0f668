/**
 * What the selection statements know of the session's own progress — which phases it attempted
 * (and how often) and which it finished — as SQL fragments over a candidate row `p`, from one of
 * two sources:
 *   - records (a real session): index probes into the session's drain_attempts rows
 *     (drain_attempts_session_phase_idx, migration 012), so a pick reads a few index entries per
 *     candidate it looks at, never the session's whole list of attempts;
 *   - arrays (a dry run, which writes no rows): the parallel arrays :attemptedRuns /
 *     :attemptedPhases / :attemptCounts and :doneRuns / :donePhases from the session state.
 * Both give the same answers for the same progress (a phase is attempted when it has a row with
 * attempt > 0, done when one of its rows succeeded and was judged).
 * Also here: the runs the session's other slots hold, which are no candidates at all.
 */

/** A row of this session for candidate `p`, by the session's phase index. */
const OWN_ROWS = `drain_attempts x WHERE x.session_id = :sessionId AND x.run_id = p.run_id AND x.phase_id = p.phase_id`;

/** The condition that one of those rows is a judged success. */
const DONE_ROW = `x.success IS TRUE AND x.status IN ('finished', 'reconciled')`;

/** `p` was not finished by this session. */
export function notDone(records: boolean): string {
  return records
    ? `NOT EXISTS (SELECT 1 FROM ${OWN_ROWS} AND ${DONE_ROW})`
    : // NOT IN with a constant list is a hashed subplan; it equals NOT EXISTS (no NULL element).
      `(p.run_id, p.phase_id) NOT IN (SELECT d.r, d.ph FROM unnest(:doneRuns::text[], :donePhases::text[]) AS d(r, ph))`;
}

/** `p` was never attempted this session. */
export function notAttempted(records: boolean): string {
  return records
    ? `NOT EXISTS (SELECT 1 FROM ${OWN_ROWS} AND x.attempt > 0)`
    : `(p.run_id, p.phase_id) NOT IN (SELECT a.r, a.ph FROM unnest(:attemptedRuns::text[], :attemptedPhases::text[], :attemptCounts::int[]) AS a(r, ph, n) WHERE a.n > 0)`;
}

/** Join `a` with `a.n`: the highest attempt number of `p` this session (NULL or 0: none). */
export function attemptsJoin(records: boolean): string {
  return records
    ? `LEFT JOIN LATERAL (SELECT max(x.attempt)::int AS n FROM ${OWN_ROWS}) a ON true`
    : `LEFT JOIN unnest(:attemptedRuns::text[], :attemptedPhases::text[], :attemptCounts::int[]) AS a(run_id, phase_id, n)
      ON a.run_id = p.run_id AND a.phase_id = p.phase_id`;
}

/** Rows (r, ph) of the phases attempted this session (the retry candidates; few per session). */
export function attemptedPhases(records: boolean): string {
  return records
    ? `(SELECT DISTINCT x.run_id AS r, x.phase_id AS ph FROM drain_attempts x
         WHERE x.session_id = :sessionId AND x.attempt > 0)`
    : `(SELECT a.r, a.ph FROM unnest(:attemptedRuns::text[], :attemptedPhases::text[], :attemptCounts::int[]) AS a(r, ph, n)
         WHERE a.n > 0)`;
}

/**
 * Not a run this session's other slots are draining: those the workflow knows (:busyRuns), and
 * with :ownLeasesBusy (slots that pick in parallel) every run this session holds a live lease
 * on — a pick of another slot may have leased it a moment ago, before the workflow saw it.
 */
export const NOT_BUSY = `NOT (p.run_id = ANY(:busyRuns::text[]))
    AND NOT (:ownLeasesBusy::boolean AND EXISTS (SELECT 1 FROM drain_leases o
              WHERE o.run_id = p.run_id AND o.session_id = :sessionId AND o.expires_at > now()))`;
