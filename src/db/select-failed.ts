/**
 * FAILED-phase selection: one statement that returns the pick and the phases passed over
 * ahead of it, without scoring and sorting every FAILED phase of a large backlog.
 *
 * Selection order of the FAILED phases (not done, within the run filter :runId):
 *   (retry, grp, rank, phase_index, id)  — with --order yield: (retry, grp, rank,
 *   no run history first, run yield desc, phase_index, id)
 *   retry = attempted this session (0/1); grp = triage group: 0 run not sampled,
 *   1 promising, 2 other sampled, 3 deprioritized; rank = drain_failure_rank(reason)
 *   (migration 003, = categoryRank(categorizeFailure(reason))). id makes the order total.
 * The answer is the first phase in that order without a skip reason (the pick), and the
 * skipped phases ranked ahead of it that are among the first :maxSkips (all skipped phases among
 * the first :maxSkips when there is no pick).
 *
 * Why candidates instead of a full sort. Call FRONT the phases with retry = 0 and grp = 0:
 * never attempted this session, run neither sampled nor deprioritized (the bulk of a
 * backlog). Every FRONT phase sorts before every other phase, and within FRONT the order is
 * (rank, phase_index, id): exactly the partial index phases_failed_rank_idx. The statement
 * numbers only the union of
 *   (1) the first :maxSkips FRONT phases (index order, LIMIT maxSkips),
 *   (2) the first FRONT phase without a skip reason (index order, LIMIT 1),
 *   (3) every phase of a sampled or deprioritized run, and (4) every attempted phase (few),
 * with the same ordering, and applies the same final step. That gives the same rows:
 *   - The union holds the first min(maxSkips, |FRONT|) phases of the full order (all phases when
 *     |FRONT| < maxSkips: then (1) is all of FRONT and (3)+(4) the rest), so the first :maxSkips
 *     positions hold the same phases in both numberings; every other row of the union
 *     ranks after all of them in both. A row beyond position maxSkips is never passed over.
 *   - The pick is the same. If some FRONT phase has no skip reason, the first one is in (2)
 *     and everything ahead of it in the full order is a skipped FRONT phase, so it is also
 *     the first unskipped row of the union. Otherwise the FRONT candidates are all skipped
 *     and the pick is the first unskipped phase of (3)+(4), which are complete and in order.
 *   - So the pick is either at the same position in both numberings or after position maxSkips
 *     in both, and "skipped, ahead of the pick, within maxSkips" selects the same rows.
 * (2) needs the skip test as a boolean on the FRONT row itself (FRONT_SKIPPED), written as
 * index probes so the walk stops at the first phase that is not skipped. It is exactly
 * SKIP_REASON IS NOT NULL given what selectionParams guarantees: parallel arrays of equal
 * length without NULL elements, and maxAttemptsPerPhase >= 1 (parseDrainInput), so the
 * attempts branch never fires for a FRONT phase (its count is absent or 0).
 * With --order yield the order within FRONT is no longer the index key, so every FRONT
 * phase is a candidate (a full score of the FAILED phases in the filter; opt-in).
 *
 * Long sessions. (3) grows with the backlog once runs are sampled and (4) with the session
 * (every phase it attempted), so the statement above costs O(N) a pick late in a long session.
 * The default order therefore first runs a fast statement: the retry = 0 phases only, each
 * triage group as index-ordered windows like FRONT's (its first :maxSkips phases and its first
 * unskipped one). Every retry = 0 phase sorts before every retry = 1 phase, and within a group
 * the order is FRONT's index key, so by the argument above, extended group by group (a group
 * is numbered after every earlier group), the fast statement's answer equals the full one's
 * whenever it has a pick. Without one (every retry = 0 phase is skipped or none is left) the
 * full statement runs.
 * What the session attempted and finished (retry, done, the attempt limit) comes from its
 * records by index probes per candidate, or in a dry run from the state's arrays
 * (select-session.ts): a pick never reads the session's whole list of attempts.
 */
