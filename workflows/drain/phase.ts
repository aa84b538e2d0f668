import { ActivityFailure, ApplicationFailure, isCancellation, patched } from '@temporalio/workflow';
import type { DrainActivities } from '../../activities/index.js';
import { judgeAttempt } from '../../src/domain/judge.js';
import { appendEvents, slotTag } from '../../src/domain/progress-log.js';
import {
  own,
  pairKey,
  recordAttempt,
  withoutRecorded,
  type SessionState,
} from '../../src/domain/session-state.js';
import { cappedPhaseTimeout } from '../../src/domain/stop-conditions.js';
import { cappedMaxPhaseTimeout } from '../../src/domain/try-clock.js';
import type { AttemptOutcome, PhaseRef } from '../../src/domain/types.js';
import type { SelectParams } from '../../src/domain/selection.js';
import {
  baselineProxy,
  drainProxy,
  leanOrchestration,
  quick,
  shortActivities,
  type Selection,
} from './proxies.js';
import type { DrainSession } from './session.js';

/**
 * The drain activity failed for good (out of tries; a config error is not this): the attempt is
 * recorded abandoned with the reason, and the session goes on. Cancellation goes through.
 */
async function abandonOnExhaustedTries(
  err: unknown,
  req: Parameters<DrainActivities['abandonAttempt']>[0]['req'],
  triesUsed: number,
): Promise<AttemptOutcome> {
  if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.nonRetryable) throw err;
  const reason = cause?.message ?? err.message;
  return quick.abandonAttempt({ req, triesUsed, reason, database: req.database });
}

/** The fingerprint this attempt stopped (it reached its repeat limit), for failure memory. */
function newlyStopped(
  before: SessionState,
  after: SessionState,
  fingerprint: string | null,
): { fingerprint: string; repeats: number } | null {
  if (!fingerprint || before.stoppedFingerprints.includes(fingerprint)) return null;
  if (!after.stoppedFingerprints.includes(fingerprint)) return null;
  return { fingerprint, repeats: own(after.fingerprintCounts, fingerprint) ?? 0 };
}

/** The session's prepared parts and database identity, read once when the attempt begins. */
interface Where {
  p: DrainSession['p'];
  database: DrainSession['database'];
}

/**
 * Whether the drain activity ensures the baseline itself: lean orchestration, and nothing to
 * capture or a good capture cached.
 */
function drainEnsuresBaseline(session: DrainSession): boolean {
  const lean = leanOrchestration();
  return lean && (!session.config.baselineCommand || session.baseline?.status === 'ok');
}

/**
 * The ensureBaseline activity's promise, as it is: its caller awaits it directly (no async
 * wrapper: a workflow's extra awaits could reorder the commands of concurrent slots).
 */
function ensureBaseline(session: DrainSession, at: Where) {
  const { config } = session;
  return baselineProxy(config.phaseTimeoutSeconds).ensureBaseline({
    sessionId: session.state.sessionId,
    workspace: at.p.workspace,
    baselineCommand: config.baselineCommand,
    timeoutSeconds: config.phaseTimeoutSeconds,
    killGraceSeconds: config.killGraceSeconds,
    database: at.database,
  });
}

/** The attempt's number; the slot shows it as current and the progress log says it is draining. */
function startAttempt(session: DrainSession, pick: PhaseRef, slot: number, timeoutSeconds: number): number {
  const attempt =
    (pick.attemptsSoFar ?? own(session.state.attempts, pairKey(pick.runId, pick.phaseId)) ?? 0) + 1;
  session.slots[slot].current = {
    runId: pick.runId,
    phaseId: pick.phaseId,
    attempt,
    startedAt: new Date().toISOString(),
    timeoutSeconds,
  };
  session.state = {
    ...session.state,
    log: appendEvents(session.state.log, [
      {
        kind: 'draining',
        runId: pick.runId,
        phaseId: pick.phaseId,
        phaseIndex: pick.phaseIndex,
        attempt,
        ...slotTag(session.slotOf(slot)),
      },
    ]),
  };
  return attempt;
}

