/**
 * Token questions over our records (drain_attempts rows, migration 010; failure memory,
 * migration 007). One SQL statement per function.
 */
import type { Queryable } from './pool.js';

/** Why an attempt's failure was already known when it started. */
export type KnownFailure = 'stopped' | 'remembered';

/**
 * The session's failed attempts whose fingerprint had already been stopped when they started:
 * by this session (it hit --max-fingerprint-repeats earlier), or by an earlier session on the
 * same workspace commit and not cleared since (failure memory; an attempt of a session run with
 * --ignore-memory, or one whose phase's reason changed, can still meet one). What they spent is
 * the waste. attempt row id → why. With `ids`, only among those rows (a writer that holds the
 * answer for the others: a row's answer depends only on what happened before it started).
 */
export async function knownFailureAttempts(
  db: Queryable,
  sessionId: string,
  ids: string[] | null = null,
): Promise<Record<string, KnownFailure>> {
  const res = await db.query<{ id: string; own: boolean }>(
    `SELECT a.id::text AS id, bool_or(s.session_id = a.session_id) AS own
     FROM drain_attempts a
     JOIN drain_memory_stops s
       ON s.fingerprint = a.fingerprint AND s.stopped_at < a.started_at
      AND (s.session_id = a.session_id OR s.commit_sha IS NOT DISTINCT FROM a.baseline_commit)
      AND NOT EXISTS (SELECT 1 FROM drain_memory_clears c
                       WHERE c.kind = 'fingerprint' AND c.fingerprint = s.fingerprint
                         AND c.cleared_at >= s.stopped_at AND c.cleared_at < a.started_at)
     WHERE a.session_id = $1 AND a.fingerprint IS NOT NULL AND a.success IS NOT TRUE
       AND ($2::bigint[] IS NULL OR a.id = ANY($2::bigint[]))
     GROUP BY a.id`,
    [sessionId, ids],
  );
  return Object.fromEntries(res.rows.map((r) => [r.id, r.own ? 'stopped' : 'remembered']));
}

/** What a session's tries have spent by their records: finished ones, and the ones still running. */
interface RecordedSpend {
  /** Sum of tokens_spent over the session's tries that recorded one. */
  finished: number;
  /** The session's running tries with a start reading of their phase's counter. */
  running: Array<{ runId: string; phaseId: string; phaseBefore: number }>;
}

/**
 * The session's spend as its records say right now (the workflow folds a result only after the
 * try's row is finished, so a budget checked on folded results alone lags a slot behind).
 */
export async function recordedSpend(db: Queryable, sessionId: string): Promise<RecordedSpend> {
  const res = await db.query<{ finished: string | null; running: RecordedSpend['running'] | null }>(
    `SELECT sum(tokens_spent) FILTER (WHERE status <> 'running')::text AS finished,
            jsonb_agg(jsonb_build_object('runId', run_id, 'phaseId', phase_id,
                                         'phaseBefore', phase_tokens_before))
              FILTER (WHERE status = 'running' AND phase_tokens_before IS NOT NULL) AS running
     FROM drain_attempts WHERE session_id = $1`,
    [sessionId],
  );
  const r = res.rows[0];
  return {
    finished: Number(r?.finished ?? 0),
    running: (r?.running ?? []).map((x) => ({ ...x, phaseBefore: Number(x.phaseBefore) })),
  };
}
