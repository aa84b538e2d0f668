/**
 * History facts for `drain forecast` and `drain analyze`: what past attempts produced, read
 * from drain_attempts (and phases for the runs still open). One SQL statement per function;
 * the figures are made by src/domain/forecast.ts and src/domain/analyze.ts.
 *
 * A judged attempt is a drain_attempts row with status `finished` or `reconciled` (a try that
 * reached a verdict; interrupted, cancelled, lost and abandoned tries are not judged).
 */
import type { PoolRow, BacktestAttempt } from '../domain/forecast.js';
import type { AnalyzeScope, AnalyzeTotals, FingerprintCount, OpenRun, RunTokens } from '../domain/analyze.js';
import type { Queryable } from './pool.js';

const JUDGED = `status IN ('finished', 'reconciled')`;

/**
 * The forecast pools as aggregate rows: one per run of `runIds` with judged attempts, one per
 * recorded failure_category (NULL → 'unknown'), and the global one (attempts 0 when empty).
 */
export async function forecastPools(db: Queryable, runIds: readonly string[]): Promise<PoolRow[]> {
  const res = await db.query<PoolRow>(
    `SELECT 'run' AS kind, run_id AS key, count(*)::int AS attempts,
            coalesce(sum(telemetry_events), 0)::float8 AS events,
            coalesce(sum(duration_seconds), 0)::float8 AS seconds,
            coalesce(sum(tokens_spent), 0)::float8 AS tokens, count(tokens_spent)::int AS "tokenAttempts"
       FROM drain_attempts WHERE ${JUDGED} AND run_id = ANY($1::text[]) GROUP BY run_id
     UNION ALL
     SELECT 'category', coalesce(failure_category, 'unknown'), count(*)::int,
            coalesce(sum(telemetry_events), 0)::float8, coalesce(sum(duration_seconds), 0)::float8,
            coalesce(sum(tokens_spent), 0)::float8, count(tokens_spent)::int
       FROM drain_attempts WHERE ${JUDGED} GROUP BY coalesce(failure_category, 'unknown')
     UNION ALL
     SELECT 'global', '', count(*)::int,
            coalesce(sum(telemetry_events), 0)::float8, coalesce(sum(duration_seconds), 0)::float8,
            coalesce(sum(tokens_spent), 0)::float8, count(tokens_spent)::int
       FROM drain_attempts WHERE ${JUDGED}`,
    [[...new Set(runIds)]],
  );
  return res.rows;
}

/** The newest `limit` judged attempts by start (the backtest's window), oldest first. */
export async function recentJudgedAttempts(db: Queryable, limit: number): Promise<BacktestAttempt[]> {
  const res = await db.query<{
    run_id: string;
    category: string;
    events: number;
    seconds: number;
    started_ms: number;
    finished_ms: number;
  }>(
    `SELECT * FROM (
       SELECT id, run_id, coalesce(failure_category, 'unknown') AS category,
              coalesce(telemetry_events, 0)::float8 AS events, coalesce(duration_seconds, 0)::float8 AS seconds,
              (EXTRACT(EPOCH FROM started_at) * 1000)::float8 AS started_ms,
              (EXTRACT(EPOCH FROM coalesce(finished_at, started_at)) * 1000)::float8 AS finished_ms
         FROM drain_attempts WHERE ${JUDGED}
        ORDER BY started_at DESC, id DESC LIMIT $1) w
     ORDER BY started_ms, id`,
    [limit],
  );
  return res.rows.map((r) => ({
    runId: r.run_id,
    category: r.category,
    events: r.events,
    seconds: r.seconds,
    startedAt: r.started_ms,
    finishedAt: r.finished_ms,
  }));
}

/**
 * The scope filter of `drain analyze`: $1 session id (NULL: every session), $2 age in seconds
 * (NULL: any age; else attempts that started at most that long ago, by the database's clock).
 */
const IN_SCOPE = `($1::text IS NULL OR session_id = $1) AND ($2::float8 IS NULL OR started_at >= now() - make_interval(secs => $2))`;
const scopeParams = (s: AnalyzeScope) => [s.sessionId, s.sinceMs === null ? null : s.sinceMs / 1000];

/**
 * Totals of the scope: judged attempts, those with telemetry, their events and seconds, the
 * median (percentile_cont, the mean of the middle two) and nearest-rank P90 (percentile_disc)
 * of their yield_per_minute (NULL counts as 0: no events), and every try that ended (any status
 * but running) without a telemetry event, with its seconds.
 */
