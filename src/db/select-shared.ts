/**
 * Parts shared by the FAILED and QUEUED selection statements (select-failed.ts,
 * select-queued.ts): the result type, the parameter list, the skip reason of a candidate
 * phase, and the final "pick and passed-over rows" step.
 */
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

/** A row of the final step: the pick (skip_reason NULL) and the passed-over phases, in order. */
export interface Row {
  id: number;
  run_id: string;
  phase_id: string;
  phase_index: number;
  state: string;
  last_failure_reason: string | null;
  skip_reason: string | null;
  lease_session: string | null;
}

/**
 * Skip reason of one candidate row `p` (prefix, stop condition, attempts, queued phases,
 * lease), NULL when it can be picked. Needs the aliases `pf` (matching skip prefix), `b`
 * (stopped run), `a` (attempts), `q` (queued phases of the run) and `l` (foreign lease).
 */
export const SKIP_REASON = `
  CASE
    WHEN pf.prefix IS NOT NULL THEN 'run ' || p.run_id || ' matches skip-run-prefix ' || pf.prefix
    WHEN b.reason IS NOT NULL THEN b.reason
    WHEN COALESCE(a.n, 0) >= $6 THEN 'phase already attempted ' || a.n || ' times (limit: ' || $6 || ')'
    WHEN q.n IS NOT NULL THEN 'run ' || p.run_id || ' has ' || q.n || ' queued phase(s) (skip-runs-with-queued)'
    WHEN l.session_id IS NOT NULL THEN 'run ' || p.run_id || ' is being drained by session ' || l.session_id
  END`;

/**
 * Final step over `ordered` (candidates numbered by `pos` in selection order): the first row
 * without a skip reason (the pick), preceded by the skipped rows ranked ahead of it, at most
 * $17 of them (all skipped rows within the first $17 when nothing can be picked).
 */
export const PICK_AND_SKIPS = `
  pick AS (SELECT min(pos) AS pos FROM ordered WHERE skip_reason IS NULL)
  SELECT o.id, o.run_id, o.phase_id, o.phase_index, o.state, o.last_failure_reason, o.skip_reason,
         o.lease_session
  FROM ordered o CROSS JOIN pick
  WHERE o.pos = pick.pos
     OR (o.skip_reason IS NOT NULL AND (pick.pos IS NULL OR o.pos < pick.pos) AND o.pos <= $17)
  ORDER BY o.pos`;

/**
 * $1…$18 of both statements. The parallel arrays have equal lengths and no NULL elements
 * (selectionParams builds them from the session state).
 */
export function baseParams(p: SelectParams, third: string | null, fourth: boolean): unknown[] {
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
    p.busyRuns ?? [], // $18
  ];
}

export function toResult(rows: Row[]): SelectResult {
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
