/**
 * One pure function turns the facts of an attempt into its outcome, for the normal path
 * (the worker watched the executor end) and for crash recovery (a retry found the phase in a
 * terminal state after the worker that watched it died). Nothing else assembles an
 * AttemptOutcome.
 *
 * Success is judged by one rule: the phase is COMPLETE and the executor exited 0 (not timed
 * out, not cancelled, no output cap). When the exit status is unknowable — the worker that
 * watched the executor died before writing the exit record — the phase state alone decides,
 * and the outcome says so (`exitKnown: false`, status `reconciled`).
 */
import { buildErrorMessage } from './error-message.js';
import type { AttemptOutcome, RunStateCounts, TelemetryByTable } from './types.js';
import type { AttemptTokens } from './tokens.js';

export interface ExitFacts {
  returnCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped by --stall-seconds (then timedOut too: a stall is a timeout). Absent in older records. */
  stalled?: boolean;
  /** Stopped by --max-tokens-per-phase (not a timeout). Absent in older records. */
  tokenCapped?: boolean;
  /** The deadline it was stopped at after running past its base timeout (kept writing output). */
  extendedToSeconds?: number | null;
  cancelled: boolean;
  durationSeconds: number;
}

interface LogFacts {
  stdoutPath: string | null;
  stderrPath: string | null;
  stdoutExcerpt: string;
  stderrExcerpt: string;
  /** Bytes the executor itself wrote (our header and trailer excluded). */
  stdoutBytes: number;
  stderrBytes: number;
}

interface PhaseFacts {
  state: string;
  lastFailureReason: string | null;
}

export interface Unjudged {
  kind: 'lost' | 'abandoned';
  reason: string;
}

export interface AttemptFacts {
  runId: string;
  phaseId: string;
  attempt: number;
  timeoutSeconds: number;
  /** --stall-seconds of the try (for the error message of a stalled one). */
  stallSeconds?: number | null;
  /** --max-tokens-per-phase of the try (for the error message of a token-capped one). */
  maxTokensPerPhase?: number | null;
  initialState: string | null;
  /** The phase row after the attempt; null when it vanished. */
  final: PhaseFacts | null;
  /** Null when the exit status is unknowable (recovery without an exit record). */
  exit: ExitFacts | null;
  /** Used when `exit` is null. */
  elapsedSeconds: number;
  reconciled: boolean;
  spawnError: string | null;
  /** The executor passed the output cap and was stopped. */
  outputCapped: { maxBytes: number } | null;
  logs: LogFacts;
  llmBoundaryHit: boolean;
  telemetryEvents: number;
  telemetryGlobalDelta: number;
  telemetryByTable: TelemetryByTable | null;
  /** The phase's and run's tokens_used at start and end, and the spend (absent: not read). */
  tokens?: AttemptTokens | null;
  runCountsBefore: RunStateCounts | null;
  runCountsAfter: RunStateCounts | null;
  phaseChanged: boolean | null;
  interruptedTries: number;
  processesReaped: number;
  /** Not judged, and why: lost (lease gone, phase changed) or abandoned (out of tries); else null. */
  unjudged: Unjudged | null;
  startedAt: string;
  finishedAt: string;
  workerIdentity: string;
  baselineCommit: string | null;
}

/** The success rule (see the module comment). */
export function attemptSucceeded(
  f: Pick<AttemptFacts, 'final' | 'exit' | 'outputCapped' | 'spawnError' | 'unjudged'>,
): boolean {
  if (f.final?.state !== 'COMPLETE' || f.spawnError || f.outputCapped || f.unjudged) return false;
  if (!f.exit) return true;
  return f.exit.returnCode === 0 && !f.exit.timedOut && !f.exit.cancelled && !f.exit.tokenCapped;
}

const reasonOf = (p: PhaseFacts | null): string | null =>
  p?.lastFailureReason?.trim() ? p.lastFailureReason : null;

function errorMessageOf(f: AttemptFacts, success: boolean): string | null {
  if (success) return null;
  if (f.unjudged) return f.unjudged.reason;
  if (f.spawnError) return f.spawnError;
  if (f.outputCapped) {
    return `executor output exceeded ${f.outputCapped.maxBytes} bytes and the executor was stopped; see ${f.logs.stdoutPath}`;
  }
  const exit = f.exit;
  return buildErrorMessage({
    success,
    finalState: f.final ? f.final.state : 'MISSING (phase row not found)',
    lastFailureReason: reasonOf(f.final),
    returnCode: exit?.returnCode ?? null,
    signal: exit?.signal ?? null,
    timedOut: exit?.timedOut ?? false,
    timeoutSeconds: f.timeoutSeconds,
    stalled: exit?.stalled === true,
    stallSeconds: f.stallSeconds ?? null,
    tokenCapped: exit?.tokenCapped === true,
    maxTokensPerPhase: f.maxTokensPerPhase ?? null,
    tokensSpent: f.tokens?.phase ?? null,
    extendedToSeconds: exit?.extendedToSeconds ?? null,
    cancelled: exit?.cancelled ?? false,
    stdoutPath: f.logs.stdoutPath,
    stderrPath: f.logs.stderrPath,
    stdoutBytes: f.logs.stdoutBytes,
    stderrBytes: f.logs.stderrBytes,
  });
}

/** The outcome of an attempt from its facts. Pure. */
export function outcomeFromFacts(f: AttemptFacts): AttemptOutcome {
  const success = attemptSucceeded(f);
  return {
    runId: f.runId,
    phaseId: f.phaseId,
    attempt: f.attempt,
    initialState: f.initialState,
    finalState: f.final?.state ?? null,
    success,
    returnCode: f.exit?.returnCode ?? null,
    signal: f.exit?.signal ?? null,
    timedOut: f.exit?.timedOut ?? false,
    // Only when true: outcomes of older versions (recorded histories, rows) have no such field.
    ...(f.exit?.stalled === true ? { stalled: true } : {}),
    ...(f.exit?.tokenCapped === true ? { tokenCapped: true } : {}),
    cancelled: f.exit?.cancelled ?? false,
    reconciled: f.reconciled,
    exitKnown: f.exit !== null,
    durationSeconds: f.exit?.durationSeconds ?? f.elapsedSeconds,
    ...f.logs,
    lastFailureReason: reasonOf(f.final),
    errorMessage: errorMessageOf(f, success),
    llmBoundaryHit: f.llmBoundaryHit,
    telemetryEvents: f.telemetryEvents,
    telemetryGlobalDelta: f.telemetryGlobalDelta,
    telemetryByTable: f.telemetryByTable,
    // Only when read: outcomes of older versions (recorded histories, rows) have no such field.
    ...(f.tokens ? { tokens: f.tokens } : {}),
    runCountsBefore: f.runCountsBefore,
    runCountsAfter: f.runCountsAfter,
    phaseChanged: f.phaseChanged,
    interruptedTries: f.interruptedTries,
    processesReaped: f.processesReaped,
    lost: f.unjudged?.kind === 'lost',
    abandoned: f.unjudged?.kind === 'abandoned',
    startedAt: f.startedAt,
    finishedAt: f.finishedAt,
    workerIdentity: f.workerIdentity,
    baselineCommit: f.baselineCommit,
  };
}
