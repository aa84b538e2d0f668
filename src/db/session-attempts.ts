/**
 * Reads of a whole session's drain_attempts rows: every row, the rows changed since a reader's
 * last look, what the session attempted and finished, and the phases it left failed.
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

export interface SessionProgress {
  runs: string[];
  phases: string[];
  /** Highest attempt number of each phase this session (parallel to runs/phases). */
  attempts: number[];
  doneRuns: string[];
  donePhases: string[];
}

/**
 * What a session has attempted and finished, from its records (not from workflow state, so no
 * payload grows with the session): per phase the highest attempt, and the phases it completed.
 */
export async function sessionProgress(db: Queryable, sessionId: string): Promise<SessionProgress> {
  const res = await db.query<{ run_id: string; phase_id: string; n: number; done: boolean }>(
    `SELECT run_id, phase_id, max(attempt)::int AS n,
            bool_or(success IS TRUE AND status IN ('finished', 'reconciled')) AS done
     FROM drain_attempts WHERE session_id = $1 GROUP BY run_id, phase_id`,
    [sessionId],
  );
  const done = res.rows.filter((r) => r.done);
  return {
    runs: res.rows.map((r) => r.run_id),
    phases: res.rows.map((r) => r.phase_id),
    attempts: res.rows.map((r) => r.n),
    doneRuns: done.map((r) => r.run_id),
    donePhases: done.map((r) => r.phase_id),
  };
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
