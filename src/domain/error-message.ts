/**
 * The error message recorded for a failed drain attempt (reliability plan A3):
 * the phase's own `last_failure_reason` when there is one, else a sentence built
 * from the subprocess evidence (timeout, cancel, return code or signal, log
 * paths). Never a bare "Unknown error".
 */

/** Marker a failure reason carries when the executor asks for a larger token budget. */
export const TOKEN_ESCALATION_MARKER = 'TOKEN_ESCALATION';
/** Appended to such reasons. */
export const RETRYABLE_SUFFIX = ' [RETRYABLE: token budget escalation needed]';

export interface ErrorMessageInput {
  success: boolean;
  finalState: string | null;
  lastFailureReason: string | null;
  returnCode: number | null;
  signal: string | null;
  timedOut: boolean;
  timeoutSeconds: number;
  /** Stopped by --stall-seconds (timedOut is true as well). */
  stalled?: boolean;
  stallSeconds?: number | null;
  /** Stopped by --max-tokens-per-phase, its cap, and what the phase had spent (null: unknown). */
  tokenCapped?: boolean;
  maxTokensPerPhase?: number | null;
  tokensSpent?: number | null;
  /** The deadline a timed-out phase reached after running past its base timeout (kept writing output). */
  extendedToSeconds?: number | null;
  cancelled?: boolean;
  stdoutPath: string | null;
  stderrPath: string | null;
  stdoutBytes: number;
  stderrBytes: number;
}

/** `stderr: /x/y.txt (12 bytes)`, `stderr: /x/y.txt (empty)`, `stdout: no log`. */
function logRef(stream: 'stdout' | 'stderr', path: string | null, bytes: number): string {
  if (path === null || path === '') return `${stream}: no log`;
  const n = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
  return `${stream}: ${path} (${n === 0 ? 'empty' : n === 1 ? '1 byte' : `${n} bytes`})`;
}

/** `return code 2`, `killed by SIGKILL`, `return code 1, signal SIGTERM`, `no return code`. */
function exitRef(returnCode: number | null, signal: string | null): string {
  const sig = signal?.trim() || null;
  if (returnCode !== null && sig) return `return code ${returnCode}, signal ${sig}`;
  if (returnCode !== null) return `return code ${returnCode}`;
  if (sig) return `killed by ${sig}`;
  return 'no return code';
}

/** The stderr log, or the stdout log when stderr is empty and stdout is not (A3). */
function mainLog(o: ErrorMessageInput): string {
  if (!(o.stderrBytes > 0) && o.stdoutBytes > 0) {
    return `${logRef('stdout', o.stdoutPath, o.stdoutBytes)}; stderr empty`;
  }
  return logRef('stderr', o.stderrPath, o.stderrBytes);
}

const state = (s: string | null): string => s?.trim() || 'UNKNOWN';

/**
 * Error message of an attempt; null on success. With a failure reason: the reason
 * (plus RETRYABLE_SUFFIX when it contains TOKEN_ESCALATION). Without one, in order:
 * stalled, timed out, cancelled, crashed (non-zero return code, signal, or no return code),
 * exited 0 without reaching COMPLETE; each names the evidence and the log paths.
 */
export function buildErrorMessage(o: ErrorMessageInput): string | null {
  if (o.success) return null;
  const reason = o.lastFailureReason;
  if (reason !== null && reason !== undefined && reason.trim() !== '') {
    return reason.includes(TOKEN_ESCALATION_MARKER) ? reason + RETRYABLE_SUFFIX : reason;
  }
  const exit = exitRef(o.returnCode, o.signal);
  const finalState = `final state ${state(o.finalState)}`;
  const stderr = logRef('stderr', o.stderrPath, o.stderrBytes);
  const stdout = logRef('stdout', o.stdoutPath, o.stdoutBytes);
  const NO_REASON = 'no failure reason recorded';
  if (o.tokenCapped) {
    const spent = o.tokensSpent != null ? `${o.tokensSpent} tokens spent, ` : '';
    const cap = o.maxTokensPerPhase != null ? ` of ${o.maxTokensPerPhase}` : '';
    return `phase stopped at its token cap (${spent}cap${cap} per phase; ${NO_REASON}; ${exit}; ${finalState}; ${stderr}; ${stdout})`;
  }
  if (o.stalled) {
    const quiet = o.stallSeconds != null ? ` for ${o.stallSeconds}s` : '';
    return `phase stalled: no output and no database change${quiet} (${NO_REASON}; ${exit}; ${finalState}; ${stderr}; ${stdout})`;
  }
  if (o.timedOut) {
    const after =
      o.extendedToSeconds != null && o.extendedToSeconds > o.timeoutSeconds
        ? `${o.extendedToSeconds}s (ran past its ${o.timeoutSeconds}s timeout while writing output)`
        : `${o.timeoutSeconds}s`;
    return `phase timed out after ${after} (${NO_REASON}; ${exit}; ${finalState}; ${stderr}; ${stdout})`;
  }
  if (o.cancelled) {
    return `phase cancelled (${NO_REASON}; ${exit}; ${finalState}; ${stderr}; ${stdout})`;
  }
  if (o.returnCode !== 0) {
    const how =
      o.returnCode !== null
        ? `executor exited with ${exit}`
        : o.signal?.trim()
          ? `executor ${exit}`
          : 'executor ended without a return code';
    return `${how} and ${NO_REASON} (${finalState}; ${mainLog(o)})`;
  }
  return `executor exited 0 but the phase is ${state(o.finalState)} (${NO_REASON}; ${stdout}; ${stderr})`;
}
