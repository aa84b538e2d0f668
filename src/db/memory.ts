/**
 * Failure memory: what sessions learned, kept across sessions (migration 007).
 *
 * - A fingerprint a session stopped (it hit --max-fingerprint-repeats) is a row of
 *   drain_memory_stops with the workspace commit its stopping attempt ran on.
 * - A later session on the same commit passes over a phase when the phase's last judged
 *   attempt (any session) failed with a stopped fingerprint and the phase's
 *   last_failure_reason is still what it was when that attempt ended (compared by md5).
 *   A new commit, a changed reason, or `drain memory clear` (fingerprint, run or phase)
 *   lifts it; the session that stopped it is not held by its own stop.
 * - --max-attempts-per-phase-total counts attempts of a phase across sessions since the
 *   last clear of the phase or its run.
 * One SQL statement per function.
 */
import type { Queryable } from './pool.js';

/** A memory stop a session on `commit` would honour. */
interface StopInForce {
  fingerprint: string;
  sessionId: string;
  stoppedAt: string;
  commit: string | null;
}

/** Records that a session stopped a fingerprint (idempotent: a retry records nothing twice). */
export async function recordMemoryStop(
  db: Queryable,
  o: {
    fingerprint: string;
    sessionId: string;
    execRunId: string;
    runId: string;
    phaseId: string;
    attempt: number;
    repeats: number;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO drain_memory_stops (fingerprint, session_id, run_id, phase_id, commit_sha, repeats)
     SELECT $1, $2, $4, $5,
            (SELECT a.baseline_commit FROM drain_attempts a
              WHERE a.session_id = $2 AND a.exec_run_id = $3 AND a.run_id = $4 AND a.phase_id = $5
                AND a.attempt = $6
              ORDER BY a.try DESC LIMIT 1),
            $7
     ON CONFLICT (fingerprint, session_id) DO NOTHING`,
    [o.fingerprint, o.sessionId, o.execRunId, o.runId, o.phaseId, o.attempt, o.repeats],
  );
}

/**
 * Stops not cleared by fingerprint, on commit $1, not made by session $2 (NULL: any session);
 * the newest per fingerprint.
 */
const STOPS_IN_FORCE = `
  SELECT DISTINCT ON (s.fingerprint) s.fingerprint, s.session_id, s.stopped_at, s.commit_sha
  FROM drain_memory_stops s
  WHERE s.commit_sha IS NOT DISTINCT FROM $1::text AND ($2::text IS NULL OR s.session_id <> $2)
    AND NOT EXISTS (SELECT 1 FROM drain_memory_clears c
                     WHERE c.kind = 'fingerprint' AND c.fingerprint = s.fingerprint
                       AND c.cleared_at >= s.stopped_at)
  ORDER BY s.fingerprint, s.stopped_at DESC`;

/** The fingerprint stops a session on `commit` would honour. */
export async function memoryStopsInForce(db: Queryable, commit: string | null): Promise<StopInForce[]> {
  const res = await db.query<{
    fingerprint: string;
    session_id: string;
    stopped_at: Date;
    commit_sha: string | null;
  }>(STOPS_IN_FORCE, [commit, null]);
  return res.rows.map((r) => ({
    fingerprint: r.fingerprint,
    sessionId: r.session_id,
    stoppedAt: r.stopped_at.toISOString(),
    commit: r.commit_sha,
  }));
}

/** A phase memory passes over, with the reason. */
export interface MemoryBlock {
  runId: string;
  phaseId: string;
  reason: string;
  /**
   * Tokens the phase's last (failing) attempt spent: what passing it over saves, if it would
   * fail the same way again (null: not recorded; absent: not a memory stop).
   */
  lastTokens?: number | null;
}

/**
 * Phases a session on `commit` passes over because a fingerprint stopped by another session
 * is still their last failure (see the module comment). $1 commit, $2 session, $3 run filter.
 */
export async function phasesStoppedByMemory(
  db: Queryable,
  o: { commit: string | null; sessionId: string; runId: string | null },
): Promise<MemoryBlock[]> {
  const res = await db.query<{
    run_id: string;
    phase_id: string;
    fingerprint: string;
    session_id: string;
    stopped_at: Date;
    tokens_spent: string | null;
  }>(
    `WITH stops AS (${STOPS_IN_FORCE}),
     last_judged AS (
       SELECT DISTINCT ON (a.run_id, a.phase_id) a.run_id, a.phase_id, a.fingerprint, a.final_reason_md5,
              a.tokens_spent
       FROM drain_attempts a
       WHERE ($3::text IS NULL OR a.run_id = $3)
         AND a.status IN ('finished', 'reconciled')
         AND (a.run_id, a.phase_id) IN (SELECT x.run_id, x.phase_id FROM drain_attempts x
                                         WHERE x.fingerprint IN (SELECT fingerprint FROM stops))
       ORDER BY a.run_id, a.phase_id, a.finished_at DESC NULLS LAST, a.id DESC)
     SELECT j.run_id, j.phase_id, s.fingerprint, s.session_id, s.stopped_at, j.tokens_spent
     FROM last_judged j
     JOIN stops s ON s.fingerprint = j.fingerprint
     JOIN phases p ON p.run_id = j.run_id AND p.phase_id = j.phase_id
     WHERE md5(p.last_failure_reason) IS NOT DISTINCT FROM j.final_reason_md5
       AND NOT EXISTS (SELECT 1 FROM drain_memory_clears c
                        WHERE c.run_id = j.run_id AND c.cleared_at >= s.stopped_at
                          AND (c.kind = 'run' OR (c.kind = 'phase' AND c.phase_id = j.phase_id)))
     ORDER BY j.run_id, j.phase_id`,
    [o.commit, o.sessionId, o.runId],
  );
  return res.rows.map((r) => ({
    runId: r.run_id,
    phaseId: r.phase_id,
    reason: `fingerprint ${r.fingerprint} stopped by session ${r.session_id} at ${r.stopped_at.toISOString()} (failure memory: drain memory clear, or --ignore-memory)`,
    lastTokens: r.tokens_spent === null ? null : Number(r.tokens_spent),
  }));
}

/**
 * Phases attempted at least `limit` times across all sessions since the last clear of the
 * phase or its run (an attempt is counted once however many tries it took; lost ones not).
 */
export async function phasesOverTotalAttempts(
  db: Queryable,
  o: { limit: number; runId: string | null },
): Promise<MemoryBlock[]> {
  const res = await db.query<{ run_id: string; phase_id: string; n: number }>(
    `SELECT a.run_id, a.phase_id, count(DISTINCT (a.session_id, a.exec_run_id, a.attempt))::int AS n
     FROM drain_attempts a
     WHERE a.status <> 'lost' AND ($2::text IS NULL OR a.run_id = $2)
       AND a.started_at > COALESCE(
             (SELECT max(c.cleared_at) FROM drain_memory_clears c
               WHERE c.run_id = a.run_id AND (c.kind = 'run' OR (c.kind = 'phase' AND c.phase_id = a.phase_id))),
             '-infinity')
     GROUP BY a.run_id, a.phase_id
     HAVING count(DISTINCT (a.session_id, a.exec_run_id, a.attempt)) >= $1
     ORDER BY a.run_id, a.phase_id`,
    [o.limit, o.runId],
  );
  return res.rows.map((r) => ({
    runId: r.run_id,
    phaseId: r.phase_id,
    reason: `phase attempted ${r.n} times across sessions (limit: ${o.limit}, --max-attempts-per-phase-total)`,
  }));
}

export type ClearTarget =
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'run'; runId: string }
  | { kind: 'phase'; runId: string; phaseId: string };

/** Records an operator's clear: memory older than it no longer counts for the target. */
export async function clearMemory(db: Queryable, t: ClearTarget): Promise<void> {
  await db.query(
    `INSERT INTO drain_memory_clears (kind, fingerprint, run_id, phase_id) VALUES ($1, $2, $3, $4)`,
    [
      t.kind,
      t.kind === 'fingerprint' ? t.fingerprint : null,
      t.kind === 'fingerprint' ? null : t.runId,
      t.kind === 'phase' ? t.phaseId : null,
    ],
  );
}

/** A memory stop as `drain memory list` shows it. */
export interface StopRow {
  fingerprint: string;
  sessionId: string;
  runId: string;
  phaseId: string;
  commit: string | null;
  repeats: number;
  stoppedAt: string;
  /** An operator cleared the fingerprint after this stop. */
  cleared: boolean;
}

/** Stops, newest first (bounded); with a run, those whose fingerprint the run's attempts had. */
export async function listMemoryStops(db: Queryable, runId: string | null, limit = 200): Promise<StopRow[]> {
  const res = await db.query<{
    fingerprint: string;
    session_id: string;
    run_id: string;
    phase_id: string;
    commit_sha: string | null;
    repeats: number;
    stopped_at: Date;
    cleared: boolean;
  }>(
    `SELECT s.fingerprint, s.session_id, s.run_id, s.phase_id, s.commit_sha, s.repeats, s.stopped_at,
            EXISTS (SELECT 1 FROM drain_memory_clears c
                     WHERE c.kind = 'fingerprint' AND c.fingerprint = s.fingerprint
                       AND c.cleared_at >= s.stopped_at) AS cleared
     FROM drain_memory_stops s
     WHERE $1::text IS NULL OR s.run_id = $1
        OR EXISTS (SELECT 1 FROM drain_attempts a WHERE a.fingerprint = s.fingerprint AND a.run_id = $1)
     ORDER BY s.stopped_at DESC, s.id DESC
     LIMIT $2`,
    [runId, limit],
  );
  return res.rows.map((r) => ({
    fingerprint: r.fingerprint,
    sessionId: r.session_id,
    runId: r.run_id,
    phaseId: r.phase_id,
    commit: r.commit_sha,
    repeats: r.repeats,
    stoppedAt: r.stopped_at.toISOString(),
    cleared: r.cleared,
  }));
}

/** What the judged attempts of one run (or phase) taught, across sessions. */
export interface HistoryRow {
  runId: string;
  /** null in per-run rows. */
  phaseId: string | null;
  attempts: number;
  succeeded: number;
  timeouts: number;
  telemetryEvents: number;
  minutes: number;
  /** Telemetry events per minute of attempt time (null: no time recorded). */
  yieldPerMinute: number | null;
  sessions: number;
  lastFingerprint: string | null;
  lastCommit: string | null;
  lastAt: string | null;
}

/**
 * Per run (or, with a run, per phase of it): judged attempts in every session, their
 * outcomes, telemetry, time, yield, and the last attempt's fingerprint and commit.
 */
export async function memoryHistory(db: Queryable, runId: string | null, limit = 500): Promise<HistoryRow[]> {
  const res = await db.query<{
    run_id: string;
    phase_id: string | null;
    attempts: number;
    succeeded: number;
    timeouts: number;
    events: number;
    seconds: number;
    sessions: number;
    last_fingerprint: string | null;
    last_commit: string | null;
    last_at: Date | null;
  }>(
    `SELECT a.run_id, CASE WHEN $1::text IS NULL THEN NULL ELSE a.phase_id END AS phase_id,
            count(*)::int AS attempts,
            count(*) FILTER (WHERE a.success)::int AS succeeded,
            count(*) FILTER (WHERE a.timed_out)::int AS timeouts,
            COALESCE(sum(a.telemetry_events), 0)::int AS events,
            COALESCE(sum(a.duration_seconds), 0)::float8 AS seconds,
            count(DISTINCT a.session_id)::int AS sessions,
            (array_agg(a.fingerprint ORDER BY a.finished_at DESC NULLS LAST, a.id DESC))[1] AS last_fingerprint,
            (array_agg(a.baseline_commit ORDER BY a.finished_at DESC NULLS LAST, a.id DESC))[1] AS last_commit,
            max(a.finished_at) AS last_at
     FROM drain_attempts a
     WHERE a.status IN ('finished', 'reconciled') AND ($1::text IS NULL OR a.run_id = $1)
     GROUP BY 1, 2
     ORDER BY max(a.finished_at) DESC NULLS LAST
     LIMIT $2`,
    [runId, limit],
  );
  return res.rows.map((r) => ({
    runId: r.run_id,
    phaseId: r.phase_id,
    attempts: r.attempts,
    succeeded: r.succeeded,
    timeouts: r.timeouts,
    telemetryEvents: r.events,
    minutes: Math.round((r.seconds / 60) * 100) / 100,
    yieldPerMinute: r.seconds > 0 ? Math.round((r.events / (r.seconds / 60)) * 100) / 100 : null,
    sessions: r.sessions,
    lastFingerprint: r.last_fingerprint,
    lastCommit: r.last_commit,
    lastAt: r.last_at?.toISOString() ?? null,
  }));
}

/** What `drain memory clear <target>` can mean: a known fingerprint, and whether it is a run id. */
export async function clearCandidates(
  db: Queryable,
  target: string,
): Promise<{ fingerprint: boolean; run: boolean }> {
  const res = await db.query<{ fingerprint: boolean; run: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM drain_memory_stops WHERE fingerprint = $1)
              OR EXISTS (SELECT 1 FROM drain_attempts WHERE fingerprint = $1) AS fingerprint,
            EXISTS (SELECT 1 FROM drain_attempts WHERE run_id = $1)
              OR EXISTS (SELECT 1 FROM phases WHERE run_id = $1) AS run`,
    [target],
  );
  return res.rows[0];
}

/** Whether the run has the phase (in the backlog or in attempts). */
export async function phaseKnown(db: Queryable, runId: string, phaseId: string): Promise<boolean> {
  const res = await db.query<{ known: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM phases WHERE run_id = $1 AND phase_id = $2)
              OR EXISTS (SELECT 1 FROM drain_attempts WHERE run_id = $1 AND phase_id = $2) AS known`,
    [runId, phaseId],
  );
  return res.rows[0].known;
}
