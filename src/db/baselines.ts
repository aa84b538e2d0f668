/**
 * T0 baseline records: drain_baseline_captures (one row per capture try, migration 005) and
 * drain_baselines (the good baseline of each commit). One SQL statement per function;
 * withBaselineLock runs a few of them in one transaction under the commit's advisory lock.
 */
import type pg from 'pg';
import type { Queryable } from './pool.js';
import type { CaptureFact, CaptureStatus } from '../domain/baseline-decision.js';
import type { CaptureRow } from '../domain/rows.js';

export type { CaptureRow };

const CAPTURE_COLUMNS = `id::text AS id, commit_sha, session_id, attempt, status, exit_code, signal,
  duration_seconds, artifact_path, error, host, worker_identity, pgid, backfilled, started_at, finished_at,
  (status = 'running' AND expires_at < now()) AS expired`;

/** The facts the pure decision reads (src/domain/baseline-decision.ts). */
export function captureFact(r: CaptureRow): CaptureFact {
  return { id: r.id, status: r.status, expired: r.expired, error: r.error, artifactPath: r.artifact_path };
}

/**
 * Runs `fn` in a transaction holding the advisory lock of `key`: deciding and claiming a
 * capture of one commit is serialised across sessions, workers and hosts.
 */
export async function withBaselineLock<T>(
  pool: pg.Pool,
  key: string,
  fn: (db: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await lockBaselineKey(client, key);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** The transaction-scoped advisory lock of one baseline key. */
async function lockBaselineKey(db: Queryable, key: string): Promise<void> {
  await db.query("SELECT pg_advisory_xact_lock(hashtext('drain-baseline:' || $1))", [key]);
}

/** Every capture of one key, in id order. */
export async function listCaptures(db: Queryable, key: string): Promise<CaptureRow[]> {
  const res = await db.query<CaptureRow>(
    `SELECT ${CAPTURE_COLUMNS} FROM drain_baseline_captures WHERE commit_sha = $1 ORDER BY id`,
    [key],
  );
  return res.rows;
}

/** Marks running captures interrupted (their worker is gone); returns how many were. */
export async function interruptCaptures(db: Queryable, ids: string[], note: string): Promise<number> {
  const res = await db.query(
    `UPDATE drain_baseline_captures SET status = 'interrupted', finished_at = now(), expires_at = NULL,
       duration_seconds = EXTRACT(EPOCH FROM (now() - started_at)), error = $2
     WHERE id = ANY($1::bigint[]) AND status = 'running'`,
    [ids, note],
  );
  return res.rowCount ?? 0;
}

/**
 * Claims a capture of `key`: a running row that lapses `ttlSeconds` from now unless renewed.
 * Null when another capture of the key is running (at most one: a partial unique index).
 */
export async function claimCapture(
  db: Queryable,
  c: {
    key: string;
    sessionId: string;
    attempt: number;
    host: string;
    workerIdentity: string;
    ttlSeconds: number;
  },
): Promise<CaptureRow | null> {
  const res = await db.query<CaptureRow>(
    `INSERT INTO drain_baseline_captures (commit_sha, session_id, attempt, status, host, worker_identity, expires_at)
     VALUES ($1, $2, $3, 'running', $4, $5, now() + make_interval(secs => $6))
     ON CONFLICT (commit_sha) WHERE status = 'running' DO NOTHING
     RETURNING ${CAPTURE_COLUMNS}`,
    [c.key, c.sessionId, c.attempt, c.host, c.workerIdentity, c.ttlSeconds],
  );
  return res.rows[0] ?? null;
}

/** Notes the running capture's process group and the file its output goes to. */
export async function setCaptureProcess(
  db: Queryable,
  id: string,
  p: { pgid: number | null; artifactPath: string },
): Promise<void> {
  await db.query(
    `UPDATE drain_baseline_captures SET pgid = $2, artifact_path = $3 WHERE id = $1 AND status = 'running'`,
    [id, p.pgid, p.artifactPath],
  );
}

/** Extends a running capture's claim; false when it is no longer running. */
export async function renewCapture(db: Queryable, id: string, ttlSeconds: number): Promise<boolean> {
  const res = await db.query(
    `UPDATE drain_baseline_captures SET expires_at = now() + make_interval(secs => $2)
     WHERE id = $1 AND status = 'running'`,
    [id, ttlSeconds],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * The final facts of a capture. Lands only while it is still running: a capture whose claim
 * lapsed (marked interrupted by another worker) writes nothing. Returns whether it landed.
 */
export async function finishCapture(
  db: Queryable,
  id: string,
  f: {
    status: Exclude<CaptureStatus, 'running'>;
    exitCode: number | null;
    signal: string | null;
    durationSeconds: number;
    artifactPath: string;
    error: string | null;
  },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE drain_baseline_captures SET status = $2, exit_code = $3, signal = $4, duration_seconds = $5,
       artifact_path = $6, error = $7, finished_at = now(), expires_at = NULL
     WHERE id = $1 AND status = 'running'`,
    [id, f.status, f.exitCode, f.signal, f.durationSeconds, f.artifactPath, f.error],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Stores the good baseline of a commit (only ok captures); the first one wins. */
export async function insertBaseline(
  db: Queryable,
  b: {
    commitSha: string;
    artifactPath: string;
    durationSeconds: number;
    sessionId: string;
    captureId: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO drain_baselines (commit_sha, artifact_path, duration_seconds, exit_code, session_id, capture_id)
     VALUES ($1, $2, $3, 0, $4, $5)
     ON CONFLICT (commit_sha) DO NOTHING`,
    [b.commitSha, b.artifactPath, b.durationSeconds, b.sessionId, b.captureId],
  );
}

/**
 * The captures a session's report shows: those it made, and every capture of the commits
 * its attempts used (a baseline it reused, or failures of other sessions), in id order.
 */
export async function listSessionCaptures(db: Queryable, sessionId: string): Promise<CaptureRow[]> {
  const res = await db.query<CaptureRow>(
    `SELECT ${CAPTURE_COLUMNS} FROM drain_baseline_captures
     WHERE session_id = $1
        OR commit_sha IN (SELECT baseline_commit FROM drain_attempts
                          WHERE session_id = $1 AND baseline_commit IS NOT NULL)
     ORDER BY id`,
    [sessionId],
  );
  return res.rows;
}
