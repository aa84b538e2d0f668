/**
 * Containment of an executor (or baseline command) and everything it starts: its own process
 * group, a cgroup v2 of its own where the machine allows it (cgroup.kill ends every member,
 * setsid and double forks included), and a tag in its environment (DRAIN_ATTEMPT_TAG) that a
 * scan of /proc finds in any escapee. Kills are only ever aimed at processes that carry the
 * tag and started after the try did (compared on the boot clock: src/runtime/process-age.ts):
 * a recycled pid is never killed. The try's cgroup is made below the worker's own, so the
 * worker's service manager reaches it too. Linux; elsewhere only the process group is used.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type Options } from 'execa';
import { fnv1a32Hex } from '../domain/files.js';
import { groupMembers, stopProcesses, terminateGroup } from './process-group.js';
import { environHas, isProcessAlive, procCgroup, procEnviron, procPids, selfMountinfo } from './proc.js';
import { noteTryStart, startedSince, tryStartBootMs } from './process-age.js';

export const TAG_VAR = 'DRAIN_ATTEMPT_TAG';

interface TryIdentity {
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

/** Does the process's environment hold exactly the entry `entry` (`NAME=value`)? */
function environOfHas(pid: number, entry: Buffer): boolean {
  const env = procEnviron(pid);
  return env !== null && environHas(env, entry);
}

/** Live processes carrying the tag that started after the try (boot clock: process-age.ts). */
function taggedSince(tag: string, startBootMs: number): number[] {
  if (process.platform !== 'linux') return [];
  const want = Buffer.from(`${TAG_VAR}=${tag}`);
  // The environment first: one read rules out almost every process.
  return procPids().filter((pid) => {
    if (pid === process.pid || !environOfHas(pid, want) || !isProcessAlive(pid)) return false;
    return startedSince(pid, startBootMs);
  });
}

/**
 * Live processes other than this one whose environment sets `name` (to exactly `value`, when
 * given), each with the values it sets of `name` and of the names in `also`. Linux (reads
 * /proc); elsewhere none. Used for managed API servers (src/runtime/api-servers.ts, orphans.ts).
 */
export function processesWithEnv(
  name: string,
  o: { value?: string; also?: string[] } = {},
): Array<{ pid: number; env: Record<string, string> }> {
  if (process.platform !== 'linux') return [];
  const want = Buffer.from(o.value === undefined ? `${name}=` : `${name}=${o.value}`);
  const names = [name, ...(o.also ?? [])];
  const found: Array<{ pid: number; env: Record<string, string> }> = [];
  for (const pid of procPids()) {
    if (pid === process.pid) continue;
    const raw = procEnviron(pid);
    if (raw === null || raw.indexOf(want) < 0) continue; // rules out almost every process at once
    const env: Record<string, string> = {};
    for (const entry of raw.toString('utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0 && names.includes(entry.slice(0, eq))) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    if (env[name] === undefined || (o.value !== undefined && env[name] !== o.value)) continue;
    if (isProcessAlive(pid)) found.push({ pid, env });
  }
  return found;
}

/**
 * Live processes carrying the tag that started no earlier than the try tagged `tag` (less 2 s
 * of slack), compared on the boot clock: the try's start as noted when it started here, else
 * `notBeforeMs` (its wall-clock start) converted (src/runtime/process-age.ts).
 */
export function taggedProcesses(tag: string, notBeforeMs = 0): number[] {
  return taggedSince(tag, tryStartBootMs(tag, notBeforeMs));
}

function isOurGroupSince(pgid: number, tag: string, startBootMs: number): boolean {
  if (process.platform !== 'linux') return true;
  const tagged = new Set(taggedSince(tag, startBootMs));
  return groupMembers(pgid).some((p) => tagged.has(p));
}

// ---------------------------------------------------------------------------------------------
// cgroup v2

/** A path field of /proc/self/mountinfo (spaces and the like written as `\040`). */
const unescapeMountPath = (p: string) =>
  p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

interface CgroupPlaces {
  /** Where the cgroup v2 hierarchy is mounted (its root as this process sees it). */
  root: string;
  /** This process's own cgroup (the `0::/path` line of /proc/self/cgroup), or null when unknown. */
  own: string | null;
}

/**
 * The cgroup v2 mount and this process's own cgroup directory in it, from the texts of
 * /proc/self/mountinfo and /proc/self/cgroup; null without a cgroup v2 mount.
 */
export function cgroupPlaces(mountinfo: string, selfCgroup: string): CgroupPlaces | null {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0 || line.slice(sep + 3).split(' ')[0] !== 'cgroup2') continue;
    const f = line.slice(0, sep).split(' ');
    const mountRoot = unescapeMountPath(f[3] ?? '/'); // the hierarchy's path mounted there
    const root = unescapeMountPath(f[4] ?? '');
    if (!root) continue;
    const entry = selfCgroup.split('\n').find((l) => l.startsWith('0::'));
    const cg = entry?.slice(3) ?? '';
    const rel = path.posix.relative(mountRoot, cg);
    // No v2 line, a cgroup that was removed, or one outside this mount: not known.
    const known = cg.startsWith('/') && !cg.endsWith(' (deleted)') && !rel.startsWith('..');
    return { root, own: known ? path.join(root, rel) : null };
  }
  return null;
}

