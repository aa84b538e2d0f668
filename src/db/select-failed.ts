/**
 * FAILED-phase selection: one statement that returns the pick and the phases passed over
 * ahead of it, without scoring and sorting every FAILED phase of a large backlog.
 *
 * Selection order of the FAILED phases (not done, within the run filter $2):
 *   (retry, grp, rank, phase_index, id)
 *   retry = attempted this session (0/1); grp = triage group: 0 run not sampled,
 *   1 promising, 2 other sampled, 3 deprioritized; rank = drain_failure_rank(reason)
 *   (migration 003, = categoryRank(categorizeFailure(reason))). id makes the order total.
 * The answer is the first phase in that order without a skip reason (the pick), and the
 * skipped phases ranked ahead of it that are among the first $17 (all skipped phases among
 * the first $17 when there is no pick).
 *
 * Why candidates instead of a full sort. Call FRONT the phases with retry = 0 and grp = 0:
 * never attempted this session, run neither sampled nor deprioritized (the bulk of a
 * backlog). Every FRONT phase sorts before every other phase, and within FRONT the order is
 * (rank, phase_index, id): exactly the partial index phases_failed_rank_idx. The statement
 * numbers only the union of
 *   (1) the first $17 FRONT phases (index order, LIMIT $17),
 *   (2) the first FRONT phase without a skip reason (index order, LIMIT 1),
 *   (3) every phase of a sampled or deprioritized run, and (4) every attempted phase (few),
 * with the same ordering, and applies the same final step. That gives the same rows:
 *   - The union holds the first min($17, |FRONT|) phases of the full order (all phases when
 *     |FRONT| < $17: then (1) is all of FRONT and (3)+(4) the rest), so the first $17
 *     positions hold the same phases in both numberings; every other row of the union
 *     ranks after all of them in both. A row beyond position $17 is never passed over.
 *   - The pick is the same. If some FRONT phase has no skip reason, the first one is in (2)
 *     and everything ahead of it in the full order is a skipped FRONT phase, so it is also
 *     the first unskipped row of the union. Otherwise the FRONT candidates are all skipped
 *     and the pick is the first unskipped phase of (3)+(4), which are complete and in order.
 *   - So the pick is either at the same position in both numberings or after position $17
 *     in both, and "skipped, ahead of the pick, within $17" selects the same rows.
 * (2) needs the skip test as a boolean on the FRONT row itself (FRONT_SKIPPED), written as
 * index probes so the walk stops at the first phase that is not skipped. It is exactly
 * SKIP_REASON IS NOT NULL given what selectionParams guarantees: parallel arrays of equal
 * length without NULL elements, and maxAttemptsPerPhase >= 1 (parseDrainInput), so the
 * attempts branch never fires for a FRONT phase (its count is absent or 0).
 */
import type { Queryable } from './pool.js';
import type { SelectParams } from '../domain/selection.js';
import {
  baseParams,
  PICK_AND_SKIPS,
  SKIP_REASON,
  toResult,
  type Row,
  type SelectResult,
} from './select-shared.js';

/**
 * Not done this session. NOT IN with a constant list is a hashed subplan (cheap per row
 * during the index walk); it equals NOT EXISTS here since no column or element is NULL.
 */
const NOT_DONE = `(p.run_id, p.phase_id) NOT IN (SELECT d.r, d.ph FROM unnest($10::text[], $11::text[]) AS d(r, ph))`;

/** Not a run another slot of this session is draining (those are no candidates at all). */
const NOT_BUSY = `NOT (p.run_id = ANY($18::text[]))`;

/** FAILED, in the run filter, not done, never attempted, run neither sampled nor deprioritized. */
const FRONT = `p.state = 'FAILED' AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_BUSY}
    AND NOT (p.run_id = ANY($14::text[])) AND NOT (p.run_id = ANY($16::text[]))
    AND (p.run_id, p.phase_id) NOT IN (SELECT a.r, a.ph FROM unnest($7::text[], $8::text[], $9::int[]) AS a(r, ph, n) WHERE a.n > 0)
    AND ${NOT_DONE}`;

