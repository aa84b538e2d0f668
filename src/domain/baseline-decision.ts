/**
 * T0 baseline decisions (plan D1), pure: given the capture rows of one commit, reuse a good
 * capture, wait for the one running, capture (again), or stop trying. A capture that failed,
 * timed out or was interrupted is never a baseline: executors are told to skip theirs
 * (AUTOPACK_SKIP_BASELINE=1) only with a good one.
 */

/** A commit whose captures failed this many times is not captured again. */
export const MAX_FAILED_CAPTURES = 3;

/** Status of one capture try (drain_baseline_captures.status). */
export type CaptureStatus = 'running' | 'ok' | 'failed' | 'timeout' | 'interrupted';

/** Captures that count towards MAX_FAILED_CAPTURES. */
const FAILED_CAPTURE_STATUSES: readonly string[] = ['failed', 'timeout', 'interrupted'];

/**
 * What an attempt's executor is told (BaselineInfo.status): `ok` a good capture (the only
 * status with an artifact path); `failed` / `timeout` / `interrupted` this call's capture;
 * `exhausted` the bound of failed captures is reached, nothing is captured any more;
 * `pending` another capture is still running (or no time was left to capture); `none` no
 * baseline command.
 */
export type BaselineStatus = 'none' | 'ok' | 'failed' | 'timeout' | 'interrupted' | 'exhausted' | 'pending';

/** The facts of one capture row the decision needs. */
export interface CaptureFact {
  id: string;
  status: string;
  /** A running capture whose claim lapsed (expires_at in the past, by the database clock). */
  expired: boolean;
  error: string | null;
  artifactPath: string | null;
}

type BaselineDecision =
  /** A good capture exists: tell executors to use it. */
  | { kind: 'reuse'; capture: CaptureFact; expire: string[] }
  /** Another capture of the commit is running: wait for it, then decide again. */
  | { kind: 'wait'; capture: CaptureFact; expire: string[] }
  /** Capture now, as the commit's capture number `attempt`. */
  | { kind: 'capture'; attempt: number; expire: string[] }
  /** A capture is due but cannot finish in the time left: tell executors nothing for now. */
  | { kind: 'no-time'; expire: string[] }
  /** MAX_FAILED_CAPTURES reached: never capture this commit again, tell executors nothing. */
  | { kind: 'exhausted'; failures: number; last: CaptureFact; expire: string[] };

/** A running capture whose claim lapsed: its worker is gone; it is marked interrupted. */
const isStale = (c: CaptureFact): boolean => c.status === 'running' && c.expired;

/**
 * What to do about a commit's baseline, given its capture rows in id order. Lapsed running
 * claims (`expire`, to be marked interrupted in the same transaction) count as interrupted.
 */
export function decideBaseline(
  rows: readonly CaptureFact[],
  o: { maxFailed?: number; canCapture?: boolean } = {},
): BaselineDecision {
  const maxFailed = o.maxFailed ?? MAX_FAILED_CAPTURES;
  const expire = rows.filter(isStale).map((c) => c.id);
  const good = rows.find((c) => c.status === 'ok');
  if (good) return { kind: 'reuse', capture: good, expire };
  const running = rows.find((c) => c.status === 'running' && !c.expired);
  if (running) return { kind: 'wait', capture: running, expire };
  const failed = rows.filter((c) => FAILED_CAPTURE_STATUSES.includes(c.status) || isStale(c));
  if (failed.length >= maxFailed) {
    return { kind: 'exhausted', failures: failed.length, last: failed[failed.length - 1], expire };
  }
  if (o.canCapture === false) return { kind: 'no-time', expire };
  return { kind: 'capture', attempt: rows.length + 1, expire };
}

/** Time a capture needs beyond its timeout and kill grace: claim, rename, record. */
const CAPTURE_MARGIN_SECONDS = 15;

/**
 * A running capture's claim lapses this long after its worker last renewed it (every
 * heartbeat); the next claimer then marks it interrupted and may capture again.
 */
export const CLAIM_TTL_SECONDS = 60;

/** Can a capture of `timeoutSeconds` (plus the kill grace and a margin) finish in `remainingMs`? */
export function captureFits(remainingMs: number, timeoutSeconds: number, graceSeconds: number): boolean {
  return remainingMs >= (timeoutSeconds + graceSeconds + CAPTURE_MARGIN_SECONDS) * 1000;
}

/** The status of a finished capture from its exit facts. */
export function captureStatusOf(p: {
  spawnError: string | null;
  timedOut: boolean;
  cancelled: boolean;
  exitCode: number | null;
}): Exclude<CaptureStatus, 'running'> {
  if (p.cancelled) return 'interrupted';
  if (p.timedOut) return 'timeout';
  if (p.spawnError !== null) return 'failed';
  return p.exitCode === 0 ? 'ok' : 'failed';
}

/** One sentence about a capture that is not ok (null for ok), naming its output file. */
export function captureError(p: {
  status: Exclude<CaptureStatus, 'running'>;
  spawnError: string | null;
  exitCode: number | null;
  signal: string | null;
  timeoutSeconds: number;
  durationSeconds: number;
  outputPath: string | null;
}): string | null {
  if (p.status === 'ok') return null;
  const out = p.outputPath ? `; output: ${p.outputPath}` : '';
  if (p.status === 'interrupted') return `baseline capture cancelled after ${p.durationSeconds}s${out}`;
  if (p.status === 'timeout') {
    return `baseline command timed out after ${p.timeoutSeconds}s; its process group was killed${out}`;
  }
  if (p.spawnError !== null) return `baseline command could not be started: ${p.spawnError}${out}`;
  const how = p.signal ? `was killed by ${p.signal}` : `exited ${p.exitCode ?? 'without an exit code'}`;
  return `baseline command ${how} after ${p.durationSeconds}s${out}`;
}

/** The error an executor's attempt carries when the bound is reached. */
export function exhaustedError(key: string, failures: number, last: CaptureFact): string {
  const why = last.error ? ` (last: ${last.error})` : '';
  return `${failures} baseline captures of ${key} failed${why}; not capturing it again`;
}

/** The file name stem of a capture's output: one file per capture, never shared. */
export function captureFileName(safeKey: string, captureId: string, ok: boolean): string {
  return `${safeKey}.c${captureId}${ok ? '' : '.failed'}.txt`;
}

/** The temporary name a capture writes to before it is renamed into place. */
export function captureTempName(safeKey: string, captureId: string): string {
  return `.${safeKey}.c${captureId}.tmp`;
}