/**
 * Makes a try's cgroup `<parent>/autopack-drain/<tag>` (`parent` exists); the error code when it
 * cannot be made; neither when `cgroup.kill` is missing.
 */
function makeCgroup(parent: string, tag: string): { dir: string | null; error: string | null } {
  const dir = path.join(parent, 'autopack-drain', tag);
  try {
    // One level at a time: a recursive mkdir would report ENOENT, not why the level failed.
    for (const d of [path.dirname(dir), dir]) {
      try {
        mkdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  } catch (err) {
    return { dir: null, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
  // cgroup.kill came with Linux 5.14: without it the try's cgroup is of no use.
  return existsSync(path.join(dir, 'cgroup.kill')) ? { dir, error: null } : { dir: null, error: null };
}

let warnedFallback = false;

/**
 * A cgroup for one try, or null where cgroups v2 with cgroup.kill cannot be used. It is made
 * below this worker's own cgroup (`<own>/autopack-drain/<tag>`), so a service manager's stop,
 * crash cleanup and memory/CPU limits of the worker's unit cover its executors too (only
 * membership and cgroup.kill are used: no controller is enabled, so cgroup v2's "no internal
 * processes" rule is no obstacle). Where that cannot be made (no permission, a read-only or
 * full hierarchy), it is made at the hierarchy's root as before, and the worker's log says
 * why, once. Also notes the try's start for the process-age guard (process-age.ts).
 */
export function createTryCgroup(tag: string): string | null {
  noteTryStart(tag);
  if (process.platform !== 'linux' || process.env.DRAIN_NO_CGROUP === '1') return null;
  const places = cgroupPlaces(selfMountinfo() ?? '', procCgroup('self') ?? '');
  if (!places) return null;
  if (places.own && places.own !== places.root) {
    const below = makeCgroup(places.own, tag);
    if (below.dir || !below.error) return below.dir;
    if (!warnedFallback) {
      warnedFallback = true;
      console.warn(
        `containment: cannot create try cgroups below this worker's cgroup ${places.own} (${below.error}); ` +
          `creating them in ${path.join(places.root, 'autopack-drain')} instead, where the stop and limits of ` +
          "the worker's service do not reach its executors (systemd: Delegate=yes gives the worker its cgroup)",
      );
    }
  }
  return makeCgroup(places.root, tag).dir;
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

/** How an execa subprocess ended, as a ContainedExit (never rejects). */
export function containedExit(sub: ReturnType<typeof execa>): Promise<ContainedExit> {
  return sub.then(
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
  const exited = containedExit(sub);
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

async function killTagged(tag: string, startBootMs: number, graceMs: number): Promise<number> {
  const found = taggedSince(tag, startBootMs);
  if (found.length === 0) return 0;
  await stopProcesses(found, graceMs);
  return found.length;
}

interface Containment {
  pgid: number | null;
  tag: string;
  cgroup: string | null;
  /** When the try started, wall clock (ms since the epoch), as recorded. */
  startedMs: number;
  /**
   * When the try started on this host's boot clock (ms since boot), when the caller knows it;
   * else the start noted for its tag, else `startedMs` converted (src/runtime/process-age.ts).
   */
  startedBootMs?: number;
}

/**
 * Ends everything of a try: its process group (SIGTERM, grace, SIGKILL), then whatever escaped
 * it — the rest of its cgroup, then processes carrying its tag. Returns how many processes had to
 * be reaped beyond the group (escapees: setsid, double forks). Never touches a group that is not
 * the try's own.
 */
export async function endTry(c: Containment, graceMs: number): Promise<number> {
  const since = c.startedBootMs ?? tryStartBootMs(c.tag, c.startedMs);
  if (c.pgid && (groupMembers(c.pgid).length === 0 || isOurGroupSince(c.pgid, c.tag, since))) {
    await terminateGroup(c.pgid, graceMs);
  }
  let reaped = c.cgroup ? await killCgroup(c.cgroup) : 0;
  reaped += await killTagged(c.tag, since, Math.min(graceMs, 2000));
  if (c.cgroup) {
    try {
      rmdirSync(c.cgroup);
    } catch {
      /* still busy or already gone */
    }
  }
  return reaped;
}
