import type { Queryable } from './pool.js';
import type { SelectParams } from '../domain/selection.js';
import { categorizeFailure } from '../domain/categories.js';
import type { PhaseRef, SkipRecord } from '../domain/types.js';

export interface SelectResult {
  pick: PhaseRef | null;
  /** Phases ranked ahead of the pick that were passed over, with the reason. */
  passedOver: SkipRecord[];
  /** Some candidates were passed over only because another session holds their run's lease. */
  waitingForLease: boolean;
}

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

/** SQL CASE giving the failure-category rank of `col`, with the patterns as parameters $first… */
function rankCase(col: string, firstParam: number, n: number): string {
  const whens = Array.from(
    { length: n },
    (_, i) => `WHEN ${col} ~* $${firstParam + 2 * i} THEN $${firstParam + 2 * i + 1}::int`,
  );
  return `CASE WHEN ${col} IS NULL OR btrim(${col}) = '' THEN 0 ${whens.join(' ')} ELSE 4 END`;
}

/** Shared part: skip reasons for one candidate row `p` (prefix, stop condition, attempts, lease). */
const SKIP_REASON = `
  CASE
    WHEN pf.prefix IS NOT NULL THEN 'run ' || p.run_id || ' matches skip-run-prefix ' || pf.prefix
    WHEN b.reason IS NOT NULL THEN b.reason
    WHEN COALESCE(a.n, 0) >= $6 THEN 'phase already attempted ' || a.n || ' times (limit: ' || $6 || ')'
    WHEN q.n IS NOT NULL THEN 'run ' || p.run_id || ' has ' || q.n || ' queued phase(s) (skip-runs-with-queued)'
    WHEN l.session_id IS NOT NULL THEN 'run ' || p.run_id || ' is being drained by session ' || l.session_id
  END`;

const JOINS = `
  LEFT JOIN unnest($7::text[], $8::text[], $9::int[]) AS a(run_id, phase_id, n)
    ON a.run_id = p.run_id AND a.phase_id = p.phase_id
  LEFT JOIN unnest($12::text[], $13::text[]) AS b(run_id, reason) ON b.run_id = p.run_id
  LEFT JOIN queued_runs q ON q.run_id = p.run_id
  LEFT JOIN drain_leases l ON l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> $1
  LEFT JOIN LATERAL (SELECT x AS prefix FROM unnest($5::text[]) x WHERE starts_with(p.run_id, x) LIMIT 1) pf ON true`;

const NOT_DONE = `NOT EXISTS (SELECT 1 FROM unnest($10::text[], $11::text[]) AS d(run_id, phase_id)
                                WHERE d.run_id = p.run_id AND d.phase_id = p.phase_id)`;

const PICK_AND_SKIPS = `
  pick AS (SELECT min(pos) AS pos FROM ordered WHERE skip_reason IS NULL)
  SELECT o.id, o.run_id, o.phase_id, o.phase_index, o.state, o.last_failure_reason, o.skip_reason,
         o.lease_session
  FROM ordered o CROSS JOIN pick
  WHERE o.pos = pick.pos
     OR (o.skip_reason IS NOT NULL AND (pick.pos IS NULL OR o.pos < pick.pos) AND o.pos <= $17)
  ORDER BY o.pos`;

const FIRST_PATTERN_PARAM = 18;

/** FAILED phases: never-attempted first, then sample-first triage group, category, phase_index, id. */
function failedSql(nPatterns: number): string {
  return `
  WITH queued_runs AS (
    SELECT run_id, count(*)::int AS n FROM phases WHERE state = 'QUEUED' AND $4::boolean GROUP BY run_id
  ),
  scored AS (
    SELECT p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason,
      ${SKIP_REASON} AS skip_reason, l.session_id AS lease_session,
      (COALESCE(a.n, 0) > 0)::int AS retry,
      CASE WHEN p.run_id = ANY($16::text[]) THEN 3
           WHEN NOT (p.run_id = ANY($14::text[])) THEN 0
           WHEN p.run_id = ANY($15::text[]) THEN 1
           ELSE 2 END AS grp,
      ${rankCase('p.last_failure_reason', FIRST_PATTERN_PARAM, nPatterns)} AS rank
    FROM phases p ${JOINS}
    WHERE p.state = 'FAILED' AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_DONE}
      AND ($3::text IS NULL OR $3::text IS NOT NULL) -- $3 (current run) is unused here
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (ORDER BY retry, grp, rank, phase_index, id) AS pos FROM scored s
  ),
  ${PICK_AND_SKIPS}`;
}

/** QUEUED phases: the earliest queued phase of each run; the current run first, then runs by age. */
function queuedSql(): string {
  return `
  WITH queued_runs AS (SELECT NULL::text AS run_id, 0 AS n WHERE false),
  firsts AS (
    SELECT DISTINCT ON (p.run_id) p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason
    FROM phases p
    WHERE p.state = 'QUEUED' AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_DONE}
    ORDER BY p.run_id, p.phase_index, p.id
  ),
  scored AS (
    SELECT p.*, ${SKIP_REASON} AS skip_reason, l.session_id AS lease_session,
      (p.run_id IS NOT DISTINCT FROM $3::text) AS is_current, r.created_at AS run_created
    FROM firsts p LEFT JOIN runs r ON r.id = p.run_id ${JOINS}
    WHERE $4::boolean OR NOT $4::boolean
      -- $14-$16 (triage lists) do not order queued phases, but every parameter must be typed
      AND ($14::text[] IS NULL OR $15::text[] IS NULL OR $16::text[] IS NULL OR true)
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (ORDER BY is_current DESC, run_created, run_id) AS pos FROM scored s
  ),
  ${PICK_AND_SKIPS}`;
}

function baseParams(p: SelectParams, third: string | null, fourth: boolean): unknown[] {
  return [
    p.sessionId, // $1
    p.runId, // $2
    third, // $3
    fourth, // $4
    p.skipRunPrefixes, // $5
    p.maxAttemptsPerPhase, // $6
    p.attemptedRuns, // $7
    p.attemptedPhases, // $8
    p.attemptCounts, // $9
    p.doneRuns, // $10
    p.donePhases, // $11
    p.blockedRuns, // $12
    p.blockedReasons, // $13
    p.sampledRuns, // $14
    p.promisingRuns, // $15
    p.deprioritizedRuns, // $16
    p.maxSkipsReported, // $17
  ];
}

function toResult(rows: Row[]): SelectResult {
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

/** Picks the next FAILED phase (one statement). */
export async function selectFailedPhase(db: Queryable, p: SelectParams): Promise<SelectResult> {
  const patternParams = p.categoryPatterns.flatMap((pat, i) => [pat, p.categoryRanks[i]]);
  const res = await db.query<Row>(failedSql(p.categoryPatterns.length), [
    ...baseParams(p, null, p.skipRunsWithQueued),
    ...patternParams,
  ]);
  return toResult(res.rows);
}

/** Picks the next QUEUED phase (one statement). */
export async function selectQueuedPhase(db: Queryable, p: SelectParams): Promise<SelectResult> {
  const res = await db.query<Row>(queuedSql(), baseParams(p, p.currentRun, false));
  return toResult(res.rows);
}
