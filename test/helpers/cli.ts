/** The real `drain` CLI as a subprocess, for end-to-end tests. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/runtime/paths.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';

const BIN = path.join(projectRoot(), 'bin', 'drain.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Splits a command line on spaces, keeping "double-quoted parts" whole. */
export function argv(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

/**
 * Runs `node bin/drain.js <args>` with the environment `env` on top of this process's, in `cwd`
 * (default: this process's). Killed after `timeoutMs`. The one runner of the real CLI in tests.
 */
export function runCli(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: o.cwd,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A read-only command with DATABASE_URL set and no reachable Temporal server (verify, report, stranded). */
export function runOffline(databaseUrl: string, args: string[], cwd?: string): Promise<CliRun> {
  return runCli(args, { cwd, env: { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: '127.0.0.1:1' } });
}

/**
 * Runs `node bin/drain.js <line> --address <address>` (TEMPORAL_ADDRESS is set too; DATABASE_URL
 * is cleared so nothing reads a database by accident). Killed after `timeoutMs`.
 */
export function runDrain(
  address: string,
  line: string | string[],
  timeoutMs = 60_000,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<CliRun> {
  const args = [...(typeof line === 'string' ? argv(line) : line), '--address', address];
  return runCli(args, { timeoutMs, env: { TEMPORAL_ADDRESS: address, DATABASE_URL: '', ...extraEnv } });
}

/** runDrain that must exit 0; returns its stdout. */
export async function okDrain(address: string, line: string | string[]): Promise<string> {
  const r = await runDrain(address, line);
  assert.equal(r.code, 0, `drain ${String(line)} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Alive = exists and is not a zombie. */
export const alive = isProcessAlive;
