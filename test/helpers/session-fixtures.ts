/** Fixtures shared by the session-state unit tests: outcomes, verdicts, configs, replay. */
import { parseDrainInput } from '../../src/domain/input.js';
import { newSessionState, recordAttempt, type SessionState } from '../../src/domain/session-state.js';
import type { AttemptOutcome, AttemptVerdict, DrainConfig, ZeroYieldReason } from '../../src/domain/types.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

export const T0 = Date.parse('2025-12-28T06:00:07Z');

export function outcome(runId: string, phaseId: string, over: Partial<AttemptOutcome> = {}): AttemptOutcome {
  return {
    runId,
    phaseId,
    attempt: 1,
    initialState: 'FAILED',
    finalState: 'FAILED',
    success: false,
    returnCode: 1,
    signal: null,
    timedOut: false,
    cancelled: false,
    reconciled: false,
    exitKnown: true,
    telemetryByTable: null,
    runCountsBefore: null,
    runCountsAfter: null,
    phaseChanged: null,
    interruptedTries: 0,
    processesReaped: 0,
    lost: false,
    abandoned: false,
    durationSeconds: 10,
    stdoutPath: null,
    stderrPath: null,
    stdoutExcerpt: '',
    stderrExcerpt: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    lastFailureReason: 'boom',
    errorMessage: 'boom',
    llmBoundaryHit: false,
    telemetryEvents: 0,
    telemetryGlobalDelta: 0,
    startedAt: '2025-12-28T06:00:07.000Z',
    finishedAt: '2025-12-28T06:00:17.000Z',
    workerIdentity: 'test-worker',
    baselineCommit: null,
    ...over,
  };
}

/** One attempt of a scenario: the outcome's facts and the verdict's fingerprint / zero-yield reason. */
export interface Step {
  run: string;
  phase?: string;
  attempt?: number;
  ok?: boolean;
  timeout?: boolean;
  cancelled?: boolean;
  events?: number;
  globalDelta?: number;
  seconds?: number;
  llm?: boolean;
  /** Fingerprint; default: null for a success, `FAILED|rc1|boom` for a failure, `TIMEOUT|timeout` for a timeout. */
  fp?: string | null;
  zy?: ZeroYieldReason | null;
}

export function toOutcome(s: Step): AttemptOutcome {
  return outcome(s.run, s.phase ?? 'p1', {
    attempt: s.attempt ?? 1,
    success: !!s.ok,
    finalState: s.ok ? 'COMPLETE' : s.timeout ? 'EXECUTING' : 'FAILED',
    returnCode: s.ok ? 0 : s.timeout ? null : 1,
    timedOut: !!s.timeout,
    cancelled: !!s.cancelled,
    telemetryEvents: s.events ?? 0,
    telemetryGlobalDelta: s.globalDelta ?? s.events ?? 0,
    durationSeconds: s.seconds ?? 10,
    llmBoundaryHit: !!s.llm,
  });
}

export function toVerdict(s: Step): AttemptVerdict {
  const fp = s.fp !== undefined ? s.fp : s.ok ? null : s.timeout ? 'TIMEOUT|timeout' : 'FAILED|rc1|boom';
  const zy =
    s.zy !== undefined
      ? s.zy
      : (s.events ?? 0) > 0
        ? null
        : s.timeout
          ? 'timeout'
          : s.ok
            ? 'success_no_llm_calls'
            : 'failed_before_llm';
  return { fingerprint: fp, category: 'other', yieldPerMinute: null, zeroYieldReason: zy };
}

export const cfg = (over: Partial<DrainConfig> = {}): DrainConfig => parseDrainInput(over);
export const fresh = (config: DrainConfig = cfg()): SessionState =>
  newSessionState('batch-drain-test', T0, config);

export function play(
  steps: Step[],
  config: DrainConfig = cfg(),
  from: SessionState = fresh(config),
): SessionState {
  return steps.reduce((st, s) => recordAttempt(st, toOutcome(s), toVerdict(s), config), from);
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
