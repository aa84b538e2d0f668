/**
 * The definitions of managed API servers (src/runtime/api-servers.ts has the pool): what
 * identifies a server from outside its pool (the variables of its environment: owner, session,
 * slot; its containment tag; its owner's pid namespace), read by the worker's orphan reaping
 * (src/runtime/orphans.ts) too; the check of a command template, the probe of a server's
 * answering, and the pool's options and records of its servers and their starts.
 */
import http from 'node:http';
import { renderCommand } from '../domain/command-template.js';
import { fnv1a32Hex } from '../domain/files.js';
import type { ContainedExit } from './containment.js';
import { pidNamespace } from './proc.js';

/** In a managed API server's environment: the pid of the worker that started it. */
export const API_OWNER_VAR = 'DRAIN_API_OWNER';
/** …that worker's start (ms since boot, /proc/<pid>/stat), so a recycled pid is not taken for it. */
export const API_OWNER_START_VAR = 'DRAIN_API_OWNER_START';
/** …that worker's pid namespace (`pid:[inode]`): its pid means something only there. */
export const API_OWNER_NS_VAR = 'DRAIN_API_OWNER_NS';
/** …the session and slot it serves. */
export const API_SESSION_VAR = 'DRAIN_API_SESSION';
export const API_SLOT_VAR = 'DRAIN_API_SLOT';

export interface ApiServerInfo {
  slot: number;
  url: string;
  pid: number;
  /** Times this session's server of this slot was started (the first start included). */
  starts: number;
  restarts: number;
}

/** Checks the command template before anything starts: it must render with a port. */
export function checkApiCommand(command: string): void {
  if (!/\{port\}/.test(command))
    throw new Error('--api-command must contain {port} (the port its server listens on)');
  renderCommand(command, { port: '1' });
}

/** The containment tag of one start of a session's server (hashed like tryTag). */
export function apiServerTag(o: {
  sessionId: string | null;
  slot: number;
  owner: string;
  start: number;
}): string {
  const key = JSON.stringify(['api', o.sessionId, o.slot, o.owner, o.start]);
  return `${fnv1a32Hex(key)}${fnv1a32Hex(`${key}#2`)}`;
}

/** This process's pid namespace (`pid:[4026531836]`), or '' where it cannot be read. */
export function ownPidNamespace(): string {
  return pidNamespace('self') ?? '';
}

/** One HTTP request: resolves true on any response, false on a connection error or timeout. */
export function answers(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export const DEFAULT_API_IDLE_STOP_MS = 10 * 60_000;

export interface ApiServerPoolOptions {
  /** Command template with a {port} placeholder (no shell: see command-template.ts). */
  command: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Each session's log files go to `<logDir>/<session>/`. */
  logDir: string;
  host?: string;
  readyTimeoutMs?: number;
  stopGraceMs?: number;
  /** A server not asked for this long, and used by no process, is stopped (default 10 minutes). */
  idleStopMs?: number;
  log?: (line: string) => void;
}

/** One start of a server: its containment. */
export interface Proc {
  pid: number | null;
  tag: string;
  cgroup: string | null;
  startedMs: number;
  exit: ContainedExit | null;
  exited: Promise<ContainedExit>;
  joined: Promise<boolean>;
  /** Set once it is being stopped: its end, waited for by everyone. */
  ending: Promise<void> | null;
}

export interface Server {
  key: string;
  /** null: a sessionless caller's (serverFor without a session). */
  session: string | null;
  slot: number;
  port: number;
  proc: Proc | null;
  ready: Promise<ApiServerInfo> | null;
  /** The current server answered once (its start is over). */
  answered: boolean;
  starts: number;
  restartTimer: NodeJS.Timeout | null;
  /** When a drain of the session last asked for it (ms, wall clock of this process). */
  lastAskedMs: number;
}