/** The drainPhase request of one attempt. */
function drainRequest(
  session: DrainSession,
  pick: PhaseRef,
  slot: number,
  at: Where,
  a: {
    attempt: number;
    timeoutSeconds: number;
    maxTimeoutSeconds: number | null;
    baseline: DrainSession['baseline'] | Awaited<ReturnType<typeof ensureBaseline>>;
    baselineInDrain: boolean;
  },
) {
  const { config } = session;
  const { p } = at;
  return {
    sessionId: session.state.sessionId,
    runId: pick.runId,
    phaseId: pick.phaseId,
    pickedState: pick.state,
    attempt: a.attempt,
    timeoutSeconds: a.timeoutSeconds,
    maxTimeoutSeconds: a.maxTimeoutSeconds,
    stallSeconds: config.stallSeconds,
    // Only when set: requests of sessions without a cap stay as they were.
    ...(config.maxTokensPerPhase != null ? { maxTokensPerPhase: config.maxTokensPerPhase } : {}),
    killGraceSeconds: config.killGraceSeconds,
    onKill: config.onKill,
    executor: p.executor,
    workspace: p.workspace,
    apiUrl: p.apiUrl,
    slot,
    baseline: a.baseline,
    ...(a.baselineInDrain ? { baselineInDrain: a.baselineInDrain } : {}),
    database: at.database,
  };
}

/**
 * The outcome judged and folded into the session state; the finishPhase activity's promise
 * (verdict, session JSON, lease released), as it is, for the caller to await directly. With
 * `nextInput` (slots that pick in parallel): the slot's next selection input as the folded
 * state gives it (null when the slot is not to pick right away); given one, finishPhaseAndPick,
 * whose promise also brings the pick.
 */
function recordOutcome(
  session: DrainSession,
  pick: PhaseRef,
  slot: number,
  attempt: number,
  outcome: AttemptOutcome,
  database: Where['database'],
  nextInput?: () => SelectParams | null,
): Promise<Selection | void> {
  const { config } = session;
  // A cached capture is for one commit: when the drain found the workspace elsewhere, ensure again.
  if (session.baseline && outcome.baselineCommit !== session.baseline.commit) session.baseline = null;
  const verdict = judgeAttempt(outcome);
  const before = session.state;
  const next = recordAttempt(before, outcome, verdict, config, session.slotOf(slot));
  // Sessions recorded before it sent a report with every phase (and numbered each): a replay
  // keeps that, so the reports' numbers go on rising where the file has the last one.
  const reportWhenDue = patched('report-when-due');
  const report = reportWhenDue ? session.runningReport(next) : session.report('running', false, next);
  session.state = withoutRecorded(next);
  session.folds += 1;
  session.slots[slot].folded = true;
  const finish = {
    memoryStop: newlyStopped(before, next, verdict.fingerprint),
    sessionId: next.sessionId,
    runId: pick.runId,
    phaseId: pick.phaseId,
    attempt,
    verdict,
    report,
    ...(reportWhenDue ? { reportDue: true } : {}),
    database,
  };
  const nextPick = nextInput?.() ?? null;
  if (nextPick) return quick.finishPhaseAndPick({ ...finish, next: nextPick });
  // Concurrent writes of slots are safe: the writer refuses a report older than the file's.
  return shortActivities(session.slots.length).finishPhase(finish);
}

/**
 * One phase in slot `slot`: baseline → drain → judge → record (verdict, session JSON, lease
 * released; with `nextInput`, also the slot's next pick, which it returns). The result is
 * folded into the session state as soon as it arrives (other slots may have folded theirs
 * meanwhile, so the state is read after the await, never before).
 */
export async function drainOne(
  session: DrainSession,
  pick: PhaseRef,
  slot = 0,
  nextInput?: () => SelectParams | null,
): Promise<Selection | null> {
  const { config } = session;
  const at: Where = { p: session.p, database: session.database };
  const timeoutSeconds = cappedPhaseTimeout(session.state, config, Date.now());
  // A phase that keeps producing output may run up to this (null: the base timeout is the limit).
  const maxTimeoutSeconds = cappedMaxPhaseTimeout(session.state, config, Date.now());
  const baselineInDrain = drainEnsuresBaseline(session);
  const baseline = baselineInDrain ? (session.baseline ?? null) : await ensureBaseline(session, at);
  if (config.baselineCommand && !baselineInDrain) session.baseline = baseline;
  const attempt = startAttempt(session, pick, slot, timeoutSeconds);
  const req = drainRequest(session, pick, slot, at, {
    attempt,
    timeoutSeconds,
    maxTimeoutSeconds,
    baseline,
    baselineInDrain,
  });
  // The activity's own timeout must cover the longest the executor may run.
  const outcome = await drainProxy(maxTimeoutSeconds ?? timeoutSeconds, config)
    .drainPhase(req)
    .catch((err: unknown) => abandonOnExhaustedTries(err, req, config.maxDrainTries));
  const next = await recordOutcome(session, pick, slot, attempt, outcome, at.database, nextInput);
  session.slots[slot].current = null;
  return next ?? null;
}
