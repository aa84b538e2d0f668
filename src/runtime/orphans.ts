import path from 'node:path';
import type { Queryable } from '../db/pool.js';
import { interruptedTriesOnHost } from '../db/orphaned-tries.js';
import { isProcessAlive, procCgroup, procStat, processStartBootMs, selfMountinfo } from './proc.js';
import { TAG_VAR, cgroupPlaces, endTry, processesWithEnv, taggedProcesses } from './containment.js';
import {
  API_OWNER_NS_VAR,
  API_OWNER_START_VAR,
  API_OWNER_VAR,
  API_SESSION_VAR,
  API_SLOT_VAR,
  ownPidNamespace,
} from './api-servers.js';

/**
 * On worker start: an executor started on this host by a worker process that is gone, whose
 * try was already marked interrupted (its drain was retried on another host, which could not
 * kill it), and that is still running, is ended. Tries still 'running' are left to their
 * activity retry, which ends and reconciles them itself. Only processes carrying that try's
 * tag (DRAIN_ATTEMPT_TAG) are touched, so a recycled pid is never killed. Linux only (reads
 * /proc); returns the pgids whose processes it stopped.
 */
export async function reapOrphanedExecutors(db: Queryable, host: string, graceMs: number): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const stopped: number[] = [];
  for (const r of await interruptedTriesOnHost(db, host)) {
    const workerPid = Number(r.worker_identity.slice(r.worker_identity.lastIndexOf(':') + 1));
    if (workerPid && isProcessAlive(workerPid)) continue; // its worker still runs it
    // Recorded on the wall clock; the age guard compares on the boot clock (process-age.ts).
    const startedMs = new Date(r.started_at).getTime();
    if (taggedProcesses(r.tag, startedMs).length === 0) continue;
    await endTry({ pgid: r.pid, tag: r.tag, cgroup: null, startedMs }, graceMs);
    stopped.push(r.pid);
  }
  return stopped;
}

/**
 * Is the worker that started an API server (its environment's API_OWNER_* values) still
 * running? Alive is its pid alive and started when it was recorded (a recycled pid is not it);
 * an owner that cannot be judged counts as alive: its server is left alone.
 */
function apiOwnerAlive(env: Record<string, string>): boolean {
  const pid = Number(env[API_OWNER_VAR]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return true;
  if (!isProcessAlive(pid)) return false;
  const recorded = Number(env[API_OWNER_START_VAR] || NaN);
  if (!Number.isFinite(recorded)) return true;
  const start = processStartBootMs(pid);
  return start !== null && Math.abs(start - recorded) < 1;
}

/** The cgroup `pid` is in, when it is an API server's own (`…/autopack-drain/<tag>`). */
function serverCgroup(pid: number, tag: string): string | null {
  const own = cgroupPlaces(selfMountinfo() ?? '', procCgroup(pid) ?? '')?.own ?? null;
  if (!own || path.basename(own) !== tag || path.basename(path.dirname(own)) !== 'autopack-drain')
    return null;
  return own;
}

/**
 * On worker start: managed API servers (src/runtime/api-servers.ts) left running by a worker
 * that is gone (killed with SIGKILL, it could not stop them) are stopped. They are found by the
 * owner in their environment (DRAIN_API_OWNER: the worker's pid, with its start time and pid
 * namespace); a server whose owner is alive, or whose owner's pid namespace is not ours (its
 * pid means nothing here), is never touched. Each server is ended as a try is (endTry): its
 * process group, its cgroup and every process carrying its tag (DRAIN_ATTEMPT_TAG, unique to
 * that start of that server). Linux only (reads /proc); returns one pid per server stopped.
 */
export async function reapOrphanedApiServers(
  graceMs: number,
  log?: (line: string) => void,
): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const ns = ownPidNamespace();
  const found = processesWithEnv(API_OWNER_VAR, {
    also: [TAG_VAR, API_OWNER_START_VAR, API_OWNER_NS_VAR, API_SESSION_VAR, API_SLOT_VAR],
  });
  const servers = new Map<string, { pids: number[]; env: Record<string, string> }>();
  for (const f of found) {
    const tag = f.env[TAG_VAR];
    if (!tag || (f.env[API_OWNER_NS_VAR] ?? '') !== ns || apiOwnerAlive(f.env)) continue;
    const s = servers.get(tag) ?? { pids: [], env: f.env };
    s.pids.push(f.pid);
    servers.set(tag, s);
  }
  const stopped: number[] = [];
  for (const [tag, s] of servers) {
    // The group's leader when it is still there (the server itself), else the group of a member.
    const leader = s.pids.find((p) => procStat(p)?.pgrp === p) ?? procStat(s.pids[0])?.pgrp ?? null;
    const cgroup = s.pids.map((p) => serverCgroup(p, tag)).find(Boolean) ?? null;
    await endTry(
      { pgid: leader, tag, cgroup, startedMs: 0, startedBootMs: Number.NEGATIVE_INFINITY },
      graceMs,
    );
    log?.(
      `stopped API server of session ${s.env[API_SESSION_VAR] ?? '?'} slot ${s.env[API_SLOT_VAR] ?? '?'} ` +
        `(pid ${s.pids.join(', ')}) left running by dead worker pid ${s.env[API_OWNER_VAR]}`,
    );
    stopped.push(leader ?? s.pids[0]);
  }
  return stopped;
}
