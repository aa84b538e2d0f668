/**
 * Reads of a whole session's drain_attempts rows: every row, the rows changed since a reader's
 * last look, and the phases it left failed (what it attempted and finished, selection reads by
 * index probes: select-session.ts).
 * src/db/attempts.ts re-exports them with the writes of one try.
 */
import type { Queryable } from './pool.js';
import type { AttemptRow } from '../domain/rows.js';

export async function listSessionAttempts(db: Queryable, sessionId: string): Promise<AttemptRow[]> {
  const res = await db.query<AttemptRow>('SELECT * FROM drain_attempts WHERE session_id = $1 ORDER BY id', [
    sessionId,
  ]);
  return res.rows;
}

/** Phases whose last attempt this session failed (a failure fixed by a later attempt is not one). */
export async function phasesStillFailed(db: Queryable, sessionId: string): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT DISTINCT ON (run_id, phase_id) success
       FROM drain_attempts
       WHERE session_id = $1 AND status IN ('finished', 'reconciled', 'cancelled', 'abandoned')
       ORDER BY run_id, phase_id, attempt DESC, try DESC) last
     WHERE last.success IS NOT TRUE`,
    [sessionId],
  );
  return res.rows[0].n;
}

/**
 * The session's rows that may differ from what a reader already holds: rows with an id above
 * `afterId`, and the rows `ids` (those it holds that were still running or not yet judged).
 */
export async function listSessionAttemptsChanged(
  db: Queryable,
  sessionId: string,
  afterId: string,
  ids: string[],
): Promise<AttemptRow[]> {
  const res = await db.query<AttemptRow>(
    `SELECT * FROM drain_attempts
     WHERE session_id = $1 AND (id > $2::bigint OR id = ANY($3::bigint[]))
     ORDER BY id`,
    [sessionId, afterId, ids],
  );
  return res.rows;
}
