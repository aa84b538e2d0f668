/**
 * PROTOTYPE (benchmark only, not used by the drain): a FAILED-phase pick that returns exactly
 * what selectFailedPhase returns (same pick, same passed-over list, same order) without
 * scoring, sorting and numbering every FAILED phase.
 *
 * Ordering to preserve: (retry, grp, rank, phase_index, id) where retry = attempted this
 * session, grp = triage group (3 deprioritized, 0 unsampled, 1 promising, 2 other sampled),
 * rank = failure-category rank from CATEGORY_RULES.
 *
 * Observation: every row with (retry, grp) = (0, 0) — never attempted, run neither sampled nor
 * deprioritized, i.e. the bulk of a large backlog — sorts before every other row, and within
 * that group the order is (rank, phase_index, id). With the category rank as an IMMUTABLE SQL
 * function generated from CATEGORY_RULES and a partial expression index
 *   phases (rank_fn(last_failure_reason), phase_index, id) WHERE state = 'FAILED'
 * the group is read in index order and the scan stops at the first phase that is not skipped
 * (pick) or after $17 rows (the passed-over window). Skip reasons are per-row scalar subqueries
 * (index probes) so they are only computed for the rows actually read. The other rows (phases
 * of sampled or deprioritized runs, and attempted phases) are few and are scored in full as today.
 * The union of {first $17 rows of the big group, first unskipped row of the big group, all other
 * rows} contains every row the current statement can return, with the same relative order, so
 * numbering that union gives the same pick and the same passed-over rows.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../src/db/pool.js';
import type { SelectResult } from '../src/db/select.js';
import { CATEGORY_RULES, categorizeFailure, categoryRank } from '../src/domain/categories.js';
import type { SelectParams } from '../src/domain/selection.js';

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Body of the rank function: exactly the CASE that select.ts builds from the parameters. */
function rankCaseSql(col: string): string {
  const whens = CATEGORY_RULES.map(
    (r) => `WHEN ${col} ~* ${sqlString(r.pattern)} THEN ${categoryRank(r.category)}`,
  ).join(' ');
  return `CASE WHEN ${col} IS NULL OR btrim(${col}) = '' THEN ${categoryRank('unknown')} ${whens} ELSE ${categoryRank('other')} END`;
}

/**
 * The function is named after a hash of its body, so a change to CATEGORY_RULES gets a new
 * function and a new index instead of silently invalidating an index built on the old rules.
 */
export const RANK_FN = `drain_failure_rank_${createHash('sha256').update(rankCaseSql('r')).digest('hex').slice(0, 10)}`;
export const RANK_INDEX = `phases_failed_${RANK_FN.slice('drain_'.length)}_idx`;

export const PROTOTYPE_DDL = [
  `CREATE OR REPLACE FUNCTION ${RANK_FN}(r text) RETURNS integer
     LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ${rankCaseSql('r')} $$`,
  `CREATE INDEX IF NOT EXISTS ${RANK_INDEX}
     ON phases (${RANK_FN}(last_failure_reason), phase_index, id) WHERE state = 'FAILED'`,
];

/**
 * True when phase `p` of the big group (never attempted) would get a skip reason: the boolean
 * form of the CASE in select.ts (prefix, stopped run, attempts, queued phases, lease), as
 * per-row probes so the ordered walk can stop at the first phase that is not skipped.
 * `= ANY($12)` with a constant array is hashed by Postgres (14+), so many stopped runs are cheap.
 */
const BIG_SKIPPED = `(
       (cardinality($5::text[]) > 0 AND EXISTS (SELECT 1 FROM unnest($5::text[]) AS x WHERE starts_with(p.run_id, x)))
    OR p.run_id = ANY($12::text[])
    OR 0 >= $6
    OR ($4::boolean AND EXISTS (SELECT 1 FROM phases q WHERE q.run_id = p.run_id AND q.state = 'QUEUED'))
    OR EXISTS (SELECT 1 FROM drain_leases l WHERE l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> $1))`;

const NOT_DONE = `(p.run_id, p.phase_id) NOT IN (SELECT d.r, d.ph FROM unnest($10::text[], $11::text[]) AS d(r, ph))`;

/** The big group: FAILED, not done, never attempted, run neither sampled nor deprioritized. */
const BIG_WHERE = `p.state = 'FAILED' AND ($2::text IS NULL OR p.run_id = $2)
    AND NOT (p.run_id = ANY($14::text[])) AND NOT (p.run_id = ANY($16::text[]))
    AND (p.run_id, p.phase_id) NOT IN (SELECT a.r, a.ph FROM unnest($7::text[], $8::text[], $9::int[]) AS a(r, ph, n) WHERE a.n > 0)
    AND ${NOT_DONE}`;

const COLS = `p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason`;
const BIG_ORDER = `${RANK_FN}(p.last_failure_reason), p.phase_index, p.id`;

/** Skip reason, exactly as in select.ts, for the few candidate rows `p` (joins below). */
const SKIP_REASON = `
  CASE
    WHEN pf.prefix IS NOT NULL THEN 'run ' || p.run_id || ' matches skip-run-prefix ' || pf.prefix
    WHEN b.reason IS NOT NULL THEN b.reason
    WHEN COALESCE(a.n, 0) >= $6 THEN 'phase already attempted ' || a.n || ' times (limit: ' || $6 || ')'
    WHEN q.n IS NOT NULL THEN 'run ' || p.run_id || ' has ' || q.n || ' queued phase(s) (skip-runs-with-queued)'
    WHEN l.session_id IS NOT NULL THEN 'run ' || p.run_id || ' is being drained by session ' || l.session_id
  END`;

