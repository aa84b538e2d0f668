import { readFileSync } from 'node:fs';
import type { Queryable } from '../db/pool.js';
import { groupMembers, isProcessAlive, terminateGroup } from './process-group.js';

/** Does some live member of the group carry this session's executor environment? */
function groupIsExecutorOf(pgid: number, sessionId: string, runId: string): boolean {
  for (const pid of groupMembers(pgid)) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`DRAIN_SESSION_ID=${sessionId}`) && env.includes(`DRAIN_RUN_ID=${runId}`)) return true;
    } catch {
      /* gone, or not ours to read */
    }
  }
  return false;
}

/**
 * On worker start: an executor started on this host by a worker process that is gone, whose
 * try was already marked interrupted (its drain was retried on another host, which could not
 * kill it), and that is still running, is killed. Tries still 'running' are left to their
 * activity retry, which kills and reconciles them itself. The process group is only killed
 * when its processes carry that attempt's DRAIN_SESSION_ID/DRAIN_RUN_ID (no pid reuse
 * accidents). Linux only (reads /proc); returns the pgids it stopped.
 */
export async function reapOrphanedExecutors(db: Queryable, host: string, graceMs: number): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const res = await db.query<{ session_id: string; run_id: string; pid: number; worker_identity: string }>(
    `SELECT session_id, run_id, pid, worker_identity FROM drain_attempts
     WHERE pid IS NOT NULL AND status = 'interrupted'
       AND worker_identity LIKE $1 AND started_at > now() - interval '7 days'`,
    [`drain-worker@${host}:%`],
  );
  const stopped: number[] = [];
  for (const r of res.rows) {
    const workerPid = Number(r.worker_identity.slice(r.worker_identity.lastIndexOf(':') + 1));
    if (workerPid && isProcessAlive(workerPid)) continue; // its worker still runs it
    if (!groupIsExecutorOf(r.pid, r.session_id, r.run_id)) continue;
    await terminateGroup(r.pid, graceMs);
    stopped.push(r.pid);
  }
  return stopped;
}
