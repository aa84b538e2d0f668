import type { DrainConfig, DrainMode, DrainOrder } from './types.js';
import { parsePairKey, type SessionState } from './session-state.js';

/**
 * Everything the selection query needs, computed from the session state by a pure function
 * so the decision inputs are part of the workflow's durable history.
 */
export interface SelectParams {
  sessionId: string;
  mode: DrainMode;
  runId: string | null;
  skipRunsWithQueued: boolean;
  skipRunPrefixes: string[];
  maxAttemptsPerPhase: number;
  /** phases attempted this session, with their attempt counts (parallel arrays). */
  attemptedRuns: string[];
  attemptedPhases: string[];
  attemptCounts: number[];
  /** phases never to select again: succeeded or planned (parallel arrays). */
  doneRuns: string[];
  donePhases: string[];
  /** runs removed by stop conditions, with the reason (parallel arrays). */
  blockedRuns: string[];
  blockedReasons: string[];
  sampledRuns: string[];
  promisingRuns: string[];
  deprioritizedRuns: string[];
  /** queued mode: keep draining this run while it has queued phases. */
  currentRun: string | null;
  /**
   * Runs this session's other slots are draining right now: not candidates at all (the run's
   * lease is the session's, so it does not keep them out). Absent or empty with one slot.
   */
  busyRuns?: string[];
  /**
   * Slots that pick in parallel (not in turns): every run this session holds a live lease on is
   * another slot's (no candidate), and a pick never renews one — two concurrent picks of one
   * run: one gets its lease, the other picks again. Absent: false.
   */
  ownLeasesBusy?: boolean;
  /** at most this many passed-over phases are reported per pick. */
  maxSkipsReported: number;
  /**
   * True: attempted and done phases come from the session's drain_attempts rows (the arrays
   * above are empty), so the payload does not grow with the session. False in dry runs, which
   * write no rows and carry their plan in the state.
   */
  fromRecords?: boolean;
  /** The database the session is pinned to (checked by the worker, not by selection). */
  database?: { id: string; name: string } | null;
  /** Order within a priority group (default 'priority', the original's). */
  order?: DrainOrder;
  /** Failure memory: ignore what earlier sessions stopped (the total cap still applies). */
  ignoreMemory?: boolean;
  /** Failure memory: attempts of a phase across sessions (null: unlimited). */
  maxAttemptsPerPhaseTotal?: number | null;
  /** The workspace whose git commit memory stops are compared with. */
  workspace?: string | null;
  /**
   * Phases failure memory passes over, with the reason: filled by the selection activity
   * from the database (never part of workflow input).
   */
  memory?: Array<{ runId: string; phaseId: string; reason: string }>;
  /** The workflow asks the selection activity to take the pick's run lease in the same statement. */
  takeLease?: boolean;
  /**
   * With takeLease: this many further picks for the session's other free slots, in the same
   * activity (one round trip for a wave of slots instead of one each). Absent: none.
   */
  extraPicks?: number;
  /** Set by the selection activity from takeLease: who holds the lease, for how long. */
  lease?: { holder: string; ttlSeconds: number } | null;
  /**
   * --max-tokens and what the workflow has folded so far: the selection activity picks nothing
   * when the session's records (running tries of other slots included) have spent the budget.
   * Absent without a budget.
   */
  tokenBudget?: { maxTokens: number; folded: number };
}

export function selectionParams(
  state: SessionState,
  config: DrainConfig,
  busyRuns: string[] = [],
): SelectParams {
  const attempted = Object.entries(state.attempts).map(([k, n]) => [...parsePairKey(k), n] as const);
  const done = state.done.map(parsePairKey);
  const last = state.recent.length ? state.recent[state.recent.length - 1].runId : null;
  const lastPlanned = state.planned.length ? state.planned[state.planned.length - 1].runId : null;
  return {
    sessionId: state.sessionId,
    mode: config.mode,
    runId: config.runId,
    skipRunsWithQueued: config.skipRunsWithQueued,
    skipRunPrefixes: config.skipRunPrefixes,
    maxAttemptsPerPhase: config.maxAttemptsPerPhase,
    attemptedRuns: attempted.map((a) => a[0]),
    attemptedPhases: attempted.map((a) => a[1]),
    attemptCounts: attempted.map((a) => a[2]),
    doneRuns: done.map((d) => d[0]),
    donePhases: done.map((d) => d[1]),
    blockedRuns: Object.keys(state.stoppedRuns),
    blockedReasons: Object.values(state.stoppedRuns),
    sampledRuns: state.sampledRuns,
    promisingRuns: state.promisingRuns,
    deprioritizedRuns: state.deprioritizedRuns,
    currentRun: config.dryRun ? lastPlanned : last,
    busyRuns,
    maxSkipsReported: 50,
    order: config.order,
    ignoreMemory: config.ignoreMemory,
    maxAttemptsPerPhaseTotal: config.maxAttemptsPerPhaseTotal,
    ...(config.maxTokens != null
      ? { tokenBudget: { maxTokens: config.maxTokens, folded: state.tokensSpent ?? 0 } }
      : {}),
  };
}
