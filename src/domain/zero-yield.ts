/**
 * Telemetry yield of an attempt and, when it produced nothing, why.
 */
import type { ZeroYieldReason } from './types.js';

/** events / duration × 60, rounded to two decimals; null for no events or no duration. */
export function yieldPerMinute(events: number, durationSeconds: number | null): number | null {
  if (!Number.isFinite(events) || events <= 0) return null;
  if (durationSeconds === null || !Number.isFinite(durationSeconds) || durationSeconds <= 0) return null;
  return Math.round((events / durationSeconds) * 60 * 100) / 100;
}

export interface ZeroYieldInput {
  events: number;
  success: boolean;
  timedOut: boolean;
  /** Stopped by --stall-seconds (a stall is a timeout too). */
  stalled?: boolean;
  /** Stopped by --max-tokens-per-phase. */
  tokenCapped?: boolean;
  llmBoundaryHit: boolean;
  returnCode: number | null;
  /** Signal that ended the executor, if any (counts as a crash like a non-zero return code). */
  signal?: string | null;
  finalState: string | null;
  lastFailureReason: string | null;
}

/**
 * Why an attempt yielded no telemetry (null when it yielded some). In order:
 * stalled (--stall-seconds) → `stalled`; timed out → `timeout`; succeeded → `success_no_llm_calls`; LLM boundary seen →
 * `llm_boundary_hit`; FAILED with a failure reason (a deterministic failure before
 * the LLM) → `failed_before_llm`; non-zero return code or a signal without a reason →
 * `execution_error`; anything else → `unknown`.
 */
export function zeroYieldReason(o: ZeroYieldInput): ZeroYieldReason | null {
  if (o.events > 0) return null;
  if (o.tokenCapped) return 'token_cap';
  if (o.stalled) return 'stalled';
  if (o.timedOut) return 'timeout';
  if (o.success) return 'success_no_llm_calls';
  if (o.llmBoundaryHit) return 'llm_boundary_hit';
  const hasReason = typeof o.lastFailureReason === 'string' && o.lastFailureReason.trim() !== '';
  if (o.finalState === 'FAILED' && hasReason) return 'failed_before_llm';
  const crashed = (o.returnCode !== null && o.returnCode !== 0) || !!o.signal?.trim();
  if (crashed && !hasReason) return 'execution_error';
  return 'unknown';
}
