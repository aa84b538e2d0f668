/**
 * The one owner of "create our private directory / file": raw attempt logs (unredacted by
 * design), session JSONs and managed API-server logs are created 0600 inside 0700
 * directories, so only the worker's user reads them. `DRAIN_LOG_GROUP_READ=1` in the worker's
 * environment makes them group-readable instead (0640 files, 0750 directories), for an
 * operators' group. The modes are set exactly (a chmod after the create), whatever the umask.
 */
import { chmodSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const GROUP_READ_VAR = 'DRAIN_LOG_GROUP_READ';

interface PrivateModes {
  file: number;
  dir: number;
}

/** 0600 / 0700, or 0640 / 0750 when `DRAIN_LOG_GROUP_READ=1` (also `true`, `yes`). */
export function privateModes(env: NodeJS.ProcessEnv = process.env): PrivateModes {
  const groupRead = /^(1|true|yes)$/i.test(env[GROUP_READ_VAR]?.trim() ?? '');
  return groupRead ? { file: 0o640, dir: 0o750 } : { file: 0o600, dir: 0o700 };
}

/** The directories of `dir` that do not exist yet, outermost first (none when it exists). */
function missingDirsSync(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); !existsNow(d); d = path.dirname(d)) {
    out.unshift(d);
    if (path.dirname(d) === d) break;
  }
  return out;
}

function existsNow(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The mode an existing directory of ours gets: its own, less any bit beyond `mode` (never more). */
function tightenedMode(current: number, mode: number): number {
  return current & 0o7777 & (mode | 0o7000);
}

/**
 * Makes `dir` and any missing parent. Each directory created here gets the private directory
 * mode exactly; `dir` itself, when it existed, loses any permission bit beyond that mode (it
 * never gains one) unless `tightenExisting` is false (a directory that is not ours alone, such
 * as `.autonomous_runs`, which Autopack writes too). Parents that existed are left alone.
 * Synchronous: a few stat calls, once per try (and in constructors).
 */
export function ensurePrivateDir(dir: string, o: { tightenExisting?: boolean } = {}): void {
  const { dir: mode } = privateModes();
  const created = missingDirsSync(dir);
  mkdirSync(dir, { recursive: true, mode });
  for (const d of created) {
    try {
      chmodSync(d, mode); // exact, whatever the umask (a racing writer made it with the same mode)
    } catch {
      /* gone meanwhile */
    }
  }
  if (created.length > 0 || o.tightenExisting === false) return;
  try {
    const current = statSync(dir).mode & 0o7777;
    const want = tightenedMode(current, mode);
    if (current !== want) chmodSync(dir, want);
  } catch {
    /* not ours to change (another owner): the files in it are still private */
  }
}

/**
 * Opens a new private file (`flags` must create it exclusively, e.g. 'wx') with the private
 * file mode, set exactly. The caller closes the handle.
 */
export async function openPrivateFile(file: string, flags = 'wx'): Promise<FileHandle> {
  const { file: mode } = privateModes();
  const fh = await open(file, flags, mode);
  try {
    await fh.chmod(mode);
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
  return fh;
}

/** Creates a new private file holding `content`; EEXIST when it exists (never truncated). */
export async function createPrivateFile(file: string, content: string | Uint8Array): Promise<void> {
  const fh = await openPrivateFile(file, 'wx');
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
}

/**
 * Opens a log file of ours for appending (created when missing) and makes it private: a file an
 * earlier version left readable to others is made private too. Returns the fd.
 */
export function openPrivateLogSync(file: string): number {
  const { file: mode } = privateModes();
  const fd = openSync(file, 'a', mode);
  try {
    fchmodSync(fd, mode);
  } catch {
    /* not ours to change: keep appending */
  }
  return fd;
}
