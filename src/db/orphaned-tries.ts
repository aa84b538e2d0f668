/**
 * The tries a worker's start looks at for orphaned executors (src/runtime/orphans.ts): one SQL
 * statement per function.
 */
import type { Queryable } from './pool.js';

interface OrphanCandidate {
  pid: number;
  worker_identity: string;
  tag: string;
  started_at: Date;
}

/**
 * Tries of the last 7 days started on `host` (worker identity `drain-worker@<host>:<pid>`)
 * that ran an executor (pid and tag recorded) and are marked interrupted.
 */
export async function interruptedTriesOnHost(db: Queryable, host: string): Promise<OrphanCandidate[]> {
  const res = await db.query<OrphanCandidate>(
    `SELECT pid, worker_identity, tag, started_at FROM drain_attempts
     WHERE pid IS NOT NULL AND tag IS NOT NULL AND status = 'interrupted'
       AND worker_identity LIKE $1 AND started_at > now() - interval '7 days'`,
    [`drain-worker@${host}:%`],
  );
  return res.rows;
}
