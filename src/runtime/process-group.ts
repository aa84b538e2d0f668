import { isLiveStat, isProcessAlive, procPids, procStat, readProc } from './proc.js';

export { isProcessAlive } from './proc.js';

/** Is there any process (zombies included) in the group? One kill(-pgid, 0): no /proc scan. */
function groupMayExist(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: it exists, not ours to signal
  }
}

/** Live (non-zombie) pids of a process group; Linux reads /proc, elsewhere kill(-pgid, 0). */
export function groupMembers(pgid: number): number[] {
  if (!groupMayExist(pgid)) return []; // no process at all, not even a zombie: no scan needed
  if (process.platform === 'linux') {
    return procPids().filter((pid) => {
      const s = procStat(pid);
      return isLiveStat(s) && s!.pgrp === pgid;
    });
  }
  return [pgid];
}

export function isGroupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** Sends a signal to every process of the group; false when none is left. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the group is gone; true if it is, false after `ms`. */
async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isGroupAlive(pgid)) return true;
    await sleep(50);
  }
  return !isGroupAlive(pgid);
}

/**
 * Waits until none of `pids` is alive (zombies count as gone); true if so, false after `ms`.
 * The one wait for processes to go away (groups: waitGroupGone).
 */
export async function waitProcessesGone(pids: number[], ms: number, stepMs = 50): Promise<boolean> {
  const until = Date.now() + ms;
  while (pids.some(isProcessAlive)) {
    if (Date.now() >= until) return false;
    await sleep(stepMs);
  }
  return true;
}

/**
 * Sends `signal` (default SIGTERM) to each of `pids`, waits up to `graceMs` for them to go,
 * then SIGKILLs whatever is left and waits up to 5 s more. Returns whether all are gone.
 */
export async function stopProcesses(
  pids: number[],
  graceMs: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<boolean> {
  const send = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  const alive = pids.filter(isProcessAlive);
  if (alive.length === 0) return true;
  for (const pid of alive) send(pid, signal);
  if (await waitProcessesGone(alive, graceMs)) return true;
  for (const pid of alive) if (isProcessAlive(pid)) send(pid, 'SIGKILL');
  return waitProcessesGone(alive, 5_000);
}

/**
 * SIGTERM to the whole group, then SIGKILL after `graceMs` for whatever is left
 * (children that ignore SIGTERM, grandchildren). Resolves when the group is gone.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!isGroupAlive(pgid)) return;
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 10_000);
}

/** Live processes (Linux /proc) whose command line contains `pattern`, this process excluded. */
export function countProcessesMatching(pattern: string): number {
  if (process.platform !== 'linux' || !pattern) return 0;
  let n = 0;
  for (const pid of procPids()) {
    if (pid === process.pid) continue;
    const cmdline = readProc(`${pid}/cmdline`)?.replace(/\u0000/g, ' ') ?? ''; // null: gone meanwhile
    if (cmdline.includes(pattern) && isProcessAlive(pid)) n++;
  }
  return n;
}