const SQL = `
  WITH candidates AS (
    -- the first $17 phases of the big group (the passed-over window), read in index order
    (SELECT ${COLS} FROM phases p WHERE ${BIG_WHERE} ORDER BY ${BIG_ORDER} LIMIT $17)
    UNION
    -- the first phase of the big group that is not skipped, read in index order
    (SELECT ${COLS} FROM phases p WHERE ${BIG_WHERE} AND NOT ${BIG_SKIPPED} ORDER BY ${BIG_ORDER} LIMIT 1)
    UNION
    -- everything else: phases of sampled/deprioritized runs, and attempted phases (few)
    SELECT ${COLS} FROM phases p
     WHERE p.state = 'FAILED' AND p.run_id = ANY($14::text[] || $16::text[])
       AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_DONE}
    UNION
    SELECT ${COLS}
      FROM unnest($7::text[], $8::text[], $9::int[]) AS a(r, ph, n)
      JOIN phases p ON p.run_id = a.r AND p.phase_id = a.ph
     WHERE a.n > 0 AND p.state = 'FAILED' AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_DONE}
  ),
  scored AS (
    SELECT p.*, ${SKIP_REASON} AS skip_reason, l.session_id AS lease_session,
      (COALESCE(a.n, 0) > 0)::int AS retry,
      CASE WHEN p.run_id = ANY($16::text[]) THEN 3
           WHEN NOT (p.run_id = ANY($14::text[])) THEN 0
           WHEN p.run_id = ANY($15::text[]) THEN 1
           ELSE 2 END AS grp,
      ${RANK_FN}(p.last_failure_reason) AS rank
    FROM candidates p
    LEFT JOIN unnest($7::text[], $8::text[], $9::int[]) AS a(run_id, phase_id, n)
      ON a.run_id = p.run_id AND a.phase_id = p.phase_id
    LEFT JOIN unnest($12::text[], $13::text[]) AS b(run_id, reason) ON b.run_id = p.run_id
    LEFT JOIN LATERAL (SELECT count(*)::int AS n FROM phases q
                        WHERE $4::boolean AND q.run_id = p.run_id AND q.state = 'QUEUED'
                       HAVING count(*) > 0) q ON true
    LEFT JOIN drain_leases l ON l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> $1
    LEFT JOIN LATERAL (SELECT x AS prefix FROM unnest($5::text[]) x WHERE starts_with(p.run_id, x) LIMIT 1) pf ON true
    WHERE ($3::text IS NULL OR true) -- $3 is unused (kept so the numbering matches select.ts)
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (ORDER BY retry, grp, rank, phase_index, id) AS pos FROM scored s
  ),
  pick AS (SELECT min(pos) AS pos FROM ordered WHERE skip_reason IS NULL)
  SELECT o.id, o.run_id, o.phase_id, o.phase_index, o.state, o.last_failure_reason, o.skip_reason, o.lease_session
  FROM ordered o CROSS JOIN pick
  WHERE o.pos = pick.pos
     OR (o.skip_reason IS NOT NULL AND (pick.pos IS NULL OR o.pos < pick.pos) AND o.pos <= $17)
  ORDER BY o.pos`;

interface Row {
  id: number;
  run_id: string;
  phase_id: string;
  phase_index: number;
  state: string;
  last_failure_reason: string | null;
  skip_reason: string | null;
  lease_session: string | null;
}

/** Same contract as selectFailedPhase; needs PROTOTYPE_DDL applied first. */
export async function selectFailedPhasePrototype(db: Queryable, p: SelectParams): Promise<SelectResult> {
  const res = await db.query<Row>(SQL, [
    p.sessionId,
    p.runId,
    null,
    p.skipRunsWithQueued,
    p.skipRunPrefixes,
    p.maxAttemptsPerPhase,
    p.attemptedRuns,
    p.attemptedPhases,
    p.attemptCounts,
    p.doneRuns,
    p.donePhases,
    p.blockedRuns,
    p.blockedReasons,
    p.sampledRuns,
    p.promisingRuns,
    p.deprioritizedRuns,
    p.maxSkipsReported,
  ]);
  const rows = res.rows;
  const pickRow = rows.find((r) => r.skip_reason === null) ?? null;
  return {
    pick: pickRow && {
      runId: pickRow.run_id,
      phaseId: pickRow.phase_id,
      phaseIndex: pickRow.phase_index,
      dbId: pickRow.id,
      state: pickRow.state,
      lastFailureReason: pickRow.last_failure_reason,
      category: categorizeFailure(pickRow.last_failure_reason),
    },
    passedOver: rows
      .filter((r) => r.skip_reason !== null)
      .map((r) => ({ runId: r.run_id, phaseId: r.phase_id, reason: r.skip_reason as string })),
    waitingForLease: rows.some(
      (r) => r.skip_reason !== null && r.lease_session !== null && r.skip_reason.includes(r.lease_session),
    ),
  };
}
