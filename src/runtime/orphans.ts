import type { Queryable } from '../db/pool.js';
import { isProcessAlive } from './process-group.js';
import { endTry, taggedProcesses } from './containment.js';

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
  const res = await db.query<{ pid: number; worker_identity: string; tag: string; started_at: Date }>(
    `SELECT pid, worker_identity, tag, started_at FROM drain_attempts
     WHERE pid IS NOT NULL AND tag IS NOT NULL AND status = 'interrupted'
       AND worker_identity LIKE $1 AND started_at > now() - interval '7 days'`,
    [`drain-worker@${host}:%`],
  );
  const stopped: number[] = [];
  for (const r of res.rows) {
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
