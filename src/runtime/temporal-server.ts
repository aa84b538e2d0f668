import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { findTemporalCli } from './binaries.js';
import { assertPortFree } from './ports.js';
import { isProcessAlive, stopProcesses } from './process-group.js';
import { readTail } from './log-tail.js';
import { commandLine } from './state-lock.js';

interface TemporalDevServerOptions {
  /** Path of the `temporal` CLI; found with findTemporalCli() if unset. */
  binary?: string;
  /** SQLite file that persists the server state across restarts. */
  dbFile: string;
  port: number;
  /** Web UI port; null runs --headless. */
  uiPort: number | null;
  ip?: string;
  namespace?: string;
  /** 'Name=Type' (Text|Keyword|Int|Double|Bool|Datetime|KeywordList), ensured on every start. */
  searchAttributes?: string[];
  logFile: string;
  logFormat?: 'json' | 'pretty' | 'text';
  extraArgs?: string[];
  /** How long to wait for the server to answer (default 60 s). */
  readyTimeoutMs?: number;
  /** Start the server in a process group of its own (a Ctrl-C for this process does not reach it). */
  detached?: boolean;
  /**
   * When a dev server already runs on the db file: 'attach' (default) uses it and stop()
   * leaves it running; 'adopt' uses it and stop() stops it (its starter is gone).
   */
  ifRunning?: 'attach' | 'adopt';
}

export interface TemporalServerHandle {
  /** host:port of the gRPC frontend. */
  address: string;
  namespace: string;
  uiUrl: string | null;
  pid: number;
  /** A dev server was already running on the db file; this handle uses it. */
  attached: boolean;
  /** stop() stops the server: it was started here, or adopted. */
  owned: boolean;
  /** Stops the server if owned (idempotent); an attached handle leaves it running. */
  stop(): Promise<void>;
  /** Leaves the server running on its own: this process may exit without stopping it. */
  release(): void;
}

/** proto IndexedValueType numbers by the CLI's type names. */
const INDEXED_VALUE_TYPES: Record<string, number> = {
  text: 1,
  keyword: 2,
  int: 3,
  double: 4,
  bool: 5,
  datetime: 6,
  keywordlist: 7,
};

/** The proto enum map the operator service takes (IndexedValueType values are plain numbers). */
type SearchAttributeTypes = NonNullable<
  Parameters<Connection['operatorService']['addSearchAttributes']>[0]['searchAttributes']
>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to graceMs, then SIGKILL; resolves once the process is gone. */
async function terminate(pid: number, graceMs: number, exited?: Promise<unknown>): Promise<void> {
  await stopProcesses([pid], graceMs);
  await exited;
}

/** A dev server running on a db file, as its pid file and command line tell. */
interface RunningDevServer {
  pid: number;
  address: string;
  uiUrl: string | null;
}

/**
 * The live dev server of `dbFile` (recorded in `<dbFile>.pid`), or null: no pid file, or a
 * stale one (its pid is gone, or belongs to a process that is not `start-dev` on this file).
 */
