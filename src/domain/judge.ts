import { categorizeFailure } from './categories.js';
import { computeFingerprint } from './fingerprint.js';
import { yieldPerMinute, zeroYieldReason } from './zero-yield.js';
import type { AttemptOutcome, AttemptVerdict } from './types.js';

/** The workflow-side judgement of an attempt: fingerprint, category, yield, zero-yield reason. */
export function judgeAttempt(o: AttemptOutcome): AttemptVerdict {
  if (o.lost || o.abandoned) {
    // Nothing was learned about the phase: no fingerprint, no category, no yield.
    return { fingerprint: null, category: 'unknown', yieldPerMinute: null, zeroYieldReason: null };
  }
  return {
    fingerprint: computeFingerprint({
      success: o.success,
      finalState: o.finalState,
      returnCode: o.returnCode,
      timedOut: o.timedOut,
      stalled: o.stalled === true,
      ...(o.tokenCapped ? { tokenCapped: true } : {}),
      signal: o.signal,
      errorMessage: o.errorMessage,
    }),
    category: o.success ? 'unknown' : categorizeFailure(o.timedOut ? 'timed out' : o.lastFailureReason),
    yieldPerMinute: yieldPerMinute(o.telemetryEvents, o.durationSeconds),
    zeroYieldReason: zeroYieldReason({
      events: o.telemetryEvents,
      success: o.success,
      timedOut: o.timedOut,
      stalled: o.stalled === true,
      tokenCapped: o.tokenCapped === true,
      llmBoundaryHit: o.llmBoundaryHit,
      returnCode: o.returnCode,
      signal: o.signal,
      finalState: o.finalState,
      lastFailureReason: o.lastFailureReason,
    }),
  };
}
