/**
 * Try supervisors kept ready (src/runtime/try-supervisor.mjs). Starting a supervisor costs a
 * Node start, loading `pg` and a connection to the records database: ~0.2 s on a quiet 2-core
 * machine, and it was paid inside every try. The worker now starts them ahead: each spare gets
 * the records database on its stdin, loads and connects while it waits, and becomes one try's
 * supervisor when the try's configuration arrives on the same pipe. A spare serves exactly one
 * try, then ends with it, as before; only the start moved off the try's path.
 *
 * How many are kept: as many as this worker ran at once in the last minute, at least one, at
 * most MAX_SPARES, so that slots starting together all find one; a session starting with N
 * slots asks for N (expect(), from prepareSession). Each costs a Node start and `pg` (~0.2 s
 * of CPU), so none is started before this worker's first try has ended or a session with
 * slots is prepared here, and spares beyond the need are ended a minute after a burst. A
 * spare's process group and session are its own (detached), and it is moved into the try's
 * cgroup before it is given the try, so the executor is born in the cgroup. A spare whose
 * worker is gone sees the end of its stdin and exits; close() ends every spare (the worker's end).
 */
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { execa } from 'execa';
import { containedExit, joinCgroup, type ContainedExit } from './containment.js';

const TRY_SUPERVISOR = fileURLToPath(new URL('./try-supervisor.mjs', import.meta.url));
/** At most this many idle supervisors per worker (each ~40 MB while it waits). */
const MAX_SPARES = 8;
/** A running try's replacement spare is started this long after the try started. */
const REFILL_AFTER_MS = 250;
/** How long a burst of concurrent tries keeps its number of spares. */
const PEAK_MS = 60_000;

/**
 * Whether a connection to `recordsUrl` may use TLS, as `pg` decides it: an `ssl…` parameter in
 * the URL other than sslmode=disable or ssl=false/0, or PGSSLMODE other than disable.
 */
export function recordsMayUseTls(recordsUrl: string, env: NodeJS.ProcessEnv): boolean {
  let params: URLSearchParams;
  try {
    params = new URL(recordsUrl).searchParams;
  } catch {
    return true; // not a URL we can read: assume it may
  }
  const off = (k: string, v: string) =>
    k === 'sslmode' ? v === 'disable' : k === 'ssl' && /^(false|0)$/i.test(v);
  const inUrl = [...params].some(([k, v]) => k.startsWith('ssl') && !off(k, v));
  return inUrl || (env.PGSSLMODE !== undefined && env.PGSSLMODE !== 'disable');
}

/**
 * A supervisor's own environment (the executor's comes with its try): the worker's, less
 * NODE_EXTRA_CA_CERTS when its records connection cannot use TLS — Node reads and parses that
 * bundle at every start whether it is used or not (~50 ms of CPU per start on this project's
 * 2-core machine, a quarter of a supervisor's start; bench/parallel --cpu).
 */
export function supervisorEnv(env: NodeJS.ProcessEnv, recordsUrl: string): NodeJS.ProcessEnv {
  if (env.NODE_EXTRA_CA_CERTS === undefined || recordsMayUseTls(recordsUrl, env)) return env;
  const rest = { ...env };
  delete rest.NODE_EXTRA_CA_CERTS;
  return rest;
}

/** Where the records are (never printed: the URL may hold a password) and the renewal period R. */
interface SupervisorRecords {
  recordsUrl: string;
  searchPath: string | null;
  renewMs: number;
}

interface Spare {
  pid: number;
  stdin: Writable & { unref?: () => void; ref?: () => void };
  ref: () => void;
  exited: Promise<ContainedExit>;
  done: boolean;
}

/** A started try's supervisor, as runContained takes it (spawnContained's shape). */
interface SupervisedStart {
  pid: number | null;
  exited: Promise<ContainedExit>;
  joined: Promise<boolean>;
}

export class SupervisorPool {
  private readonly idle: Spare[] = [];
  private running = 0;
  private peak = 0;
  private peakAt = 0;
  private closed = false;
  private refilling = false;
  private trimTimer: NodeJS.Timeout | null = null;

  constructor(private readonly records: SupervisorRecords) {}

  /** Spares wanted now: the recent peak of concurrent tries (at least one). */
  private target(now = Date.now()): number {
    const recent = now - this.peakAt < PEAK_MS ? this.peak : this.running;
    return Math.min(MAX_SPARES, Math.max(1, recent));
  }

