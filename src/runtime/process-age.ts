/**
 * The process-age guard of containment: a process is only taken for a try's when it started
 * after the try did (less 2 s of slack), so a recycled pid is never killed. Both times are on
 * the kernel's boot clock (CLOCK_BOOTTIME: a process's starttime in /proc/<pid>/stat and
 * /proc/uptime both count from boot), never on the wall clock, which a VM resume or an NTP step
 * moves by seconds: a wall-clock step no longer makes our own executor look older than its try.
 *
 * A try's start on the boot clock is noted when the try starts (noteTryStart, by its tag:
 * containment does it when it makes the try's cgroup, before the spawn) and kept for the
 * worker's life (the latest MAX_NOTED tries). A try this process did not start (a dead worker's,
 * found by its recorded wall-clock start: the database's started_at, a heartbeat's startedAt)
 * has its wall-clock start converted with the boot time of now: a step since that try started
 * is not seen there; its tag and its cgroup still identify its processes.
 *
 * The clocks are injectable (useClocks) for tests.
 */
import { bootMs, processStartBootMs } from './proc.js';

export interface HostClocks {
  /** The wall clock, ms since the epoch. */
  wallMs(): number;
  /** The boot clock, ms since boot (/proc/uptime), or null where it cannot be read. */
  bootMs(): number | null;
  /** When a process started, ms since boot (starttime of /proc/<pid>/stat), or null when gone. */
  processStartBootMs(pid: number): number | null;
}

/** The kernel's clocks, read from /proc (Linux: src/runtime/proc.ts). */
export const procClocks: HostClocks = {
  wallMs: () => Date.now(),
  bootMs,
  processStartBootMs,
};

let clocks: HostClocks = procClocks;

/** Replaces the clocks (tests); returns a function that puts the previous ones back. */
export function useClocks(c: HostClocks): () => void {
  const before = clocks;
  clocks = c;
  return () => {
    clocks = before;
  };
}

/** How much earlier than its try a process may have started and still be taken for the try's. */
export const AGE_SLACK_MS = 2000;
const MAX_NOTED = 4096;
const noted = new Map<string, number>();

/** Notes that the try tagged `tag` starts now (boot clock). Call before its executor is spawned. */
export function noteTryStart(tag: string): void {
  const boot = clocks.bootMs();
  if (boot === null) return;
  noted.delete(tag);
  noted.set(tag, boot);
  while (noted.size > MAX_NOTED) noted.delete(noted.keys().next().value as string);
}

/**
 * The start of the try tagged `tag` on the boot clock: as noted at its start in this process,
 * else its wall-clock start `startedWallMs` converted with the boot time of now.
 */
export function tryStartBootMs(tag: string, startedWallMs: number): number {
  const n = noted.get(tag);
  if (n !== undefined) return n;
  const boot = clocks.bootMs();
  return boot === null ? Number.NEGATIVE_INFINITY : startedWallMs - (clocks.wallMs() - boot);
}

/** Did process `pid` start no earlier than `startBootMs` (less the slack)? False when it is gone. */
export function startedSince(pid: number, startBootMs: number): boolean {
  const start = clocks.processStartBootMs(pid);
  return start !== null && start >= startBootMs - AGE_SLACK_MS;
}
