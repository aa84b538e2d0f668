import type { Queryable } from './pool.js';

/** The drain_sessions row: one per session id, owned by one execution chain. */
export interface SessionRow {
  session_id: string;
  chain_id: string;
  started_at: Date;
  completed_at: Date | null;
  status: string;
  database_id: string;
  database_name: string;
  workspace: string;
  config: Record<string, unknown>;
  api_process_pattern: string | null;
  api_processes_start: number | null;
  api_processes_end: number | null;
}

/**
 * Claims a session id for an execution chain. Returns the row after the call: when its
 * chain_id is not `chainId`, the id belongs to an earlier session and nothing was written.
 */
export async function claimSession(
  db: Queryable,
  s: {
    sessionId: string;
    chainId: string;
    databaseId: string;
    databaseName: string;
    workspace: string;
    config: unknown;
    apiProcessPattern: string;
    apiProcessesStart: number;
  },
): Promise<SessionRow> {
  const res = await db.query<SessionRow>(
    `WITH ins AS (
       INSERT INTO drain_sessions (session_id, chain_id, database_id, database_name, workspace, config,
         api_process_pattern, api_processes_start)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (session_id) DO NOTHING
       RETURNING *)
     SELECT * FROM ins UNION ALL SELECT * FROM drain_sessions WHERE session_id = $1 LIMIT 1`,
    [
      s.sessionId,
      s.chainId,
      s.databaseId,
      s.databaseName,
      s.workspace,
      JSON.stringify(s.config),
      s.apiProcessPattern,
      s.apiProcessesStart,
    ],
  );
  return res.rows[0];
}

/** Attempt rows of a session id written before drain_sessions existed (an older version's). */
export async function hasLegacyAttempts(db: Queryable, sessionId: string): Promise<Date | null> {
  const res = await db.query<{ first: Date | null }>(
    'SELECT min(started_at) AS first FROM drain_attempts WHERE session_id = $1',
    [sessionId],
  );
  return res.rows[0]?.first ?? null;
}

/** Marks the session ended (completed or cancelled) with the API process count at its end. */
export async function endSession(
  db: Queryable,
  s: { sessionId: string; chainId: string; status: string; apiProcessesEnd: number },
): Promise<void> {
  await db.query(
    `UPDATE drain_sessions SET status = $3, completed_at = now(), api_processes_end = $4
     WHERE session_id = $1 AND chain_id = $2`,
    [s.sessionId, s.chainId, s.status, s.apiProcessesEnd],
  );
}
