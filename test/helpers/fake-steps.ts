/**
 * What a drain try of the fake backlog (test/helpers/fake-activities.ts) does, and the
 * AttemptOutcome it reports: the shape activities/drain.ts returns, with the facts a step sets.
 */
import type { DrainRequest } from '../../activities/drain-env.js';
import type { AttemptTokens } from '../../src/domain/tokens.js';
import type { AttemptOutcome, PhaseRef } from '../../src/domain/types.js';

/** What one drain try of a phase does. */
export type Step =
  /** The phase ends COMPLETE with `events` telemetry rows (default 1). */
  | { kind: 'success'; events?: number; tokens?: number; ms?: number; commit?: string }
  /** The phase ends FAILED with `error` as its reason (fingerprinted by the workflow). */
  | { kind: 'failure'; error: string; events?: number; tokens?: number; ms?: number; commit?: string }
  /** Our timeout stopped it: left EXECUTING, or FAILED with --on-kill fail. */
  | { kind: 'timeout'; tokens?: number; ms?: number }
  /**
   * The activity itself fails (a worker-side error): retried by Temporal up to the drain's
   * tries, never an outcome; `type` and `nonRetryable` as an ApplicationFailure's.
   */
  | { kind: 'throw'; message: string; type?: string; nonRetryable?: boolean; ms?: number };

/** A step that ends with an outcome (not thrown). */
export type OutcomeStep = Exclude<Step, { kind: 'throw' }>;

/** The phase row after the try (what the executor left). */
export function phaseAfter(step: OutcomeStep, req: DrainRequest, ref: PhaseRef): PhaseRef {
  if (step.kind === 'success') return { ...ref, state: 'COMPLETE', lastFailureReason: null };
  if (step.kind === 'failure') return { ...ref, state: 'FAILED', lastFailureReason: step.error };
  return req.onKill === 'fail'
    ? { ...ref, state: 'FAILED', lastFailureReason: 'timed out (handed back by the drain)' }
    : { ...ref, state: 'EXECUTING' };
}

/** The outcome of a try that ran `durationSeconds` on `baselineCommit`, leaving `after`. */
export function outcomeOfStep(
  step: OutcomeStep,
  req: DrainRequest,
  facts: { after: PhaseRef; tokens: AttemptTokens; durationSeconds: number; baselineCommit: string },
): AttemptOutcome {
  const { tokens, durationSeconds, baselineCommit } = facts;
  const common = { tokens, durationSeconds, baselineCommit, finalState: facts.after.state };
  if (step.kind === 'success')
    return outcome(req, { ...common, success: true, returnCode: 0, telemetryEvents: step.events ?? 1 });
  if (step.kind === 'failure')
    return outcome(req, {
      ...common,
      returnCode: 1,
      lastFailureReason: step.error,
      errorMessage: step.error,
      telemetryEvents: step.events ?? 0,
    });
  return outcome(req, {
    ...common,
    finalState: 'EXECUTING',
    lastFailureReason: req.onKill === 'fail' ? facts.after.lastFailureReason : null,
    timedOut: true,
    signal: 'SIGTERM',
    errorMessage: `timed out after ${req.timeoutSeconds}s`,
  });
}

/** A complete AttemptOutcome: a failure with no telemetry unless `o` says otherwise. */
export function outcome(req: DrainRequest, o: Partial<AttemptOutcome>): AttemptOutcome {
  const now = new Date().toISOString();
  return {
    runId: req.runId,
    phaseId: req.phaseId,
    attempt: req.attempt,
    initialState: req.pickedState ?? 'FAILED',
    finalState: null,
    success: false,
    returnCode: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    reconciled: false,
    exitKnown: true,
    durationSeconds: 0,
    stdoutPath: null,
    stderrPath: null,
    stdoutExcerpt: '',
    stderrExcerpt: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    lastFailureReason: null,
    errorMessage: null,
    llmBoundaryHit: false,
    telemetryEvents: 0,
    telemetryGlobalDelta: o.telemetryEvents ?? 0,
    telemetryByTable: null,
    runCountsBefore: null,
    runCountsAfter: null,
    phaseChanged: true,
    interruptedTries: 0,
    processesReaped: 0,
    lost: false,
    abandoned: false,
    startedAt: now,
    finishedAt: now,
    workerIdentity: 'fake-worker',
    baselineCommit: req.baseline?.commit ?? null,
    ...o,
  };
}