export function runningDevServer(dbFile: string): RunningDevServer | null {
  let pid: number;
  try {
    pid = Number(readFileSync(`${path.resolve(dbFile)}.pid`, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return null;
  const argv = commandLine(pid) ?? [];
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const db = arg('--db-filename');
  if (!argv.includes('start-dev') || !db || path.resolve(db) !== path.resolve(dbFile)) return null;
  const ip = arg('--ip') ?? 'localhost';
  const uiPort = argv.includes('--headless')
    ? null
    : (arg('--ui-port') ?? String(Number(arg('--port') ?? 7233) + 1000));
  return {
    pid,
    address: `${ip}:${arg('--port') ?? 7233}`,
    uiUrl: uiPort === null ? null : `http://${ip}:${uiPort}`,
  };
}

async function logTail(logFile: string, from: number, lines = 20): Promise<string> {
  const text = await readTail(logFile, { from, maxBytes: 64 * 1024 });
  return text === null ? '(no log)' : text.trimEnd().split('\n').slice(-lines).join('\n    ');
}

function parseSearchAttribute(spec: string): [string, number] {
  const m = /^([^=]+)=(.+)$/.exec(spec);
  const type = m && INDEXED_VALUE_TYPES[m[2].trim().toLowerCase()];
  if (!m || !type)
    throw new Error(
      `bad search attribute '${spec}': expected Name=Type with Type one of Text, Keyword, Int, Double, Bool, Datetime, KeywordList`,
    );
  return [m[1].trim(), type];
}

/**
 * `start-dev --search-attribute` registers attributes only when it creates the db file; on a
 * later start it ignores them. So missing ones are added through the operator service.
 */
async function ensureSearchAttributes(conn: Connection, namespace: string, specs: string[]): Promise<void> {
  if (specs.length === 0) return;
  const { customAttributes } = await conn.operatorService.listSearchAttributes({ namespace });
  const existing = (customAttributes ?? {}) as Record<string, number>;
  const missing: Record<string, number> = {};
  for (const spec of specs) {
    const [name, type] = parseSearchAttribute(spec);
    if (existing[name] === undefined) missing[name] = type;
    else if (Number(existing[name]) !== type) {
      throw new Error(
        `search attribute ${name} is already registered in namespace ${namespace} with another type (wanted ${spec}); use a fresh db file`,
      );
    }
  }
  if (Object.keys(missing).length === 0) return;
  await conn.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: missing as SearchAttributeTypes,
  });
}

/** Polls until the frontend answers and the namespace exists; rejects if the process exits first. */
async function waitReady(
  address: string,
  namespace: string,
  exited: Promise<string>,
  timeoutMs: number,
): Promise<Connection> {
  let exitReason: string | null = null;
  void exited.then((r) => (exitReason = r));
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (exitReason) throw new Error(`the Temporal dev server exited during startup (${exitReason})`);
    let conn: Connection | undefined;
    try {
      conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.withDeadline(Date.now() + 2000, () =>
        conn!.workflowService.describeNamespace({ namespace }),
      );
      return conn;
    } catch (e) {
      lastErr = e;
      await conn?.close().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(
    `the Temporal dev server did not become ready on ${address} within ${timeoutMs / 1000} s (last error: ${(lastErr as Error)?.message ?? lastErr})`,
  );
}

const gone = (pid: number) => {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<string>((resolve) => {
    timer = setInterval(() => !isProcessAlive(pid) && resolve(`pid ${pid} exited`), 200);
  });
  return { promise, cancel: () => clearInterval(timer) };
};

/** A handle on a dev server another process started; null if it exits before it answers. */
async function attachTo(
  running: RunningDevServer,
  o: TemporalDevServerOptions,
  namespace: string,
): Promise<TemporalServerHandle | null> {
  const { pid, address } = running;
  const exited = gone(pid);
  try {
    const conn = await waitReady(address, namespace, exited.promise, 30_000).catch((e: Error) => {
      if (!isProcessAlive(pid)) return null;
      throw new Error(
        `the Temporal dev server already running on ${o.dbFile} (pid ${pid}, ${address}) does not answer: ${e.message}; stop it (kill ${pid}) or retry when it is ready`,
      );
    });
    if (!conn) return null;
    try {
      await ensureSearchAttributes(conn, namespace, o.searchAttributes ?? []);
    } finally {
      await conn.close();
    }
  } finally {
    exited.cancel();
  }
  const adopt = o.ifRunning === 'adopt';
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= terminate(pid, 10_000).then(() => rm(`${path.resolve(o.dbFile)}.pid`, { force: true })));
  return {
    address,
    namespace,
    uiUrl: running.uiUrl,
    pid,
    attached: true,
    owned: adopt,
    stop: () => (adopt ? stop() : Promise.resolve()),
    release: () => {},
  };
}

function devServerArgs(o: TemporalDevServerOptions, dbFile: string, ip: string, namespace: string): string[] {
  const args = ['server', 'start-dev', '--db-filename', dbFile, '--port', String(o.port), '--ip', ip];
  args.push(...(o.uiPort === null ? ['--headless'] : ['--ui-port', String(o.uiPort)]));
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const sa of o.searchAttributes ?? []) args.push('--search-attribute', sa);
  args.push('--log-format', o.logFormat ?? 'pretty', '--log-level', 'warn', ...(o.extraArgs ?? []));
  return args;
}