import type { Queryable } from './pool.js';
import type { SelectParams } from '../domain/selection.js';
import { bindNamed } from './named-sql.js';
import {
  namedParams,
  statementVariants,
  pickAndSkips,
  ATTEMPTS_COLUMN,
  RUN_YIELD,
  skipJoins,
  skipColumns,
  toResult,
  YIELD_KEYS,
  type Row,
  type SelectResult,
} from './select-shared.js';
import { attemptedPhases, notAttempted, notDone, NOT_BUSY } from './select-session.js';

/**
 * FAILED, in the run filter, not done, never attempted, run neither sampled nor deprioritized
 * (attempted and done from the session's records or the state's arrays: select-session.ts).
 */
function front(records: boolean): string {
  return `p.state = 'FAILED' AND (:runId::text IS NULL OR p.run_id = :runId) AND ${NOT_BUSY}
    AND NOT (p.run_id = ANY(:sampledRuns::text[])) AND NOT (p.run_id = ANY(:deprioritizedRuns::text[]))
    AND ${notAttempted(records)}
    AND ${notDone(records)}`;
}

/** Order within FRONT: the key of phases_failed_rank_idx. */
const FRONT_ORDER = `drain_failure_rank(p.last_failure_reason), p.phase_index, p.id`;

/**
 * SKIP_REASON IS NOT NULL for a FRONT phase: skip prefix, stopped run, failure memory, queued
 * phases in the run (skipRunsWithQueued), lease held by another session (see above for the
 * attempt limit). `= ANY(...)` with a constant array is hashed, so many stopped runs stay cheap.
 */
const FRONT_SKIPPED = `(
       (cardinality(:skipRunPrefixes::text[]) > 0 AND EXISTS (SELECT 1 FROM unnest(:skipRunPrefixes::text[]) AS x WHERE starts_with(p.run_id, x)))
    OR p.run_id = ANY(:blockedRuns::text[])
    OR (p.run_id, p.phase_id) IN (SELECT m.r, m.ph FROM unnest(:memoryRuns::text[], :memoryPhases::text[]) AS m(r, ph))
    OR (:skipRunsWithQueued::boolean AND EXISTS (SELECT 1 FROM phases q WHERE q.run_id = p.run_id AND q.state = 'QUEUED'))
    OR EXISTS (SELECT 1 FROM drain_leases l WHERE l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> :sessionId))`;

const COLS = `p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason`;

/** Everything but FRONT within the same filter, by the two ways a phase leaves FRONT. */
function rest(records: boolean): string {
  return `
    SELECT ${COLS} FROM phases p
     WHERE p.state = 'FAILED' AND p.run_id = ANY(:sampledRuns::text[] || :deprioritizedRuns::text[])
       AND (:runId::text IS NULL OR p.run_id = :runId) AND ${NOT_BUSY} AND ${notDone(records)}
    UNION
    SELECT ${COLS}
      FROM ${attemptedPhases(records)} AS a
      JOIN phases p ON p.run_id = a.r AND p.phase_id = a.ph
     WHERE p.state = 'FAILED' AND (:runId::text IS NULL OR p.run_id = :runId) AND ${NOT_BUSY}
       AND ${notDone(records)}`;
}

/**
 * The candidates: index-ordered FRONT windows (default order), or all of FRONT (yield order);
 * then REST, or with `fast` the retry = 0 windows of groups 1-3 (see the module comment).
 */
function candidates(yieldOrder: boolean, records: boolean, fast = false): string {
  const f = front(records);
  const frontRows = yieldOrder
    ? `(SELECT ${COLS} FROM phases p WHERE ${f})`
    : `(SELECT ${COLS} FROM phases p WHERE ${f} ORDER BY ${FRONT_ORDER} LIMIT :maxSkips)
    UNION
    (SELECT ${COLS} FROM phases p WHERE ${f} AND NOT ${FRONT_SKIPPED} ORDER BY ${FRONT_ORDER} LIMIT 1)`;
  const restRows = fast
    ? GROUP_RUNS.map((runs) => groupWindow(runs, records)).join('\n    UNION\n    ')
    : rest(records);
  return `candidates AS (
    ${frontRows}
    UNION
    ${restRows}
  )`;
}

