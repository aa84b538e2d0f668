/**
 * Failure fingerprints: `STATE|bucket|normalised error` strings that identify
 * "the same failure again", so repeats can be counted and stopped. The error part is
 * `normalizeErrorText` (`./normalize.ts`: one failure → one text, two failures → two),
 * at most FINGERPRINT_ERROR_MAX code points: a longer one is cut, and ` #` + the FNV-1a
 * digest of the whole normalised text is appended, so two messages that differ past the
 * cut keep two fingerprints. For a Python traceback or pytest output it starts with the
 * failure itself (final exception, innermost frame; summary lines), so the cut never keeps
 * only a shared preamble.
 */
import { fnv1a32Hex } from './files.js';
import { normalizeErrorText } from './normalize.js';

/** Longest normalised error kept in a fingerprint, in code points (as the original `[:200]`). */
export const FINGERPRINT_ERROR_MAX = 200;
/** What a cut error ends with: ` #` and 8 hex digits. */
const DIGEST_CHARS = 10;

/**
 * Bucket an executor exit for fingerprints. Checked in this order:
 * our own timeout, or return code -1 (the original's timeout marker) → `timeout`;
 * return code 143 or signal SIGTERM → `timeout143`; 0 → `rc0`; N → `rcN`;
 * no return code but a signal → `sig` + lower-case name without `SIG` (`sigkill`);
 * neither → `rcnone`.
 */
export function returnCodeBucket(
  returnCode: number | null,
  timedOut: boolean,
  signal?: string | null,
): string {
  if (timedOut || returnCode === -1) return 'timeout';
  const sig = typeof signal === 'string' ? signal.trim() : '';
  if (returnCode === 143 || sig.toUpperCase() === 'SIGTERM') return 'timeout143';
  if (returnCode !== null && returnCode !== undefined) return `rc${returnCode}`;
  if (sig !== '') return 'sig' + sig.replace(/^sig/i, '').toLowerCase();
  return 'rcnone';
}

/** The first `max` code points of `s` (never splits a surrogate pair). */
export function sliceCodePoints(s: string, max: number): string {
  let count = 0;
  let i = 0;
  while (i < s.length && count < max) {
    const hi = s.charCodeAt(i);
    const lo = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    i += hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff ? 2 : 1;
    count++;
  }
  return s.slice(0, i);
}

export interface FingerprintInput {
  success: boolean;
  finalState: string | null;
  returnCode: number | null;
  timedOut: boolean;
  /** Stopped by --stall-seconds: its own bucket, `STALLED|stalled|…`. */
  stalled?: boolean;
  /** Stopped by --max-tokens-per-phase: its own bucket, `TOKEN_CAP|token-cap|…`. */
  tokenCapped?: boolean;
  signal?: string | null;
  errorMessage: string | null;
}

/**
 * `STATE|bucket|normalised error` (at most 200 code points: fingerprintError), or
 * `STATE|bucket` without an error message (or one that normalises to nothing); null for a
 * success. STATE|bucket is `STALLED|stalled`
 * when --stall-seconds stopped the executor; else STATE is `TIMEOUT` when our timeout fired,
 * else the final state (`UNKNOWN` when null or blank).
 */
export function computeFingerprint(r: FingerprintInput): string | null {
  if (r.success) return null;
  const state = r.tokenCapped
    ? 'TOKEN_CAP'
    : r.stalled
      ? 'STALLED'
      : r.timedOut
        ? 'TIMEOUT'
        : r.finalState?.trim() || 'UNKNOWN';
  const bucket = r.tokenCapped
    ? 'token-cap'
    : r.stalled
      ? 'stalled'
      : returnCodeBucket(r.returnCode, r.timedOut, r.signal);
  const parts = [state, bucket];
  if (r.errorMessage) {
    const normalised = fingerprintError(normalizeErrorText(r.errorMessage));
    if (normalised !== '') parts.push(normalised);
  }
  return parts.join('|');
}

/**
 * The error part of a fingerprint: the normalised text itself up to FINGERPRINT_ERROR_MAX code
 * points; past that its first code points, ` #` and the digest of all of it (same length bound).
 */
export function fingerprintError(normalised: string): string {
  const head = sliceCodePoints(normalised, FINGERPRINT_ERROR_MAX);
  if (head.length === normalised.length) return head.trimEnd();
  const kept = sliceCodePoints(head, FINGERPRINT_ERROR_MAX - DIGEST_CHARS).trimEnd();
  return `${kept} #${fnv1a32Hex(normalised)}`;
}
