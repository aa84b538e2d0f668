import type { Queryable } from './pool.js';

/**
 * Takes (or renews) the lease on a run for a session. Succeeds when the run is free, the
 * previous lease expired, or this session already holds it. Returns the holder after the call.
 */
export async function acquireLease(
  db: Queryable,
  runId: string,
  sessionId: string,
  holder: string,
  ttlSeconds: number,
): Promise<{ acquired: boolean; sessionId: string | null }> {
  const res = await db.query<{ session_id: string }>(
    `INSERT INTO drain_leases (run_id, session_id, holder, acquired_at, expires_at)
     VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))
     ON CONFLICT (run_id) DO UPDATE
       SET session_id = EXCLUDED.session_id, holder = EXCLUDED.holder,
           acquired_at = CASE WHEN drain_leases.session_id = EXCLUDED.session_id
                              THEN drain_leases.acquired_at ELSE now() END,
           expires_at = EXCLUDED.expires_at
       WHERE drain_leases.session_id = EXCLUDED.session_id OR drain_leases.expires_at <= now()
     RETURNING session_id`,
    [runId, sessionId, holder, ttlSeconds],
  );
  if (res.rowCount) return { acquired: true, sessionId };
  const cur = await currentLeaseHolder(db, runId);
  return { acquired: false, sessionId: cur };
}

/** Extends a lease this session holds; false if it was lost. */
export async function renewLease(
  db: Queryable,
  runId: string,
  sessionId: string,
  ttlSeconds: number,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE drain_leases SET expires_at = now() + make_interval(secs => $3)
     WHERE run_id = $1 AND session_id = $2`,
    [runId, sessionId, ttlSeconds],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function releaseLease(db: Queryable, runId: string, sessionId: string): Promise<void> {
  await db.query('DELETE FROM drain_leases WHERE run_id = $1 AND session_id = $2', [runId, sessionId]);
}

export async function currentLeaseHolder(db: Queryable, runId: string): Promise<string | null> {
  const res = await db.query<{ session_id: string }>(
    'SELECT session_id FROM drain_leases WHERE run_id = $1 AND expires_at > now()',
    [runId],
  );
  return res.rows[0]?.session_id ?? null;
}
