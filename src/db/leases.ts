import type { Queryable } from './pool.js';

/**
 * The conflict rule of taking a run's lease: the row is taken over only when this session holds
 * it already (renewed, its acquired_at kept) or it has expired. Shared by acquireLease and the
 * selection statement that picks and leases at once (select-shared.ts).
 */
export const LEASE_CONFLICT = `ON CONFLICT (run_id) DO UPDATE
       SET session_id = EXCLUDED.session_id, holder = EXCLUDED.holder,
           acquired_at = CASE WHEN drain_leases.session_id = EXCLUDED.session_id
                              THEN drain_leases.acquired_at ELSE now() END,
           expires_at = EXCLUDED.expires_at
       WHERE (drain_leases.session_id = EXCLUDED.session_id OR drain_leases.expires_at <= now())`;

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
     ${LEASE_CONFLICT}
     RETURNING session_id`,
    [runId, sessionId, holder, ttlSeconds],
  );
  if (res.rowCount) return { acquired: true, sessionId };
  const cur = await currentLeaseHolder(db, runId);
  return { acquired: false, sessionId: cur };
}

export async function releaseLease(db: Queryable, runId: string, sessionId: string): Promise<void> {
  await db.query('DELETE FROM drain_leases WHERE run_id = $1 AND session_id = $2', [runId, sessionId]);
}

/** The session holding the run's live lease (null: none). */
export async function currentLeaseHolder(db: Queryable, runId: string): Promise<string | null> {
  const res = await db.query<{ session_id: string }>(
    'SELECT session_id FROM drain_leases WHERE run_id = $1 AND expires_at > now()',
    [runId],
  );
  return res.rows[0]?.session_id ?? null;
}

interface TryStartCheck {
  /** This session holds the run's lease now (taken or renewed by this statement). */
  leased: boolean;
  /** The lease holder when it is not us. */
  holder: string | null;
  state: string | null;
  updatedAt: Date | null;
  lastFailureReason: string | null;
}

/**
 * At the start of a try, in one statement: take (or renew) the run's lease for the session and
 * read the phase as it is now, so the try runs only while it holds the run and the phase is
 * still what was picked.
 */
export async function leaseAndReadPhase(
  db: Queryable,
  o: { runId: string; phaseId: string; sessionId: string; holder: string; ttlSeconds: number },
): Promise<TryStartCheck> {
  const res = await db.query<{
    leased: boolean;
    holder: string | null;
    state: string | null;
    updated_at: Date | null;
    last_failure_reason: string | null;
  }>(
    `WITH lease AS (
       INSERT INTO drain_leases (run_id, session_id, holder, acquired_at, expires_at)
       VALUES ($1, $3, $4, now(), now() + make_interval(secs => $5))
       ON CONFLICT (run_id) DO UPDATE
         SET session_id = EXCLUDED.session_id, holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
             acquired_at = CASE WHEN drain_leases.session_id = EXCLUDED.session_id
                                THEN drain_leases.acquired_at ELSE now() END
         WHERE drain_leases.session_id = EXCLUDED.session_id OR drain_leases.expires_at <= now()
       RETURNING session_id)
     SELECT EXISTS (SELECT 1 FROM lease) AS leased,
            (SELECT session_id FROM drain_leases WHERE run_id = $1) AS holder,
            p.state, p.updated_at, p.last_failure_reason
     FROM (SELECT 1) one LEFT JOIN phases p ON p.run_id = $1 AND p.phase_id = $2`,
    [o.runId, o.phaseId, o.sessionId, o.holder, o.ttlSeconds],
  );
  const r = res.rows[0];
  return {
    leased: r.leased,
    holder: r.leased ? o.sessionId : r.holder,
    state: r.state,
    updatedAt: r.updated_at,
    lastFailureReason: r.last_failure_reason,
  };
}