export async function analyzeTotals(db: Queryable, scope: AnalyzeScope): Promise<AnalyzeTotals> {
  const res = await db.query<AnalyzeTotals>(
    `SELECT count(*) FILTER (WHERE ${JUDGED})::int AS judged,
            count(*) FILTER (WHERE ${JUDGED} AND coalesce(telemetry_events, 0) > 0)::int AS "withTelemetry",
            coalesce(sum(telemetry_events) FILTER (WHERE ${JUDGED}), 0)::float8 AS events,
            coalesce(sum(duration_seconds) FILTER (WHERE ${JUDGED}), 0)::float8 AS seconds,
            (percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(yield_per_minute, 0))
               FILTER (WHERE ${JUDGED}))::float8 AS "yieldMedian",
            (percentile_disc(0.9) WITHIN GROUP (ORDER BY coalesce(yield_per_minute, 0))
               FILTER (WHERE ${JUDGED}))::float8 AS "yieldP90",
            count(*) FILTER (WHERE status <> 'running' AND coalesce(telemetry_events, 0) = 0)::int AS "emptyTries",
            coalesce(sum(duration_seconds) FILTER (WHERE status <> 'running' AND coalesce(telemetry_events, 0) = 0), 0)::float8
              AS "emptySeconds",
            count(*)::int AS tries,
            (sum(tokens_spent) FILTER (WHERE status <> 'running'))::float8 AS tokens,
            (sum(tokens_spent) FILTER (WHERE status <> 'running' AND coalesce(telemetry_events, 0) = 0))::float8
              AS "emptyTokens",
            count(tokens_spent) FILTER (WHERE status <> 'running')::int AS "tokensKnown"
       FROM drain_attempts WHERE ${IN_SCOPE}`,
    scopeParams(scope),
  );
  return res.rows[0];
}

/**
 * The `limit` most frequent fingerprints of judged attempts in the scope (ties by fingerprint),
 * with the runs they hit and when they were last seen.
 */
export async function topFingerprints(
  db: Queryable,
  scope: AnalyzeScope,
  limit: number,
): Promise<FingerprintCount[]> {
  const res = await db.query<{
    fingerprint: string;
    attempts: number;
    runs: number;
    last_seen: Date;
    tokens: number | null;
  }>(
    `SELECT fingerprint, count(*)::int AS attempts, count(DISTINCT run_id)::int AS runs,
            max(coalesce(finished_at, started_at)) AS last_seen, sum(tokens_spent)::float8 AS tokens
       FROM drain_attempts
      WHERE ${JUDGED} AND fingerprint IS NOT NULL AND ${IN_SCOPE}
      GROUP BY fingerprint ORDER BY count(*) DESC, fingerprint LIMIT $3`,
    [...scopeParams(scope), limit],
  );
  return res.rows.map((r) => ({
    fingerprint: r.fingerprint,
    attempts: r.attempts,
    runs: r.runs,
    lastSeen: r.last_seen.toISOString(),
    tokens: r.tokens,
  }));
}

/**
 * The `limit` runs whose tries in the scope spent the most tokens (phases.tokens_used, end −
 * start; tries without a reading left out), with their tries and telemetry events.
 */
export async function tokensByRun(db: Queryable, scope: AnalyzeScope, limit: number): Promise<RunTokens[]> {
  const res = await db.query<RunTokens>(
    `SELECT run_id AS "runId", count(*)::int AS tries, sum(tokens_spent)::float8 AS tokens,
            coalesce(sum(telemetry_events), 0)::float8 AS events
       FROM drain_attempts
      WHERE status <> 'running' AND tokens_spent IS NOT NULL AND ${IN_SCOPE}
      GROUP BY run_id ORDER BY sum(tokens_spent) DESC, run_id LIMIT $3`,
    [...scopeParams(scope), limit],
  );
  return res.rows;
}

/**
 * Runs that still have FAILED or QUEUED phases and whose judged attempts in the scope produced
 * telemetry: their FAILED and QUEUED counts, how many of those phases are in `stopped` (the
 * phases failure memory passes over, as "run:phase" keys given by the caller), and the
 * attempts, events and seconds of the scope.
 */
export async function openRunsWithTelemetry(
  db: Queryable,
  scope: AnalyzeScope,
  stopped: readonly { runId: string; phaseId: string }[],
): Promise<OpenRun[]> {
  const res = await db.query<OpenRun>(
    `WITH h AS (
       SELECT run_id, count(*)::int AS attempts, coalesce(sum(telemetry_events), 0)::float8 AS events,
              coalesce(sum(duration_seconds), 0)::float8 AS seconds
         FROM drain_attempts WHERE ${JUDGED} AND ${IN_SCOPE}
        GROUP BY run_id HAVING coalesce(sum(telemetry_events), 0) > 0),
     stopped AS (SELECT * FROM unnest($3::text[], $4::text[]) AS s(run_id, phase_id))
     SELECT h.run_id AS "runId",
            count(*) FILTER (WHERE p.state = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE p.state = 'QUEUED')::int AS queued,
            count(*) FILTER (WHERE (p.run_id, p.phase_id) IN (SELECT run_id, phase_id FROM stopped))::int AS stopped,
            h.attempts, h.events, h.seconds
       FROM h JOIN phases p ON p.run_id = h.run_id AND p.state IN ('FAILED', 'QUEUED')
      GROUP BY h.run_id, h.attempts, h.events, h.seconds`,
    [...scopeParams(scope), stopped.map((s) => s.runId), stopped.map((s) => s.phaseId)],
  );
  return res.rows;
}

/** Whether the session is known (a drain_sessions row or any attempt row). */
export async function sessionKnown(db: Queryable, sessionId: string): Promise<boolean> {
  const res = await db.query(
    `SELECT 1 WHERE EXISTS (SELECT 1 FROM drain_sessions WHERE session_id = $1)
        OR EXISTS (SELECT 1 FROM drain_attempts WHERE session_id = $1)`,
    [sessionId],
  );
  return (res.rowCount ?? 0) > 0;
}
