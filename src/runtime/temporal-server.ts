import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, open } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { findTemporalCli } from './binaries.js';
import { assertPortFree } from './ports.js';

export interface TemporalDevServerOptions {
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
}

export interface TemporalServerHandle {
  /** host:port of the gRPC frontend. */
  address: string;
  namespace: string;
  uiUrl: string | null;
  pid: number;
  stop(): Promise<void>;
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

/** True while the process exists and is not a zombie (an unreaped zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL; resolves once the process is gone. */
async function terminate(pid: number, graceMs: number, exited?: Promise<unknown>): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  const gone = () => (exited ? false : !alive(pid));
  let done = false;
  void exited?.then(() => (done = true));
  while (Date.now() < deadline) {
    if (done || gone()) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  if (exited) await exited;
  else for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
}

/** Stops a dev server left running on this db file by a process that was killed (kill -9). */
async function stopOrphan(pidFile: string, dbFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    let cmdline = '';
    try {
      cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    } catch {
      /* gone, or no /proc */
    }
    if (cmdline.includes('start-dev') && cmdline.includes(dbFile)) await terminate(pid, 10_000);
  }
  await rm(pidFile, { force: true });
}

async function logTail(logFile: string, from: number, lines = 20): Promise<string> {
  try {
    const fh = await open(logFile, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(from, size - 64 * 1024);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n    ');
    } finally {
      await fh.close();
    }
  } catch {
    return '(no log)';
  }
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

/**
 * Starts `temporal server start-dev` with a persistent SQLite db file and waits until it serves
 * the namespace with the wanted search attributes. A server orphaned on the same db file (our
 * process was killed) is stopped first, via the pid file `<dbFile>.pid`.
 */
export async function startTemporalDevServer(o: TemporalDevServerOptions): Promise<TemporalServerHandle> {
  const binary = o.binary ?? findTemporalCli();
  const ip = o.ip ?? '127.0.0.1';
  const namespace = o.namespace ?? 'default';
  const dbFile = path.resolve(o.dbFile);
  const logFile = path.resolve(o.logFile);
  const pidFile = `${dbFile}.pid`;
  const searchAttributes = o.searchAttributes ?? [];
  searchAttributes.forEach(parseSearchAttribute); // validate early

  await mkdir(path.dirname(dbFile), { recursive: true });
  await mkdir(path.dirname(logFile), { recursive: true });
  await stopOrphan(pidFile, dbFile);
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

  const args = ['server', 'start-dev', '--db-filename', dbFile, '--port', String(o.port), '--ip', ip];
  args.push(...(o.uiPort === null ? ['--headless'] : ['--ui-port', String(o.uiPort)]));
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const sa of searchAttributes) args.push('--search-attribute', sa);
  args.push('--log-format', o.logFormat ?? 'pretty', '--log-level', 'warn', ...(o.extraArgs ?? []));

  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', fd, fd] });
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
      await ensureSearchAttributes(conn, namespace, searchAttributes);
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
  return {
    address,
    namespace,
    uiUrl: o.uiPort === null ? null : `http://${ip}:${o.uiPort}`,
    pid: pid!,
    stop,
  };
}