  /** Starts one spare, or the error that kept it from starting (a try then reports it). */
  private spawnSpare(): Spare | { error: Error } {
    let sub;
    try {
      sub = execa(process.execPath, [TRY_SUPERVISOR], {
        env: supervisorEnv(process.env, this.records.recordsUrl),
        extendEnv: false,
        detached: true, // its own session and group: pgid = pid, as every try's leader
        stdin: 'pipe',
        stdout: 'ignore',
        stderr: 'ignore',
        buffer: false,
        reject: false,
        cleanup: false, // a crashed worker leaves its running tries to recovery, as before
        forceKillAfterDelay: false,
      });
    } catch (err) {
      return { error: err as Error };
    }
    if (!sub.pid || !sub.stdin) return { error: new Error('the try supervisor could not be started') };
    const stdin = sub.stdin as Spare['stdin'];
    stdin.on('error', () => {}); // a spare that died: its try sees the exit
    stdin.write(JSON.stringify(this.records) + '\n');
    const spare: Spare = {
      pid: sub.pid,
      stdin,
      ref: () => sub.ref(),
      exited: containedExit(sub),
      done: false,
    };
    void spare.exited.then(() => {
      spare.done = true;
      const i = this.idle.indexOf(spare);
      if (i >= 0) this.idle.splice(i, 1);
    });
    // An idle spare never keeps the worker's process alive.
    sub.unref();
    stdin.unref?.();
    return spare;
  }

  /**
   * A session with `slots` slots is starting on this worker (prepareSession): have that many
   * ready for its first picks, as if it had run them at once already.
   */
  expect(slots: number): void {
    if (this.closed || !(slots > 1)) return;
    const n = Math.min(MAX_SPARES, Math.floor(slots));
    if (n > this.target()) {
      this.peak = n;
      this.peakAt = Date.now();
    }
    this.refill();
  }

  /** Ends the spares beyond `target()` once a burst is over (checked a minute after each refill). */
  private trimLater(): void {
    if (this.trimTimer) return;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = null;
      while (this.idle.length > this.target()) this.idle.shift()?.stdin.end();
      if (this.idle.length > 1) this.trimLater();
    }, PEAK_MS + 1000);
    this.trimTimer.unref();
  }

  /** Keeps `target()` spares ready (spawned one by one, after the current turn of the event loop). */
  private refill(): void {
    if (this.refilling || this.closed) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      while (!this.closed && this.idle.length < this.target()) {
        const s = this.spawnSpare();
        if ('error' in s) return;
        this.idle.push(s);
      }
      while (this.idle.length > this.target()) this.idle.shift()?.stdin.end();
      if (this.idle.length > 1) this.trimLater();
    });
  }

  /**
   * Starts a try under a supervisor: a ready one when there is one (else one started now), moved
   * into `cgroup` first, then given the try (`config`: try-supervisor.mjs's second line).
   */
  start(config: Record<string, unknown>, cgroup: string | null): SupervisedStart {
    let spare: Spare | { error: Error } | undefined;
    while ((spare = this.idle.shift()) && spare.done);
    spare ??= this.spawnSpare();
    if ('error' in spare) {
      return {
        pid: null,
        exited: Promise.resolve({ exitCode: null, signal: null, error: spare.error }),
        joined: Promise.resolve(false),
      };
    }
    const s = spare;
    s.ref(); // a try's supervisor is waited for, as any child
    this.running++;
    if (this.running >= this.peak || Date.now() - this.peakAt >= PEAK_MS) {
      this.peak = this.running;
      this.peakAt = Date.now();
    }
    // The next spares are started once this try has run a moment (a wave of slots then finds
    // them ready), or when it ended, whichever comes first: never beside the try's own start.
    const early = setTimeout(() => this.refill(), REFILL_AFTER_MS);
    early.unref();
    void s.exited.finally(() => {
      clearTimeout(early);
      this.running--;
      this.refill();
    });
    const joined = joinCgroup(cgroup, s.pid);
    void joined.then(() => s.stdin.write(JSON.stringify(config) + '\n'));
    return { pid: s.pid, exited: s.exited, joined };
  }

  /** The pids of the spares ready now (for `drain` diagnostics and tests). */
  sparePids(): number[] {
    return this.idle.filter((s) => !s.done).map((s) => s.pid);
  }

  /** Ends every idle spare (each closes its connection and exits); running tries are not touched. */
  close(): void {
    this.closed = true;
    if (this.trimTimer) clearTimeout(this.trimTimer);
    for (const s of this.idle.splice(0)) s.stdin.end();
  }
}