/** Order within FRONT: the key of phases_failed_rank_idx. */
const FRONT_ORDER = `drain_failure_rank(p.last_failure_reason), p.phase_index, p.id`;

/**
 * SKIP_REASON IS NOT NULL for a FRONT phase: skip prefix, stopped run, queued phases in the
 * run (skipRunsWithQueued), lease held by another session (see above for the attempt limit).
 * `= ANY($12)` with a constant array is hashed, so many stopped runs stay cheap.
 */
const FRONT_SKIPPED = `(
       (cardinality($5::text[]) > 0 AND EXISTS (SELECT 1 FROM unnest($5::text[]) AS x WHERE starts_with(p.run_id, x)))
    OR p.run_id = ANY($12::text[])
    OR ($4::boolean AND EXISTS (SELECT 1 FROM phases q WHERE q.run_id = p.run_id AND q.state = 'QUEUED'))
    OR EXISTS (SELECT 1 FROM drain_leases l WHERE l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> $1))`;

const COLS = `p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason`;

/** Everything but FRONT within the same filter, by the two ways a phase leaves FRONT. */
const REST = `
    SELECT ${COLS} FROM phases p
     WHERE p.state = 'FAILED' AND p.run_id = ANY($14::text[] || $16::text[])
       AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_BUSY} AND ${NOT_DONE}
    UNION
    SELECT ${COLS}
      FROM unnest($7::text[], $8::text[], $9::int[]) AS a(r, ph, n)
      JOIN phases p ON p.run_id = a.r AND p.phase_id = a.ph
     WHERE a.n > 0 AND p.state = 'FAILED' AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_BUSY}
       AND ${NOT_DONE}`;

/**
 * Per-candidate inputs of SKIP_REASON. The queued-phase count is a per-run probe
 * (phases_run_state_idx) instead of a count over every QUEUED phase.
 */
const JOINS = `
    LEFT JOIN unnest($7::text[], $8::text[], $9::int[]) AS a(run_id, phase_id, n)
      ON a.run_id = p.run_id AND a.phase_id = p.phase_id
    LEFT JOIN unnest($12::text[], $13::text[]) AS b(run_id, reason) ON b.run_id = p.run_id
    LEFT JOIN LATERAL (SELECT count(*)::int AS n FROM phases q
                        WHERE $4::boolean AND q.run_id = p.run_id AND q.state = 'QUEUED'
                       HAVING count(*) > 0) q ON true
    LEFT JOIN drain_leases l ON l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> $1
    LEFT JOIN LATERAL (SELECT x AS prefix FROM unnest($5::text[]) x WHERE starts_with(p.run_id, x) LIMIT 1) pf ON true`;

const FAILED_SQL = `
  WITH candidates AS (
    (SELECT ${COLS} FROM phases p WHERE ${FRONT} ORDER BY ${FRONT_ORDER} LIMIT $17)
    UNION
    (SELECT ${COLS} FROM phases p WHERE ${FRONT} AND NOT ${FRONT_SKIPPED} ORDER BY ${FRONT_ORDER} LIMIT 1)
    UNION
    ${REST}
  ),
  scored AS (
    SELECT p.*, ${SKIP_REASON} AS skip_reason, l.session_id AS lease_session,
      (COALESCE(a.n, 0) > 0)::int AS retry,
      CASE WHEN p.run_id = ANY($16::text[]) THEN 3
           WHEN NOT (p.run_id = ANY($14::text[])) THEN 0
           WHEN p.run_id = ANY($15::text[]) THEN 1
           ELSE 2 END AS grp,
      drain_failure_rank(p.last_failure_reason) AS rank
    FROM candidates p ${JOINS}
    WHERE ($3::text IS NULL OR true) -- $3 (queued mode's current run) is unused here but must be typed
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (ORDER BY retry, grp, rank, phase_index, id) AS pos FROM scored s
  ),
  ${PICK_AND_SKIPS}`;

/** Picks the next FAILED phase (one statement). */
export async function selectFailedPhase(db: Queryable, p: SelectParams): Promise<SelectResult> {
  const res = await db.query<Row>(FAILED_SQL, baseParams(p, null, p.skipRunsWithQueued));
  return toResult(res.rows);
}
