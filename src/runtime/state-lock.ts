/**
 * Coordination of the processes that share one state directory (.drain/ or DRAIN_STATE_DIR):
 * an exclusive lock file, taken over when its holder is gone, and a registry of the live
 * processes that use the embedded services, so that nobody stops a server someone else uses.
 */
import { link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { redactArgv } from '../domain/redact.js';
import { isProcessAlive, procArgv } from './proc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** argv of a live process (Linux /proc), or null when it is gone or unreadable. */
export function commandLine(pid: number): string[] | null {
  const argv = procArgv(pid);
  return argv?.length ? argv : null;
}

/** This process as a person would name it: `drain.js db seed --sample` (secrets redacted). */
function thisCommand(): string {
  const [script, ...args] = process.argv.slice(1);
  return redactArgv([path.basename(script ?? 'node'), ...args]).join(' ');
}

interface LockHolder {
  pid: number;
  command: string;
}

interface LockOptions {
  /** Give up after this long (default 180 s: a first start initialises Postgres). */
  timeoutMs?: number;
  /** Called once, when the lock is held by another live process and this one waits. */
  onWait?: (holder: LockHolder) => void;
}

/** Creates `file` with `content` atomically (a complete file or none); false if it exists. */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, content);
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

function parseHolder(text: string): LockHolder | null {
  const [pid, command = ''] = text.split('\n');
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 ? { pid: n, command } : null;
}

/**
 * Removes a lock whose holder is gone, if it still has the contents `seen`. Breakers take
 * turns through `<file>.break` (one a killed breaker left is removed after 10 s), so two
 * processes that saw the same stale lock cannot remove a fresh one taken meanwhile.
 */
async function breakStale(file: string, seen: string): Promise<void> {
  const breaker = `${file}.break`;
  if (!(await createExclusive(breaker, `${process.pid}\n`))) {
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > 10_000) await rm(breaker, { force: true });
    else await sleep(20);
    return;
  }
  try {
    const now = await readFile(file, 'utf8').catch(() => null);
    if (now === seen) await rm(file, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

async function acquire(file: string, o: LockOptions): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const mine = `${process.pid}\n${thisCommand()}\n${randomBytes(6).toString('hex')}\n`;
  const timeoutMs = o.timeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  let waited = false;
  for (;;) {
    if (await createExclusive(file, mine)) return mine;
    const seen = await readFile(file, 'utf8').catch(() => null);
    if (seen === null) continue; // released meanwhile
    const holder = parseHolder(seen);
    if (!holder || !isProcessAlive(holder.pid)) {
      await breakStale(file, seen);
      continue;
    }
    if (!waited) o.onWait?.(holder);
    waited = true;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for the lock ${file}, held by pid ${holder.pid} (${holder.command}); if that process hangs, stop it`,
      );
    }
    await sleep(100);
  }
}

/**
 * Runs `fn` holding the exclusive lock `file` (created with the holder's pid; a lock whose
 * holder is no longer alive is taken over). Not reentrant: do not nest on one file.
 */
export async function withStateLock<T>(file: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const mine = await acquire(file, o);
  try {
    return await fn();
  } finally {
    if ((await readFile(file, 'utf8').catch(() => null)) === mine) await rm(file, { force: true });
  }
}

export type ServiceName = 'postgres' | 'temporal';
/** owner: started (or took over) the server and stops it; user: attached to it. */
type ServiceRole = 'owner' | 'user';

export interface ServiceUser {
  pid: number;
  command: string;
  services: Partial<Record<ServiceName, ServiceRole>>;
}

/** Records this process as a user of services in `dir`: its entry's file and how to remove it. */
export async function registerUser(
  dir: string,
  services: ServiceUser['services'],
): Promise<{ file: string; remove(): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
  const entry: ServiceUser = { pid: process.pid, command: thisCommand(), services };
  await writeFile(`${file}.tmp`, JSON.stringify(entry) + '\n');
  await rename(`${file}.tmp`, file); // complete or absent for readers
  return { file, remove: () => rm(file, { force: true }) };
}

/** The live users recorded in `dir` (entries of processes that are gone are removed). */
export async function liveUsers(dir: string): Promise<(ServiceUser & { file: string })[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const users: (ServiceUser & { file: string })[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = path.join(dir, name);
    const entry = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as ServiceUser,
      () => null,
    );
    if (entry && Number.isInteger(entry.pid) && isProcessAlive(entry.pid)) users.push({ ...entry, file });
    else if (entry) await rm(file, { force: true });
  }
  return users;
}