/**
 * The queued-phase count of SKIP_REASON is a per-run probe (Autopack's ix_phases_run_state) instead of a
 * count over every QUEUED phase.
 */
const QUEUED_JOIN = `
    LEFT JOIN LATERAL (SELECT count(*)::int AS n FROM phases q
                        WHERE :skipRunsWithQueued::boolean AND q.run_id = p.run_id AND q.state = 'QUEUED'
                       HAVING count(*) > 0) q ON true`;

function failedSql(yieldOrder: boolean, lease: boolean, records: boolean, fast = false): string {
  return `
  WITH ${candidates(yieldOrder, records, fast)},
  ${yieldOrder ? `${RUN_YIELD},` : ''}
  scored AS (
    SELECT p.*, ${skipColumns({ queued: true })}, ${ATTEMPTS_COLUMN},
      (COALESCE(a.n, 0) > 0)::int AS retry,
      CASE WHEN p.run_id = ANY(:deprioritizedRuns::text[]) THEN 3
           WHEN NOT (p.run_id = ANY(:sampledRuns::text[])) THEN 0
           WHEN p.run_id = ANY(:promisingRuns::text[]) THEN 1
           ELSE 2 END AS grp,
      drain_failure_rank(p.last_failure_reason) AS rank
      ${yieldOrder ? ', ry.ypm AS run_ypm' : ''}
    FROM candidates p ${skipJoins(records)} ${QUEUED_JOIN}
      ${yieldOrder ? 'LEFT JOIN run_yield ry ON ry.run_id = p.run_id' : ''}
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (
      ORDER BY retry, grp, rank, ${yieldOrder ? `${YIELD_KEYS}, ` : ''}phase_index, id) AS pos
    FROM scored s
  ),
  ${pickAndSkips({ lease })}`;
}

const FAILED_SQL = statementVariants(failedSql);

/** The runs of triage groups 1-3 (see the grp column of failedSql). */
const GROUP_RUNS = [
  `p.run_id = ANY(:sampledRuns::text[]) AND p.run_id = ANY(:promisingRuns::text[]) AND NOT (p.run_id = ANY(:deprioritizedRuns::text[]))`,
  `p.run_id = ANY(:sampledRuns::text[]) AND NOT (p.run_id = ANY(:promisingRuns::text[])) AND NOT (p.run_id = ANY(:deprioritizedRuns::text[]))`,
  `p.run_id = ANY(:deprioritizedRuns::text[])`,
];

/** One group's window: its first :maxSkips retry = 0 phases and its first unskipped one. */
function groupWindow(runs: string, records: boolean): string {
  const where = `p.state = 'FAILED' AND (:runId::text IS NULL OR p.run_id = :runId) AND ${NOT_BUSY}
    AND ${runs} AND ${notAttempted(records)} AND ${notDone(records)}`;
  return `(SELECT ${COLS} FROM phases p WHERE ${where} ORDER BY ${FRONT_ORDER} LIMIT :maxSkips)
    UNION
    (SELECT ${COLS} FROM phases p WHERE ${where} AND NOT ${FRONT_SKIPPED} ORDER BY ${FRONT_ORDER} LIMIT 1)`;
}

/** The fast statement (default order): retry = 0 phases only, every group as windows. */
const FAST_SQL = statementVariants((_yieldOrder, lease, records) => failedSql(false, lease, records, true));

/** Picks the next FAILED phase, and with `p.lease` takes its run's lease (one statement). */
export async function selectFailedPhase(db: Queryable, p: SelectParams): Promise<SelectResult> {
  if (p.order !== 'yield') {
    const fast = await runSelect(db, FAST_SQL(p), p);
    if (fast.pick) return fast;
  }
  return runSelect(db, FAILED_SQL(p), p);
}

async function runSelect(db: Queryable, text: string, p: SelectParams): Promise<SelectResult> {
  const q = bindNamed(text, namedParams(p));
  const res = await db.query<Row>(q.text, q.values);
  return toResult(res.rows, !!p.fromRecords);
}
