/**
 * Managed API servers (`drain worker --api-command "<cmd with {port}>"`): one server per session
 * and drain slot, never shared between sessions, each on its own free port. A server is started
 * when a drain of its session and slot first asks for it, is ready once it answers HTTP (any
 * status), is started again (with backoff) when it dies, and is checked before every drain of
 * its own session and slot only: a health check never touches another session's server.
 *
 * Each server is contained like an executor (src/runtime/containment.ts): its own process group,
 * its own cgroup where the machine allows it, and in its environment a tag (DRAIN_ATTEMPT_TAG, a
 * hash of session, slot, owning worker and start: `apiServerTag`) plus its owner (API_OWNER_VAR:
 * the worker's pid, with its start time and pid namespace) and its session and slot. Stopping a
 * server ends its group, its cgroup and every process carrying its tag. A worker that dies
 * without stopping its servers (kill -9) leaves them running; the next worker started on the
 * host reaps them (src/runtime/orphans.ts reapOrphanedApiServers), never those of a live worker.
 *
 * A session's server is stopped when the session no longer needs it: no drain of that session
 * asked for it for `idleStopMs` (default 10 minutes) and no process on this host carries its
 * URL as AUTOPACK_API_URL (an executor still using it; Linux, elsewhere the idle time alone).
 * Every server is stopped when the worker shuts down. A later drain of the session starts a new
 * one. Output goes to `<logDir>/<session>/api_server.slot<N>.log` (appended across restarts; the
 * worker's logDir is the sessions directory, so `drain tidy` removes it with the session), a
 * private file (src/runtime/private-files.ts: it may hold what the server prints of its
 * secrets). Callers without a session (tools, tests) get one server per slot of their own,
 * logging to `<logDir>/api_server.slot<N>.log`.
 */
import { closeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { renderCommand } from '../domain/command-template.js';
import { safeFileComponent } from '../domain/files.js';
import {
  TAG_VAR,
  createTryCgroup,
  endTry,
  processesWithEnv,
  spawnContained,
  type ContainedExit,
} from './containment.js';
import { readTail } from './log-tail.js';
import { getFreePort } from './ports.js';
import { processStartBootMs } from './proc.js';
import { ensurePrivateDir, openPrivateLogSync } from './private-files.js';
import { KeyedTurns } from './keyed-turns.js';

import {
  API_OWNER_NS_VAR,
  API_OWNER_START_VAR,
  API_OWNER_VAR,
  API_SESSION_VAR,
  API_SLOT_VAR,
  answers,
  apiServerTag,
  checkApiCommand,
  ownPidNamespace,
  DEFAULT_API_IDLE_STOP_MS,
  type ApiServerInfo,
  type ApiServerPoolOptions,
  type Proc,
  type Server,
} from './api-server-defs.js';

// Their home is api-server-defs.ts; importers of this module keep finding them here.
export {
  API_OWNER_NS_VAR,
  API_OWNER_START_VAR,
  API_OWNER_VAR,
  API_SESSION_VAR,
  API_SLOT_VAR,
  checkApiCommand,
  ownPidNamespace,
  type ApiServerInfo,
};

const RETRY_MAX_MS = 30_000;

const isLive = (p: Proc | null): p is Proc => !!p && !!p.pid && p.exit === null;

export class ApiServerPool {
  private readonly servers = new Map<string, Server>();
  private readonly turns = new KeyedTurns();
  private stopping = false;
  private readonly host: string;
  private readonly idleStopMs: number;
  private readonly sweeper: NodeJS.Timeout;
  /** Who started the servers: this worker process (and this pool), for their tags. */
  private readonly owner: { pid: string; start: string; ns: string; nonce: string };

  constructor(private readonly o: ApiServerPoolOptions) {
    checkApiCommand(o.command);
    this.host = o.host ?? '127.0.0.1';
    this.idleStopMs = o.idleStopMs ?? DEFAULT_API_IDLE_STOP_MS;
    this.owner = {
      pid: String(process.pid),
      start: String(processStartBootMs(process.pid) ?? ''),
      ns: ownPidNamespace(),
      nonce: randomUUID(),
    };
    // Made private when created here; an existing one is not ours alone (Autopack writes
    // `.autonomous_runs` too): left as it is, the log files in it are private.
    ensurePrivateDir(o.logDir, { tightenExisting: false });
    const every = Math.max(50, Math.min(30_000, Math.floor(this.idleStopMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  /**
   * The server of this session and slot, started (or restarted) and answering. Callers of one
   * session and slot take turns; other sessions' servers are never looked at. Without a session
   * (tools and tests), one server per slot of its own, shared by every sessionless caller.
   */
  serverFor(slot: number, sessionId: string | null = null): Promise<ApiServerInfo> {
    const key = JSON.stringify([sessionId, slot]);
    const s = this.servers.get(key);
    if (s) s.lastAskedMs = Date.now(); // before its turn: an idle stop queued meanwhile sees it
    return this.turns.run(key, () => this.ensure(key, sessionId, slot));
  }

  private async ensure(key: string, session: string | null, slot: number): Promise<ApiServerInfo> {
    if (this.stopping) throw new Error('the worker is shutting down: no API server');
    let s = this.servers.get(key);
    if (!s) {
      const port = await getFreePort(this.host);
      s = {
        key,
        session,
        slot,
        port,
        proc: null,
        ready: null,
        answered: false,
        starts: 0,
        restartTimer: null,
        lastAskedMs: Date.now(),
      };
      this.servers.set(key, s);
    }
    s.lastAskedMs = Date.now();
    if (!s.ready || !(await this.stillAnswers(s))) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      s.ready = this.start(s);
    }
    const ready = s.ready;
    try {
      const info = await ready;
      s.lastAskedMs = Date.now(); // handed out now: its idle time starts here
      return info;
    } catch (err) {
      if (s.ready === ready) s.ready = null;
      throw err;
    }
  }

  /** Every server as it is now. */
  list(): Array<{
    session: string | null;
    slot: number;
    port: number;
    pid: number | null;
    tag: string | null;
    /** Its cgroup, null where none could be made. */
    cgroup: string | null;
    starts: number;
    alive: boolean;
  }> {
    return [...this.servers.values()].map((s) => ({
      session: s.session,
      slot: s.slot,
      port: s.port,
      pid: s.proc?.pid ?? null,
      tag: s.proc?.tag ?? null,
      cgroup: s.proc?.cgroup ?? null,
      starts: s.starts,
      alive: isLive(s.proc),
    }));
  }

  /** Stops every server (SIGTERM to its group, SIGKILL after the grace; its cgroup and tag too). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    await Promise.all(
      [...this.servers.values()].map(async (s) => {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        if (s.proc) await this.end(s.proc, this.o.stopGraceMs ?? 3_000);
      }),
    );
  }

  /**
   * Stops the servers nobody needs any more: not asked for by a drain of their session for
   * `idleStopMs`, and no live process carrying their URL as AUTOPACK_API_URL. In the server's
   * turn, so a drain asking for it meanwhile either gets it or a new one.
   */
  private sweep(): void {
    if (this.stopping) return;
    for (const s of this.servers.values()) {
      if (Date.now() - s.lastAskedMs < this.idleStopMs) continue;
      void this.turns
        .run(s.key, async () => {
          if (this.stopping || this.servers.get(s.key) !== s) return;
          if (Date.now() - s.lastAskedMs < this.idleStopMs || this.inUse(s)) return;
          this.servers.delete(s.key);
          if (s.restartTimer) clearTimeout(s.restartTimer);
          const pid = s.proc?.pid;
          this.o.log?.(
            `${this.nameOf(s)}: not asked for in ${Math.round((Date.now() - s.lastAskedMs) / 1000)} s and used by no process; stopping pid ${pid ?? '-'}`,
          );
          if (s.proc) await this.end(s.proc, this.o.stopGraceMs ?? 3_000);
        })
        .catch((err: Error) => this.o.log?.(`${this.nameOf(s)}: ${err.message}`));
    }
  }

  /** Does a live process (an executor still running) have this server's URL as AUTOPACK_API_URL? */
  private inUse(s: Server): boolean {
    return processesWithEnv('AUTOPACK_API_URL', { value: this.urlOf(s) }).length > 0;
  }

  private urlOf(s: Server): string {
    return `http://${this.host}:${s.port}`;
  }

  /** Ends one start of a server: its group, its cgroup, anything carrying its tag. Once. */
  private end(p: Proc, graceMs: number): Promise<void> {
    p.ending ??= (async () => {
      await p.joined;
      await endTry({ pgid: p.pid, tag: p.tag, cgroup: p.cgroup, startedMs: p.startedMs }, graceMs);
    })().catch(() => {});
    return p.ending;
  }

  /**
   * A server handed out before must still answer: one that died (its exit may not have been
   * seen yet) or hangs is stopped and started again. A start still under way counts as fine.
   */
  private async stillAnswers(s: Server): Promise<boolean> {
    const p = s.proc;
    if (!isLive(p)) {
      if (p) await this.end(p, 1000); // what it left (escapees holding its port) goes too
      return false;
    }
    if (!s.answered) return true;
    if (await answers(this.urlOf(s), 2000)) return true;
    this.o.log?.(`${this.nameOf(s)}: pid ${p.pid} does not answer; starting it again`);
    s.proc = null; // its exit is not a crash to restart from
    await this.end(p, 1000);
    return false;
  }

  /** `<logDir>/<session>/api_server.slot<N>.log`; a sessionless one's `<logDir>/api_server.slot<N>.log`. */
  private logFile(s: Server): string {
    const dir = s.session === null ? this.o.logDir : path.join(this.o.logDir, safeFileComponent(s.session));
    return path.join(dir, `api_server.slot${s.slot}.log`);
  }

  /** How the log lines name a server. */
  private nameOf(s: Server): string {
    return s.session === null ? `api server slot ${s.slot}` : `api server ${s.session} slot ${s.slot}`;
  }

  private async start(s: Server): Promise<ApiServerInfo> {
    if (this.stopping) throw new Error('the worker is shutting down: no API server');
    const argv = renderCommand(this.o.command, { port: String(s.port) });
    const file = this.logFile(s);
    if (s.session !== null) ensurePrivateDir(path.dirname(file));
    s.starts += 1;
    const tag = apiServerTag({
      sessionId: s.session,
      slot: s.slot,
      owner: `${this.owner.pid}:${this.owner.start}:${this.owner.nonce}`,
      start: s.starts,
    });
    const cgroup = createTryCgroup(tag); // also notes its start for the process-age guard
    const startedMs = Date.now();
    const fd = openPrivateLogSync(file);
    let sub: ReturnType<typeof spawnContained>;
    try {
      sub = spawnContained({
        argv,
        cwd: this.o.cwd,
        env: {
          ...(this.o.env ?? process.env),
          PORT: String(s.port),
          [TAG_VAR]: tag,
          [API_OWNER_VAR]: this.owner.pid,
          [API_OWNER_START_VAR]: this.owner.start,
          [API_OWNER_NS_VAR]: this.owner.ns,
          [API_SESSION_VAR]: s.session ?? '',
          [API_SLOT_VAR]: String(s.slot),
        },
        stdoutFd: fd,
        stderrFd: fd,
        cgroup,
      });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    const p: Proc = {
      pid: sub.pid,
      tag,
      cgroup,
      startedMs,
      exit: null,
      exited: sub.exited,
      joined: sub.joined,
      ending: null,
    };
    s.proc = p;
    s.answered = false;
    void sub.exited.then((e) => {
      p.exit = e;
      this.exited(s, p, e);
    });
    this.o.log?.(`${this.nameOf(s)}: started pid ${p.pid} on port ${s.port} (start ${s.starts})`);
    return this.whenReady(s, p);
  }

  private async whenReady(s: Server, p: Proc): Promise<ApiServerInfo> {
    const url = this.urlOf(s);
    const deadline = Date.now() + (this.o.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (!p.pid || p.exit !== null) {
        if (p.pid) await this.end(p, 1000);
        const tail = (await readTail(this.logFile(s), { maxBytes: 2000 })) ?? '';
        const why = p.exit?.error ? ` (${p.exit.error.message})` : '';
        throw new Error(
          `API server of ${s.session === null ? '' : `session ${s.session} `}slot ${s.slot} exited before it answered on ${url}${why}; its log ends:\n${tail}`,
        );
      }
      if (await answers(url, 1000)) {
        s.answered = s.proc === p;
        return { slot: s.slot, url, pid: p.pid, starts: s.starts, restarts: s.starts - 1 };
      }
      if (Date.now() > deadline) {
        await this.end(p, 1000);
        throw new Error(
          `API server of ${s.session === null ? '' : `session ${s.session} `}slot ${s.slot} did not answer on ${url} within ${this.o.readyTimeoutMs ?? 30_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A server that died while the worker runs is started again, after a backoff. */
  private exited(s: Server, p: Proc, e: ContainedExit): void {
    if (s.proc !== p || this.stopping || this.servers.get(s.key) !== s || !p.pid) return;
    const delay = Math.min(RETRY_MAX_MS, 500 * 2 ** Math.min(6, s.starts - 1));
    this.o.log?.(
      `${this.nameOf(s)}: pid ${p.pid} exited (${e.signal ?? `code ${e.exitCode}`}); starting it again in ${delay} ms`,
    );
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (this.stopping || s.proc !== p || this.servers.get(s.key) !== s) return;
      s.ready = this.turns.run(s.key, async () => {
        if (this.stopping || s.proc !== p || this.servers.get(s.key) !== s) throw new Error('superseded');
        await this.end(p, 1000); // escapees of the dead server (holding its port) go first
        return this.start(s);
      });
      s.ready.catch((err: Error) => {
        if (err.message !== 'superseded') this.o.log?.(`${this.nameOf(s)}: ${err.message}`);
      });
    }, delay);
    s.restartTimer.unref();
  }
}
