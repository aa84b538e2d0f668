/**
 * Containment of an executor (or baseline command) and everything it starts: its own process
 * group, a cgroup v2 of its own where the machine allows it (cgroup.kill ends every member,
 * setsid and double forks included), and a tag in its environment (DRAIN_ATTEMPT_TAG) that a
 * scan of /proc finds in any escapee. Kills are only ever aimed at processes that carry the
 * tag and started after the try did: a recycled pid is never killed. Linux; elsewhere only
 * the process group is used.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type Options } from 'execa';
import { fnv1a32Hex } from '../domain/files.js';
import { groupMembers, isProcessAlive, stopProcesses, terminateGroup } from './process-group.js';

export const TAG_VAR = 'DRAIN_ATTEMPT_TAG';

export interface TryIdentity {
  sessionId: string;
  execRunId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
}

/** One short tag per try (session, workflow run, run, phase, attempt, try). */
export function tryTag(t: TryIdentity): string {
  const key = JSON.stringify([t.sessionId, t.execRunId, t.runId, t.phaseId, t.attempt, t.tryNo]);
  return `${fnv1a32Hex(key)}${fnv1a32Hex(`${key}#2`)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pids = (): number[] =>
  readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);

/** Does the process's environment hold exactly the entry `entry` (`NAME=value`)? */
function environHas(pid: number, entry: Buffer): boolean {
  let env: Buffer;
  try {
    env = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  for (let i = env.indexOf(entry); i >= 0; i = env.indexOf(entry, i + 1)) {
    const starts = i === 0 || env[i - 1] === 0;
    const ends = i + entry.length === env.length || env[i + entry.length] === 0;
    if (starts && ends) return true;
  }
  return false;
}

let bootMs: number | null = null;
/** When a process started (ms since epoch, kernel clock), or null when it is gone. */
export function processStartMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    bootMs ??= Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]) * 1000;
    return bootMs + (Number(fields[19]) / 100) * 1000; // starttime, in USER_HZ (100 on Linux)
  } catch {
    return null;
  }
}

/** Live processes carrying the tag that started no earlier than `notBeforeMs` (less 2 s of slack). */
export function taggedProcesses(tag: string, notBeforeMs = 0): number[] {
  if (process.platform !== 'linux') return [];
  const want = Buffer.from(`${TAG_VAR}=${tag}`);
  // The environment first: one read rules out almost every process.
  return pids().filter((pid) => {
    if (pid === process.pid || !environHas(pid, want) || !isProcessAlive(pid)) return false;
    const start = processStartMs(pid);
    return start !== null && start >= notBeforeMs - 2000;
  });
}

/** Is the recorded group still the try's own (a member carries the tag and started after the try)? */
export function isOurGroup(pgid: number, tag: string, notBeforeMs: number): boolean {
  if (process.platform !== 'linux') return true;
  const tagged = new Set(taggedProcesses(tag, notBeforeMs));
  return groupMembers(pgid).some((p) => tagged.has(p));
}

// ---------------------------------------------------------------------------------------------
// cgroup v2

function cgroup2Root(): string | null {
  try {
    const line = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[2] === 'cgroup2');
    return line ? line.split(' ')[1] : null;
  } catch {
    return null;
  }
}

