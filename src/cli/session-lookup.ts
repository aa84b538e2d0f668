import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { SessionJson } from '../domain/report.js';
import { UsageError } from './env.js';

/** The newest batchDrain execution that is running (or, with `anyStatus`, of any status). */
export async function newestSession(client: Client, anyStatus = false): Promise<string | null> {
  const q = `WorkflowType = 'batchDrain'${anyStatus ? '' : " AND ExecutionStatus = 'Running'"}`;
  let best: { id: string; start: number } | null = null;
  for await (const w of client.workflow.list({ query: q })) {
    const start = w.startTime.getTime();
    if (!best || start > best.start) best = { id: w.workflowId, start };
  }
  return best?.id ?? null;
}

export async function sessionIdOrNewest(client: Client, id: string | undefined): Promise<string> {
  if (id) return id;
  const newest = (await newestSession(client)) ?? (await newestSession(client, true));
  if (!newest) throw new UsageError('no drain session found; start one with `drain start`');
  return newest;
}

/** Finds and reads a session's JSON file: --workspace, the path in the session's memo, or ./ */
export async function readSessionJson(
  client: Client | null,
  sessionId: string,
  workspace?: string,
): Promise<{ file: string; json: SessionJson }> {
  const candidates: string[] = [];
  const rel = path.join('.autonomous_runs', 'batch_drain_sessions', `${sessionId}.json`);
  if (workspace) candidates.push(path.resolve(workspace, rel));
  if (client) {
    try {
      const d = await client.workflow.getHandle(sessionId).describe();
      const memoPath = (d.memo as Record<string, unknown> | undefined)?.sessionJson;
      if (typeof memoPath === 'string') candidates.push(memoPath);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  candidates.push(path.resolve(rel));
  for (const file of candidates) {
    if (existsSync(file)) return { file, json: JSON.parse(readFileSync(file, 'utf8')) as SessionJson };
  }
  throw new UsageError(
    `no session file for ${sessionId}; looked in:\n  ${candidates.join('\n  ')}\n(pass --workspace DIR: the directory the session drained in)`,
  );
}
