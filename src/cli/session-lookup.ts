import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import {
  normalizeSessionFile,
  parseSessionText,
  type NormalizedSessionFile,
} from '../domain/session-file.js';
import { safeFileComponent } from '../domain/files.js';
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

/**
 * File names a session's JSON may have: ours (the id made file-name safe, activities/paths.ts)
 * and the original controller's (the id as is, when that is a plain file name).
 */
function sessionFileNames(sessionId: string): string[] {
  const names = [`${safeFileComponent(sessionId)}.json`];
  const plain = !/[/\\\u0000]/.test(sessionId) && sessionId !== '.' && sessionId !== '..';
  if (plain && !names.includes(`${sessionId}.json`)) names.push(`${sessionId}.json`);
  return names;
}

/** A session file, read and normalised (ours, or the original controller's v1/v2). */
interface SessionFile extends NormalizedSessionFile {
  file: string;
}

/** Reads one session file; the error names the file and what is wrong with it. */
function loadSessionFile(file: string): SessionFile {
  const text = readFileSync(file, 'utf8');
  try {
    const parsed = parseSessionText(text);
    const normalized = normalizeSessionFile(parsed.value);
    return { file, ...normalized, notes: [...parsed.notes, ...normalized.notes] };
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Finds and reads a session's JSON file: --workspace, the path in the session's memo, or ./
 * Notes on what was assumed (an original controller's file, repaired fields) go to `onNote`
 * (stderr by default).
 */
export async function readSessionJson(
  client: Client | null,
  sessionId: string,
  workspace?: string,
  onNote: (line: string) => void = (line) => console.error(line),
): Promise<SessionFile> {
  const candidates: string[] = [];
  const rels = sessionFileNames(sessionId).map((name) =>
    path.join('.autonomous_runs', 'batch_drain_sessions', name),
  );
  if (workspace) candidates.push(...rels.map((rel) => path.resolve(workspace, rel)));
  if (client) {
    try {
      const d = await client.workflow.getHandle(sessionId).describe();
      const memoPath = (d.memo as Record<string, unknown> | undefined)?.sessionJson;
      if (typeof memoPath === 'string') candidates.push(memoPath);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  candidates.push(...rels.map((rel) => path.resolve(rel)));
  for (const file of new Set(candidates)) {
    if (!existsSync(file)) continue;
    const session = loadSessionFile(file);
    for (const note of session.notes) onNote(`drain: ${file}: ${note}`);
    return session;
  }
  throw new UsageError(
    `no session file for ${sessionId}; looked in:\n  ${candidates.join('\n  ')}\n(pass --workspace DIR: the directory the session drained in)`,
  );
}