/** A cgroup for one try, or null where cgroups v2 with cgroup.kill cannot be used. */
export function createTryCgroup(tag: string): string | null {
  if (process.platform !== 'linux' || process.env.DRAIN_NO_CGROUP === '1') return null;
  const root = cgroup2Root();
  if (!root) return null;
  const dir = path.join(root, 'autopack-drain', tag);
  try {
    mkdirSync(dir, { recursive: true });
    return existsSync(path.join(dir, 'cgroup.kill')) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Moves a process into the try's cgroup (its later children are born there). Asynchronous: a
 * cgroup migration waits for an RCU grace period (~10 ms here), which must not stall the worker.
 */
export async function joinCgroup(dir: string | null, pid: number): Promise<boolean> {
  if (!dir) return false;
  try {
    await writeFile(path.join(dir, 'cgroup.procs'), String(pid));
    return true;
  } catch {
    return false;
  }
}

export interface ContainedExit {
  exitCode: number | null;
  signal: string | null;
  /** The process could not be started: the error, else null. */
  error: Error | null;
}

/**
 * Starts a command in its own process group (pgid = pid) with stdout/stderr going to the given
 * file descriptors (no pipe through this process: the output outlives a crashed worker and never
 * blocks on it) and moves it into `cgroup`. `pid` is null when it could not start; `joined`
 * settles when the move is done (endTry waits for it); `exited` never rejects.
 *
 * Spawned through execa (its command resolution is cross-platform, e.g. `.cmd` shims on Windows)
 * with everything that costs per start or changes the containment turned off: the fds are handed
 * to the child as they are (no streams, nothing buffered), no timeout or kill of execa's own (the
 * caller's clock kills the group), and no cleanup hook: a worker that crashes or is stopped must
 * leave the detached group running, for recovery to find and judge (execa would kill it on exit).
 */
export function spawnContained(o: {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdoutFd: number;
  stderrFd: number;
  cgroup: string | null;
}): { pid: number | null; exited: Promise<ContainedExit>; joined: Promise<boolean> } {
  let sub;
  try {
    sub = execa(o.argv[0], o.argv.slice(1), {
      cwd: o.cwd,
      env: o.env,
      extendEnv: false, // exactly `env`, as the caller built it
      detached: true, // own process group: pgid = pid
      // execa's types admit only a few fd literals; at run time any fd goes to child_process as is.
      stdio: ['ignore', o.stdoutFd, o.stderrFd] as unknown as Options['stdio'],
      buffer: false,
      reject: false, // a non-zero exit or a signal is a result, never a rejection
      cleanup: false,
      forceKillAfterDelay: false,
    });
  } catch (err) {
    // A synchronous failure (an invalid argument or option): not started.
    const exited = Promise.resolve({ exitCode: null, signal: null, error: err as Error });
    return { pid: null, exited, joined: Promise.resolve(false) };
  }
  const exited = sub.then(
    (r): ContainedExit => {
      const exitCode = r.exitCode ?? null;
      const signal = r.signal ?? null;
      if (exitCode !== null || signal !== null) return { exitCode, signal, error: null };
      // Never ran (ENOENT, EACCES, a bad cwd): the spawn's own error, as child_process reports it.
      const error = r.cause instanceof Error ? r.cause : new Error(r.shortMessage ?? r.message);
      return { exitCode: null, signal: null, error };
    },
    (err: unknown): ContainedExit => ({
      exitCode: null,
      signal: null,
      error: err instanceof Error ? err : new Error(String(err)),
    }),
  );
  const pid = sub.pid ?? null;
  return { pid, exited, joined: pid ? joinCgroup(o.cgroup, pid) : Promise.resolve(false) };
}

function cgroupMembers(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function killCgroup(dir: string): Promise<number> {
  const members = cgroupMembers(dir).filter(isProcessAlive);
  if (members.length === 0) return 0;
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {
    return 0;
  }
  for (let i = 0; i < 100 && cgroupMembers(dir).some(isProcessAlive); i++) await sleep(20);
  return members.length;
}

async function killTagged(tag: string, notBeforeMs: number, graceMs: number): Promise<number> {
  const found = taggedProcesses(tag, notBeforeMs);
  if (found.length === 0) return 0;
  await stopProcesses(found, graceMs);
  return found.length;
}

export interface Containment {
  pgid: number | null;
  tag: string;
  cgroup: string | null;
  /** When the try started (worker clock = kernel clock of this host). */
  startedMs: number;
}

/**
 * Ends everything of a try: its process group (SIGTERM, grace, SIGKILL), then whatever escaped
 * it — the rest of its cgroup, then processes carrying its tag. Returns how many processes had to
 * be reaped beyond the group (escapees: setsid, double forks). Never touches a group that is not
 * the try's own.
 */
export async function endTry(c: Containment, graceMs: number): Promise<number> {
  if (c.pgid && (groupMembers(c.pgid).length === 0 || isOurGroup(c.pgid, c.tag, c.startedMs))) {
    await terminateGroup(c.pgid, graceMs);
  }
  let reaped = c.cgroup ? await killCgroup(c.cgroup) : 0;
  reaped += await killTagged(c.tag, c.startedMs, Math.min(graceMs, 2000));
  if (c.cgroup) {
    try {
      rmdirSync(c.cgroup);
    } catch {
      /* still busy or already gone */
    }
  }
  return reaped;
}
