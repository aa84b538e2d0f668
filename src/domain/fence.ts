/**
 * The bounds of fenced tries (issue 17), one place:
 *   R  renewal period of a try's fence and lease by its supervisor (DRAIN_FENCE_RENEW_MS, 2000);
 *      each renewal is bounded by a statement timeout of R too;
 *   F  a supervisor that could not renew for F seconds ends its executor (DRAIN_FENCE_SECONDS, 10);
 *   S  a retry (on any host) treats an earlier try as over once its fence is older than S =
 *      F + R + statement timeout + 2 s of margin: by then its supervisor has ended the executor,
 *      or the supervisor itself is gone and its executor with it (parent-death signal, cgroup);
 *   lease TTL  at least the heartbeat timeout + S, so a run's lease outlives every executor
 *      that may still run under it, and at least the worker's own lease TTL.
 */
export interface FenceBounds {
  renewMs: number;
  fenceSeconds: number;
  /** S, in seconds. */
  overAfterSeconds: number;
}

const MARGIN_SECONDS = 2;

function positive(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw} must be a number >= ${min}`);
  return n;
}

export function fenceBounds(env: Record<string, string | undefined>): FenceBounds {
  const renewMs = positive(env, 'DRAIN_FENCE_RENEW_MS', 2000, 200);
  const fenceSeconds = positive(env, 'DRAIN_FENCE_SECONDS', 10, (2 * renewMs) / 1000);
  return { renewMs, fenceSeconds, overAfterSeconds: fenceSeconds + (2 * renewMs) / 1000 + MARGIN_SECONDS };
}

/** The lease TTL of a try: outlives every executor that may still run under the lease. */
export function leaseTtlSeconds(
  b: FenceBounds,
  heartbeatTimeoutSeconds: number,
  workerTtlSeconds: number,
): number {
  return Math.ceil(Math.max(workerTtlSeconds, heartbeatTimeoutSeconds + b.overAfterSeconds));
}
