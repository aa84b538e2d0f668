import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
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
import { baselineProxy, drainProxy, leanOrchestration, quick, shortActivities } from './proxies.js';
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

/**
 * One phase in slot `slot`: baseline → drain → judge → record (verdict, session JSON, lease
 * released). The result is folded into the session state as soon as it arrives (other slots
 * may have folded theirs meanwhile, so the state is read after the await, never before).
 */
export async function drainOne(session: DrainSession, pick: PhaseRef, slot = 0): Promise<void> {
  const { config } = session;
  const p = session.p;
  const database = session.database;
  const timeoutSeconds = cappedPhaseTimeout(session.state, config, Date.now());
  // A phase that keeps producing output may run up to this (null: the base timeout is the limit).
  const maxTimeoutSeconds = cappedMaxPhaseTimeout(session.state, config, Date.now());
  const lean = leanOrchestration();
  const baselineInDrain = lean && (!config.baselineCommand || session.baseline?.status === 'ok');
  const baseline = baselineInDrain
    ? (session.baseline ?? null)
    : await baselineProxy(config.phaseTimeoutSeconds).ensureBaseline({
        sessionId: session.state.sessionId,
        workspace: p.workspace,
        baselineCommand: config.baselineCommand,
        timeoutSeconds: config.phaseTimeoutSeconds,
        killGraceSeconds: config.killGraceSeconds,
        database,
      });
  if (config.baselineCommand && !baselineInDrain) session.baseline = baseline;
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
  const req = {
    sessionId: session.state.sessionId,
    runId: pick.runId,
    phaseId: pick.phaseId,
    pickedState: pick.state,
    attempt,
    timeoutSeconds,
    maxTimeoutSeconds,
    stallSeconds: config.stallSeconds,
    // Only when set: requests of sessions without a cap stay as they were.
    ...(config.maxTokensPerPhase != null ? { maxTokensPerPhase: config.maxTokensPerPhase } : {}),
    killGraceSeconds: config.killGraceSeconds,
    onKill: config.onKill,
    executor: p.executor,
    workspace: p.workspace,
    apiUrl: p.apiUrl,
    slot,
    baseline,
    ...(baselineInDrain ? { baselineInDrain } : {}),
    database,
  };
  // The activity's own timeout must cover the longest the executor may run.
  const outcome = await drainProxy(maxTimeoutSeconds ?? timeoutSeconds, config)
    .drainPhase(req)
    .catch((err: unknown) => abandonOnExhaustedTries(err, req, config.maxDrainTries));
  // A cached capture is for one commit: when the drain found the workspace elsewhere, ensure again.
  if (session.baseline && outcome.baselineCommit !== session.baseline.commit) session.baseline = null;
  const verdict = judgeAttempt(outcome);
  const before = session.state;
  const next = recordAttempt(before, outcome, verdict, config, session.slotOf(slot));
  const report = session.report('running', false, next);
  session.state = withoutRecorded(next);
  // Concurrent writes of slots are safe: the writer refuses a report older than the file's.
  await shortActivities(session.slots.length).finishPhase({
    memoryStop: newlyStopped(before, next, verdict.fingerprint),
    sessionId: next.sessionId,
    runId: pick.runId,
    phaseId: pick.phaseId,
    attempt,
    verdict,
    report,
    database,
  });
  session.slots[slot].current = null;
}
