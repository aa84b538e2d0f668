/**
 * Progress-aware timeouts (`--stall-seconds`, `--max-phase-timeout-seconds`): whether a running
 * try goes on, is stalled, times out, or runs past its base timeout because it keeps producing
 * output. Pure; the drain activity asks it several times a second, and the workflow uses
 * cappedMaxPhaseTimeout to size the activity's timeout.
 *
 * Definitions (all in seconds since the executor started):
 * - **quiet**: the shorter of "since the executor last wrote output" (its stdout or stderr grew)
 *   and "since the database last changed" (the phase row's state, last_failure_reason or
 *   updated_at, or the phase's telemetry row count). An executor that never wrote counts as
 *   quiet since its start.
 * - **stalled**: quiet for `stall` seconds (only with `--stall-seconds`). It is stopped like a
 *   timed-out executor and recorded as a timeout that is also `stalled`.
 * - **keeps producing output**: it wrote output within the last W = min(stall ?? 60, base)
 *   seconds. Its deadline is then clamp(last output + W, base, max): at the base timeout a phase
 *   that wrote within the last W seconds goes on, and keeps going as long as it writes again
 *   within every W seconds, never past max. Database changes alone do not extend it.
 * - without `--max-phase-timeout-seconds` (or max ≤ base) the deadline is the base timeout.
 * When a stall and the deadline fall on the same moment, the stall wins (it says more).
 */
import { cappedPhaseTimeout, remainingSeconds } from './stop-conditions.js';
import type { SessionState } from './session-state.js';
import type { DrainConfig } from './types.js';

/** W without --stall-seconds: output within the last minute (or the base timeout, if shorter). */
const DEFAULT_ACTIVE_WINDOW_SECONDS = 60;

export interface TryClockInput {
  elapsedSeconds: number;
  /** Since the executor's stdout or stderr last grew; since its start when it never wrote. */
  sinceOutputSeconds: number;
  /** Since the phase's row or telemetry rows were last seen to change (known unchanged for this long). */
  sinceDbChangeSeconds: number;
  baseTimeoutSeconds: number;
  maxTimeoutSeconds: number | null;
  stallSeconds: number | null;
}

export type TryClockDecision =
  /** Before the base timeout, not stalled. */
  | { kind: 'go-on' }
  /** Past the base timeout because it keeps producing output; `untilSeconds` is its deadline now. */
  | { kind: 'extended'; untilSeconds: number }
  /** Quiet for `stallSeconds`; `atSeconds` is when it became stalled. */
  | { kind: 'stalled'; stallSeconds: number; atSeconds: number }
  /** Its deadline passed: `limitSeconds` (> base only when it was extended). */
  | { kind: 'timeout'; limitSeconds: number; extended: boolean };

/** W: how recent output must be for a phase to count as still producing it. */
export function activeWindowSeconds(baseTimeoutSeconds: number, stallSeconds: number | null): number {
  return Math.min(stallSeconds ?? DEFAULT_ACTIVE_WINDOW_SECONDS, baseTimeoutSeconds);
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The try's deadline now: the base timeout, or clamp(last output + W, base, max) with a max. */
function tryDeadline(i: TryClockInput): number {
  const base = i.baseTimeoutSeconds;
  if (i.maxTimeoutSeconds === null || i.maxTimeoutSeconds <= base) return base;
  const lastOutputAt = clamp(i.elapsedSeconds - i.sinceOutputSeconds, 0, i.elapsedSeconds);
  return clamp(lastOutputAt + activeWindowSeconds(base, i.stallSeconds), base, i.maxTimeoutSeconds);
}

/** What becomes of a running try now (see the module comment). */
export function tryClock(i: TryClockInput): TryClockDecision {
  const elapsed = Math.max(0, i.elapsedSeconds);
  const deadline = tryDeadline(i);
  if (i.stallSeconds !== null) {
    const quiet = clamp(Math.min(i.sinceOutputSeconds, i.sinceDbChangeSeconds), 0, elapsed);
    const stalledAt = elapsed - quiet + i.stallSeconds;
    if (quiet >= i.stallSeconds && stalledAt <= deadline) {
      return { kind: 'stalled', stallSeconds: i.stallSeconds, atSeconds: stalledAt };
    }
  }
  if (elapsed >= deadline) {
    return { kind: 'timeout', limitSeconds: deadline, extended: deadline > i.baseTimeoutSeconds };
  }
  if (elapsed >= i.baseTimeoutSeconds) return { kind: 'extended', untilSeconds: deadline };
  return { kind: 'go-on' };
}

/**
 * The longest a phase may run (--max-phase-timeout-seconds), capped like the base timeout by the
 * session's time left, never below the (capped) base timeout; null without a maximum.
 */
export function cappedMaxPhaseTimeout(
  state: SessionState,
  config: DrainConfig,
  nowMs: number,
): number | null {
  if (config.maxPhaseTimeoutSeconds == null) return null;
  const base = cappedPhaseTimeout(state, config, nowMs);
  const left = remainingSeconds(state, nowMs);
  const max = left == null ? config.maxPhaseTimeoutSeconds : Math.min(config.maxPhaseTimeoutSeconds, left);
  return Math.max(base, Math.floor(max));
}
