import { open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { ensurePrivateDir, openPrivateFile } from '../src/runtime/private-files.js';
import { workflowRun } from './workflow-run.js';
import { sessionJsonDue } from '../src/domain/json-cadence.js';

/** What the session JSON carries to tell its writer apart (besides the original's fields). */
interface JsonStamp {
  chain_id: string;
  exec_run_id: string;
  /** Grows with every write of a chain: a write never replaces a later one. */
  report_seq: number;
}

async function fsyncPath(p: string, flags: 'r' | 'r+' = 'r'): Promise<void> {
  const fh = await open(p, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes JSON atomically (a temp file renamed over the file: readers see the old or the new
 * file, never a part) and, when `durable`, survives a power loss too (fsync of the file before
 * the rename and of the directory after it). The file is private, in a private directory
 * (src/runtime/private-files.ts).
 */
export async function writeJsonAtomically(file: string, value: unknown, durable = true): Promise<number> {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fh = await openPrivateFile(tmp, 'wx');
  const text = JSON.stringify(value, null, 2) + '\n';
  try {
    await fh.writeFile(text);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  if (durable) await fsyncPath(path.dirname(file)).catch(() => {}); // not every file system syncs directories
  return Buffer.byteLength(text);
}

/** Session JSON files this process wrote, and their bytes (counts, not times: tests guard them). */
export const sessionJsonWritten = { writes: 0, bytes: 0 };

/** Per running session: phases finished since this process last wrote its JSON. */
const phasesSinceWrite = new Map<string, number>();

/**
 * A phase of the session finished: is its running JSON due for a rewrite
 * (src/domain/json-cadence.ts)? A session this process has not written yet is due at once.
 */
export function phaseFinished(sessionId: string, results: number): boolean {
  const since = (phasesSinceWrite.get(sessionId) ?? Number.MAX_SAFE_INTEGER - 1) + 1;
  phasesSinceWrite.delete(sessionId); // re-inserted last: the map is oldest first
  phasesSinceWrite.set(sessionId, since);
  while (phasesSinceWrite.size > MAX_FILES_REMEMBERED)
    phasesSinceWrite.delete(phasesSinceWrite.keys().next().value as string);
  return sessionJsonDue(since, results);
}

/** The session's JSON was written (or the session ended): count from zero again. */
function wroteSession(sessionId: string | undefined, ended: boolean): void {
  if (sessionId === undefined) return;
  if (ended) phasesSinceWrite.delete(sessionId);
  else if (phasesSinceWrite.has(sessionId)) phasesSinceWrite.set(sessionId, 0);
}

/**
 * The stamp this process last wrote to each file, with the file's identity right after the
 * write: while the file is still that one (inode, size, mtime), its stamp is known without
 * reading and parsing the whole file again.
 */
const lastWritten = new Map<string, { stamp: JsonStamp; ino: number; size: number; mtimeMs: number }>();
const MAX_FILES_REMEMBERED = 256;

async function rememberWrite(file: string, stamp: JsonStamp): Promise<void> {
  const st = await stat(file).catch(() => null);
  lastWritten.delete(file);
  if (st) lastWritten.set(file, { stamp, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
  while (lastWritten.size > MAX_FILES_REMEMBERED)
    lastWritten.delete(lastWritten.keys().next().value as string);
}

async function currentStamp(file: string): Promise<Partial<JsonStamp> | null> {
  const st = await stat(file).catch(() => null);
  if (!st) return null;
  const w = lastWritten.get(file);
  if (w && w.ino === st.ino && w.size === st.size && w.mtimeMs === st.mtimeMs) return w.stamp;
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as Partial<JsonStamp>;
    return { chain_id: j.chain_id, exec_run_id: j.exec_run_id, report_seq: j.report_seq };
  } catch {
    return null; // absent (or unreadable: an atomic writer never leaves it so)
  }
}

/** Is the workflow run that scheduled this activity still the newest run of its workflow id? */
async function isNewestRun(): Promise<boolean> {
  const run = workflowRun();
  try {
    const d = await Context.current().client.workflow.getHandle(run.workflowId).describe();
    return d.runId === run.runId;
  } catch {
    return true; // cannot ask: the sequence check still holds within a run
  }
}

/**
 * Decides whether a write stamped `mine` may replace the file stamped `cur`: never another
 * chain's file, never a later write of the same run, and a file of another run (continue-as-new,
 * reset) only when this run is the newest of the workflow id.
 */
async function mayReplace(cur: Partial<JsonStamp> | null, mine: JsonStamp): Promise<boolean> {
  if (!cur || cur.chain_id === undefined) return cur === null;
  if (cur.chain_id !== mine.chain_id) return false;
  if (cur.exec_run_id === mine.exec_run_id) return (cur.report_seq ?? -1) < mine.report_seq;
  return isNewestRun();
}

/**
 * Writes the session JSON unless a newer snapshot is there already. Concurrent writers of one
 * session take turns on an advisory lock. Returns whether the file was written. `durable`: see
 * writeJsonAtomically (the snapshots of a running session are not fsynced: each is rebuilt
 * from rows Postgres keeps durably and replaced after the next phase; the final one is).
 */
export async function writeSessionJsonGuarded(
  pool: pg.Pool,
  file: string,
  value: object,
  stamp: JsonStamp,
  durable = true,
): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('drain-session-json:' || $1))", [file]);
    const ok = await mayReplace(await currentStamp(file), stamp);
    if (ok) {
      sessionJsonWritten.bytes += await writeJsonAtomically(file, { ...value, ...stamp }, durable);
      sessionJsonWritten.writes += 1;
      await rememberWrite(file, stamp);
    }
    wroteSession((value as { session_id?: string }).session_id, durable);
    await client.query('COMMIT');
    return ok;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
