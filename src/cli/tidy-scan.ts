/** The file system side of `drain tidy`: listing the session tree and removing planned paths. */
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { classifyTop, type TidyEntry } from '../domain/tidy-plan.js';

/** `<workspace>/.autonomous_runs/batch_drain_sessions` (as activities/paths.ts names it). */
export const tidyRoot = (workspace: string) =>
  path.join(path.resolve(workspace), '.autonomous_runs', 'batch_drain_sessions');

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** Every file and directory below `dir` (symbolic links are listed, never followed). */
async function walk(dir: string, sessionId: string | null, out: TidyEntry[]): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return; // removed meanwhile
    throw err;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await lstat(p).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
    if (!st) continue;
    const isDir = st.isDirectory();
    out.push({
      path: p,
      name,
      kind: isDir ? 'dir' : 'file',
      mtimeMs: st.mtimeMs,
      bytes: isDir ? 0 : st.size,
      sessionId,
    });
    if (isDir) await walk(p, sessionId, out);
  }
}

/** The session tree under `root`, classified (empty when `root` does not exist). */
export async function scanSessionTree(root: string): Promise<TidyEntry[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const out: TidyEntry[] = [];
  for (const name of names.sort()) {
    const p = path.join(root, name);
    const st = await lstat(p).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
    if (!st) continue;
    const isDir = st.isDirectory();
    const top = classifyTop(name, isDir);
    out.push({ path: p, name, ...top, mtimeMs: st.mtimeMs, bytes: isDir ? 0 : st.size });
    if (isDir) await walk(p, top.sessionId, out);
  }
  return out;
}

/** Removes a file, link or whole directory; an already missing path counts as removed. */
export async function removePath(p: string): Promise<void> {
  await rm(p, { recursive: true, force: true });
}
