import type { DrainConfig } from './types.js';
import type { SessionState } from './session-state.js';
import { formatTokens } from './tokens.js';

/**
 * Why the session must end now, or null to go on. Checked before every pick.
 * `nowMs` is workflow time, so the total-minutes budget survives crashes and restarts.
 */
export function sessionStopReason(
  state: SessionState,
  config: DrainConfig,
  nowMs: number,
  stopRequested: boolean,
): string | null {
  if (stopRequested) return 'stop requested by operator';
  if (state.processed >= config.batchSize) return `batch size reached (${config.batchSize})`;
  if (
    config.maxConsecutiveZeroYield != null &&
    state.consecutiveZeroYield >= config.maxConsecutiveZeroYield
  ) {
    return `${state.consecutiveZeroYield} consecutive attempts with zero telemetry yield (limit: ${config.maxConsecutiveZeroYield})`;
  }
  if (state.deadlineMs != null && nowMs >= state.deadlineMs) {
    return `max total minutes reached (${config.maxTotalMinutes})`;
  }
  // Absent in older inputs (undefined): no budget, the commands of recorded histories unchanged.
  if (config.maxTokens != null && (state.tokensSpent ?? 0) >= config.maxTokens) {
    return tokenBudgetReason(state.tokensSpent ?? 0, config.maxTokens);
  }
  return null;
}

/** The stop reason of a spent token budget (--max-tokens). */
export const tokenBudgetReason = (spent: number, maxTokens: number): string =>
  `token budget reached: ${formatTokens(spent)} tokens spent (--max-tokens ${formatTokens(maxTokens)})`;

/** Seconds left in the session's time budget (null = unlimited). */
export function remainingSeconds(state: SessionState, nowMs: number): number | null {
  if (state.deadlineMs == null) return null;
  return Math.max(0, (state.deadlineMs - nowMs) / 1000);
}

/**
 * The timeout for the next phase: the configured phase timeout, capped so the phase can
 * never overrun the session's deadline. At least one second.
 */
export function cappedPhaseTimeout(state: SessionState, config: DrainConfig, nowMs: number): number {
  const left = remainingSeconds(state, nowMs);
  const t = left == null ? config.phaseTimeoutSeconds : Math.min(config.phaseTimeoutSeconds, left);
  return Math.max(1, Math.floor(t));
}
