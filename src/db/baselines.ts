import type { Queryable } from './pool.js';

export interface BaselineRow {
  commit_sha: string;
  artifact_path: string | null;
  duration_seconds: number | null;
  exit_code: number | null;
  session_id: string | null;
  captured_at: Date;
}

export async function getBaseline(db: Queryable, commitSha: string): Promise<BaselineRow | null> {
  const res = await db.query<BaselineRow>('SELECT * FROM drain_baselines WHERE commit_sha = $1', [commitSha]);
  return res.rows[0] ?? null;
}

/** Stores a captured baseline; the first capture of a commit wins. */
export async function insertBaseline(
  db: Queryable,
  b: {
    commitSha: string;
    artifactPath: string;
    durationSeconds: number;
    exitCode: number | null;
    sessionId: string;
  },
): Promise<BaselineRow> {
  const res = await db.query<BaselineRow>(
    `INSERT INTO drain_baselines (commit_sha, artifact_path, duration_seconds, exit_code, session_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (commit_sha) DO UPDATE SET commit_sha = EXCLUDED.commit_sha
     RETURNING *`,
    [b.commitSha, b.artifactPath, b.durationSeconds, b.exitCode, b.sessionId],
  );
  return res.rows[0];
}
