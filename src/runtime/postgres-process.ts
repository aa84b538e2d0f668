import { spawn, type ChildProcess } from 'node:child_process';
import { chown, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PgBinaries, PgUser } from './postgres-binaries.js';
import { stopProcesses } from './process-group.js';

/** Last lines of a server's output, for error messages. */
export class OutputTail {
  private lines: string[] = [];
  constructor(private readonly onLine?: (l: string) => void) {}
  push(chunk: Buffer | string): string {
    const text = chunk.toString();
    for (const l of text.split('\n')) {
      if (!l.trim()) continue;
      this.lines.push(l);
      this.onLine?.(l);
    }
    this.lines = this.lines.slice(-12);
    return text;
  }
  toString(): string {
    return this.lines.join('\n    ');
  }
}

const ids = (user: PgUser | null) => (user ? { uid: user.uid, gid: user.gid } : {});
const ENV = { LC_ALL: 'C', LC_MESSAGES: 'C', LANG: 'C' };

/** initdb with password authentication and the C locale (present on every machine). */
export async function initCluster(
  bin: PgBinaries,
  user: PgUser | null,
  dataDir: string,
  superuser: string,
  password: string,
  tail: OutputTail,
): Promise<void> {
  const pwFile = path.join(os.tmpdir(), `drain-pg-pw-${process.pid}-${Date.now()}`);
  await writeFile(pwFile, password + '\n', { mode: 0o600 });
  if (user) await chown(pwFile, user.uid, user.gid);
  try {
    const args = [
      `--pgdata=${dataDir}`,
      '--auth=password',
      `--username=${superuser}`,
      `--pwfile=${pwFile}`,
      '--locale=C',
      '--encoding=UTF8',
    ];
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn(bin.initdb, args, { ...ids(user), env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.on('data', (c) => tail.push(c));
      p.stderr.on('data', (c) => tail.push(c));
      p.once('error', reject);
      p.once('close', resolve);
    });
    if (code !== 0) throw new Error(`initdb exited with code ${code}`);
  } finally {
    await rm(pwFile, { force: true });
  }
}

/**
 * Starts the server and resolves once it accepts connections; rejects if it exits first.
 * `detached`: in a process group of its own, so a Ctrl-C meant for the starting command does
 * not reach a server that other processes use (the starter stops it when it is done).
 */
export function startServer(
  bin: PgBinaries,
  user: PgUser | null,
  dataDir: string,
  port: number,
  tail: OutputTail,
  o: { detached?: boolean; readyTimeoutMs?: number } = {},
): Promise<ChildProcess> {
  const readyTimeoutMs = o.readyTimeoutMs ?? 60_000;
  const args = [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
  ];
  const p = spawn(bin.postgres, args, {
    ...ids(user),
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.detached ?? false,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`not ready after ${readyTimeoutMs / 1000}s`));
    }, readyTimeoutMs);
    const onData = (c: Buffer) => {
      if (tail.push(c).includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve(p);
      }
    };
    p.stdout?.on('data', (c) => tail.push(c));
    p.stderr?.on('data', onData);
    p.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited (${signal ?? `code ${code}`}) before it was ready`));
    });
  });
}

/** Fast shutdown (SIGINT); SIGKILL if it has not stopped after `ms`. */
export async function stopServer(p: ChildProcess, ms = 30_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  const timer = setTimeout(() => p.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** Leaves a started server running without this process: it may exit while the server goes on. */
export function releaseServer(p: ChildProcess): void {
  p.stdout?.destroy();
  p.stderr?.destroy();
  p.unref();
}

/** Fast shutdown of a postmaster this process did not spawn, by pid; SIGKILL after `ms`. */
export async function stopPostmaster(pid: number, ms = 30_000): Promise<void> {
  await stopProcesses([pid], ms, 'SIGINT');
}
