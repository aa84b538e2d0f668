/**
 * Managed API servers (`drain worker --api-command "<cmd with {port}>"`): one server per drain
 * slot, each on its own free port, in its own process group. A slot's server is started when
 * a drain of that slot first asks for it, is ready once it answers HTTP (any status), is
 * started again (with backoff) when it dies, and every server is stopped when the worker shuts
 * down. Its output goes to `<logDir>/api_server.slot<N>.log` (appended across restarts), a
 * private file (src/runtime/private-files.ts: it may hold what the server prints of its secrets).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { renderCommand } from '../domain/command-template.js';
import { readTail } from './log-tail.js';
import { getFreePort } from './ports.js';
import { terminateGroup } from './process-group.js';
import { ensurePrivateDir, openPrivateLogSync } from './private-files.js';

export interface ApiServerInfo {
  slot: number;
  url: string;
  pid: number;
  /** Times this slot's server was started (the first start included). */
  starts: number;
  restarts: number;
}

export interface ApiServerPoolOptions {
  /** Command template with a {port} placeholder (no shell: see command-template.ts). */
  command: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  logDir: string;
  host?: string;
  readyTimeoutMs?: number;
  stopGraceMs?: number;
  log?: (line: string) => void;
}

interface Slot {
  slot: number;
  port: number;
  child: ChildProcess | null;
  ready: Promise<ApiServerInfo> | null;
  /** The current server answered once (its start is over). */
  answered: boolean;
  starts: number;
  restartTimer: NodeJS.Timeout | null;
}

const RETRY_MAX_MS = 30_000;

/** Checks the command template before anything starts: it must render with a port. */
export function checkApiCommand(command: string): void {
  if (!/\{port\}/.test(command))
    throw new Error('--api-command must contain {port} (the port its server listens on)');
  renderCommand(command, { port: '1' });
}

/** One HTTP request: resolves true on any response, false on a connection error or timeout. */
function answers(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export class ApiServerPool {
  private readonly slots = new Map<number, Slot>();
  private readonly turns = new Map<number, Promise<void>>();
  private stopping = false;
  private readonly host: string;

  constructor(private readonly o: ApiServerPoolOptions) {
    checkApiCommand(o.command);
    this.host = o.host ?? '127.0.0.1';
    // Made private when created here; an existing one is not ours alone (Autopack writes
    // `.autonomous_runs` too): left as it is, the log files in it are private.
    ensurePrivateDir(o.logDir, { tightenExisting: false });
  }

  /** The slot's server, started (or restarted) and answering. Callers of one slot take turns. */
  serverFor(slot: number): Promise<ApiServerInfo> {
    const turn = (this.turns.get(slot) ?? Promise.resolve()).then(() => this.ensure(slot));
    this.turns.set(
      slot,
      turn.then(
        () => undefined,
        () => undefined,
      ),
    );
    return turn;
  }

  private async ensure(slot: number): Promise<ApiServerInfo> {
    if (this.stopping) throw new Error('the worker is shutting down: no API server');
    let s = this.slots.get(slot);
    if (!s) {
      const port = await getFreePort(this.host);
      s = { slot, port, child: null, ready: null, answered: false, starts: 0, restartTimer: null };
      this.slots.set(slot, s);
    }
    if (!s.ready || !(await this.stillAnswers(s))) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      s.ready = this.start(s);
    }
    const ready = s.ready;
    try {
      return await ready;
    } catch (err) {
      if (s.ready === ready) s.ready = null;
      throw err;
    }
  }

  /** Every slot's server as it is now. */
  list(): Array<{ slot: number; port: number; pid: number | null; starts: number; alive: boolean }> {
    return [...this.slots.values()].map((s) => ({
      slot: s.slot,
      port: s.port,
      pid: s.child?.pid ?? null,
      starts: s.starts,
      alive: !!s.child && s.child.exitCode === null && s.child.signalCode === null,
    }));
  }

  /** Stops every server (SIGTERM to its group, SIGKILL after the grace). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.slots.values()].map(async (s) => {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        const pid = s.child?.pid;
        if (pid && s.child?.exitCode === null) await terminateGroup(pid, this.o.stopGraceMs ?? 3_000);
      }),
    );
  }

  /**
   * A server handed out before must still answer: one that died (its exit may not have been
   * seen yet) or hangs is stopped and started again. A start still under way counts as fine.
   */
  private async stillAnswers(s: Slot): Promise<boolean> {
    const child = s.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return false;
    if (!s.answered) return true;
    if (await answers(`http://${this.host}:${s.port}`, 2000)) return true;
    this.o.log?.(`api server slot ${s.slot}: pid ${child.pid} does not answer; starting it again`);
    s.child = null; // its exit is not a crash to restart from
    if (child.pid) await terminateGroup(child.pid, 1000);
    return false;
  }

  private logFile(slot: number): string {
    return path.join(this.o.logDir, `api_server.slot${slot}.log`);
  }

  private async start(s: Slot): Promise<ApiServerInfo> {
    const argv = renderCommand(this.o.command, { port: String(s.port) });
    const fd = openPrivateLogSync(this.logFile(s.slot));
    let child: ChildProcess;
    try {
      child = spawn(argv[0], argv.slice(1), {
        cwd: this.o.cwd,
        env: { ...(this.o.env ?? process.env), PORT: String(s.port) },
        stdio: ['ignore', fd, fd],
        detached: true, // its own process group: stopped as a whole
      });
    } finally {
      closeSync(fd);
    }
    s.child = child;
    s.answered = false;
    s.starts += 1;
    child.on('error', () => {}); // a spawn error shows as an exit below
    child.on('exit', (code, signal) => this.exited(s, child, code, signal));
    this.o.log?.(`api server slot ${s.slot}: started pid ${child.pid} on port ${s.port} (start ${s.starts})`);
    return this.whenReady(s, child);
  }

  private async whenReady(s: Slot, child: ChildProcess): Promise<ApiServerInfo> {
    const url = `http://${this.host}:${s.port}`;
    const deadline = Date.now() + (this.o.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
        const tail = (await readTail(this.logFile(s.slot), { maxBytes: 2000 })) ?? '';
        throw new Error(
          `API server of slot ${s.slot} exited before it answered on ${url}; its log ends:\n${tail}`,
        );
      }
      if (await answers(url, 1000)) {
        s.answered = s.child === child;
        return { slot: s.slot, url, pid: child.pid, starts: s.starts, restarts: s.starts - 1 };
      }
      if (Date.now() > deadline) {
        if (child.pid) await terminateGroup(child.pid, 1000);
        throw new Error(
          `API server of slot ${s.slot} did not answer on ${url} within ${this.o.readyTimeoutMs ?? 30_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A server that died while the worker runs is started again, after a backoff. */
  private exited(s: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (s.child !== child || this.stopping) return;
    const delay = Math.min(RETRY_MAX_MS, 500 * 2 ** Math.min(6, s.starts - 1));
    this.o.log?.(
      `api server slot ${s.slot}: pid ${child.pid} exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms`,
    );
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (this.stopping || s.child !== child) return;
      s.ready = this.start(s);
      s.ready.catch((err: Error) => this.o.log?.(`api server slot ${s.slot}: ${err.message}`));
    }, delay);
    s.restartTimer.unref();
  }
}
