import { readdirSync, readFileSync } from 'node:fs';

/** Live (non-zombie) pids of a process group; Linux reads /proc, elsewhere kill(-pgid, 0). */
export function groupMembers(pgid: number): number[] {
  if (process.platform === 'linux') {
    const out: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // pid (comm) state ppid pgrp ... ; comm may contain spaces and parentheses
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') out.push(Number(name));
      } catch {
        /* the process ended while we looked */
      }
    }
    return out;
  }
  try {
    process.kill(-pgid, 0);
    return [pgid];
  } catch {
    return [];
  }
}

export function isGroupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** Sends a signal to every process of the group; false when none is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the group is gone; true if it is, false after `ms`. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isGroupAlive(pgid)) return true;
    await sleep(50);
  }
  return !isGroupAlive(pgid);
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