async function assertPortsFree(o: TemporalDevServerOptions, ip: string): Promise<void> {
  const alt = 'or set TEMPORAL_ADDRESS to use an existing Temporal server';
  await assertPortFree(
    o.port,
    ip,
    `the Temporal dev server's gRPC frontend (set DRAIN_TEMPORAL_PORT to use another port, ${alt})`,
  );
  if (o.uiPort !== null) {
    await assertPortFree(
      o.uiPort,
      ip,
      `the Temporal Web UI (set DRAIN_TEMPORAL_UI_PORT to use another port, ${alt})`,
    );
  }
}

/** Spawns our own dev server (its output appended to the log file) and waits until it serves. */
async function startOwn(
  o: TemporalDevServerOptions,
  dbFile: string,
  namespace: string,
): Promise<TemporalServerHandle> {
  const binary = o.binary ?? findTemporalCli();
  const ip = o.ip ?? '127.0.0.1';
  const logFile = path.resolve(o.logFile);
  const pidFile = `${dbFile}.pid`;
  await rm(pidFile, { force: true }); // stale: runningDevServer found none
  await assertPortsFree(o, ip);
  const args = devServerArgs(o, dbFile, ip, namespace);
  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', fd, fd], detached: o.detached ?? false });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
    child.once('error', (e) => resolve(`spawn error: ${e.message}`));
  });
  const pid = child.pid;
  if (pid !== undefined) await writeFile(pidFile, `${pid}\n`);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (pid !== undefined && child.exitCode === null && child.signalCode === null)
        await terminate(pid, 10_000, exited);
      await rm(pidFile, { force: true });
    })());

  const address = `${ip}:${o.port}`;
  try {
    const conn = await waitReady(address, namespace, exited, o.readyTimeoutMs ?? 60_000);
    try {
      await ensureSearchAttributes(conn, namespace, o.searchAttributes ?? []);
    } finally {
      await conn.close();
    }
  } catch (e) {
    await stop();
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `${why}\n  command: ${binary} ${args.join(' ')}\n  last lines of ${logFile}:\n    ${await logTail(logFile, logStart)}`,
    );
  }
  const uiUrl = o.uiPort === null ? null : `http://${ip}:${o.uiPort}`;
  return {
    address,
    namespace,
    uiUrl,
    pid: pid!,
    attached: false,
    owned: true,
    stop,
    release: () => child.unref(),
  };
}

/**
 * Provides `temporal server start-dev` on a persistent SQLite db file, serving the namespace
 * with the wanted search attributes. When a dev server already runs on the db file (recorded
 * in `<dbFile>.pid`; another process started it) the handle attaches to it, at the address it
 * listens on, and stop() leaves it running (unless `ifRunning: 'adopt'`). Otherwise it starts
 * one; a stale pid file is removed first. Concurrent starters serialise with withStateLock.
 */
export async function startTemporalDevServer(o: TemporalDevServerOptions): Promise<TemporalServerHandle> {
  const namespace = o.namespace ?? 'default';
  const dbFile = path.resolve(o.dbFile);
  (o.searchAttributes ?? []).forEach(parseSearchAttribute); // validate early
  await mkdir(path.dirname(dbFile), { recursive: true });
  await mkdir(path.dirname(path.resolve(o.logFile)), { recursive: true });
  const running = runningDevServer(dbFile);
  const attached = running ? await attachTo(running, o, namespace) : null;
  return attached ?? startOwn(o, dbFile, namespace);
}
