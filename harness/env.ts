/**
 * Real services for end-to-end tests: an embedded Postgres and a Temporal dev server on
 * free ports in a temp directory, a workflow bundle built once per test process, and
 * workers (in-process or as `drain worker` subprocesses) using the reference executor.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import type pg from 'pg';
import { createPool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { getFreePort } from '../src/runtime/ports.js';
import { copyPostgresTemplate, TEST_PG_TIMEZONE } from './pg-template.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/runtime/postgres.js';
import { startTemporalDevServer, type TemporalServerHandle } from '../src/runtime/temporal-server.js';
import { projectRoot } from '../src/runtime/paths.js';
import { DRAIN_SEARCH_ATTRIBUTE_FLAGS } from '../src/domain/search-attributes.js';
import {
  bundleWorkflows,
  createDrainWorker,
  type DrainWorker,
  type DrainWorkerOptions,
} from '../src/worker.js';
import { installRuntime, simExecutorTemplate } from '../src/cli/env.js';

let bundle: Promise<WorkflowBundle> | null = null;
export const workflowBundle = () => (bundle ??= bundleWorkflows());

export interface TestEnv {
  dir: string;
  workspace: string;
  databaseUrl: string;
  pool: pg.Pool;
  postgres: EmbeddedPostgresHandle;
  temporal: TemporalServerHandle;
  temporalPort: number;
  client: Client;
  taskQueue: string;
  executor: string;
  startWorker(o?: Partial<DrainWorkerOptions>): Promise<DrainWorker>;
  /** A `drain worker` subprocess (for kill -9 tests). */
  spawnWorker(env?: NodeJS.ProcessEnv, args?: string[]): ChildProcess;
  /** Stops and starts the Temporal dev server on the same port and db file. */
  restartTemporal(): Promise<void>;
  teardown(): Promise<void>;
}

/** An env's two services, and how to start its Temporal dev server again (same port, same db file). */
interface Services {
  postgres: EmbeddedPostgresHandle;
  temporal: TemporalServerHandle;
  temporalPort: number;
  startTemporal(): Promise<TemporalServerHandle>;
}

/** Postgres (a copy of the template) and the Temporal dev server in `dir`; `dir` goes when either fails. */
async function startServices(dir: string, uiPort: number | null): Promise<Services> {
  let temporalPort = 0;
  const startTemporal = () =>
    startTemporalDevServer({
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
      port: temporalPort,
      uiPort,
      searchAttributes: DRAIN_SEARCH_ATTRIBUTE_FLAGS,
    });
  await copyPostgresTemplate(dir); // an initialised cluster: no initdb per env
  // Both services at once, each on a port that was free a moment ago (another file's services
  // may take it meanwhile: then another one).
  const [pgStarted, temporalStarted] = await Promise.allSettled([
    onFreePort((port) => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port })),
    onFreePort((port) => ((temporalPort = port), startTemporal())),
  ]);
  if (pgStarted.status === 'rejected' || temporalStarted.status === 'rejected') {
    if (pgStarted.status === 'fulfilled') await pgStarted.value.stop().catch(() => {});
    if (temporalStarted.status === 'fulfilled') await temporalStarted.value.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw pgStarted.status === 'rejected'
      ? pgStarted.reason
      : (temporalStarted as PromiseRejectedResult).reason;
  }
  return { postgres: pgStarted.value, temporal: temporalStarted.value, temporalPort, startTemporal };
}

/** Migrates the env's database and checks that its server runs with TEST_PG_TIMEZONE. */
async function prepareDatabase(pool: pg.Pool): Promise<void> {
  await migrate(pool);
  const tz = (await pool.query<{ tz: string }>('SELECT current_setting($1) AS tz', ['TimeZone'])).rows[0].tz;
  if (tz !== TEST_PG_TIMEZONE)
    throw new Error(`the test Postgres runs with TimeZone ${tz}, not ${TEST_PG_TIMEZONE}`);
}

/** What a `drain worker` subprocess of the env is pointed at. */
interface WorkerTarget {
  taskQueue: string;
  databaseUrl: string;
  temporalAddress: string;
  executor: string;
  workspace: string;
}

/** A `drain worker` subprocess whose stdout and stderr collect in its `output` property. */
function spawnDrainWorker(t: WorkerTarget, extra: NodeJS.ProcessEnv, args: string[]): ChildProcess {
  const child = spawn(
    process.execPath,
    [path.join(projectRoot(), 'bin', 'drain.js'), 'worker', '--task-queue', t.taskQueue, ...args],
    {
      env: {
        ...process.env,
        DATABASE_URL: t.databaseUrl,
        TEMPORAL_ADDRESS: t.temporalAddress,
        DRAIN_EXECUTOR: t.executor,
        DRAIN_WORKSPACE: t.workspace,
        DRAIN_HEARTBEAT_MS: '1000',
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (out += c));
  Object.defineProperty(child, 'output', { get: () => out });
  return child;
}

export async function startTestEnv(o: { taskQueue?: string; ui?: boolean } = {}): Promise<TestEnv> {
  installRuntime();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drain-e2e-'));
  await chmod(dir, 0o755); // as root, Postgres runs as 'postgres' and must reach its data dir
  const workspace = path.join(dir, 'workspace');
  await mkdir(workspace, { recursive: true });
  const uiPort = o.ui ? await getFreePort() : null;
  const { postgres, temporalPort, startTemporal, ...services } = await startServices(dir, uiPort);
  let temporal = services.temporal;
  const pool = createPool(postgres.url, 4);
  await prepareDatabase(pool);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: 'default' });
  const taskQueue = o.taskQueue ?? `drain-test-${Math.random().toString(36).slice(2, 8)}`;
  const executor = simExecutorTemplate();
  const workers: DrainWorker[] = [];
  const children: ChildProcess[] = [];

  const env: TestEnv = {
    dir,
    workspace,
    databaseUrl: postgres.url,
    pool,
    postgres,
    get temporal() {
      return temporal;
    },
    temporalPort,
    client,
    taskQueue,
    executor,
    async startWorker(w = {}) {
      const worker = await createDrainWorker({
        temporalAddress: temporal.address,
        namespace: 'default',
        taskQueue,
        databaseUrl: postgres.url,
        workspace,
        executor,
        workflowBundle: await workflowBundle(),
        heartbeatIntervalMs: 1000,
        ...w,
      });
      workers.push(worker);
      void worker.run().catch(() => {});
      return worker;
    },
    spawnWorker(extra = {}, args: string[] = []) {
      const target = {
        taskQueue,
        databaseUrl: postgres.url,
        temporalAddress: temporal.address,
        executor,
        workspace,
      };
      const child = spawnDrainWorker(target, extra, args);
      children.push(child);
      return child;
    },
    async restartTemporal() {
      await temporal.stop();
      temporal = await startTemporal();
    },
    async teardown() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.shutdown().catch(() => {})));
      await connection.close().catch(() => {});
      await pool.end().catch(() => {});
      // The env's server and its db file go away: no graceful shutdown of the dev server (~1 s).
      if (temporal.owned) killQuietly(temporal.pid);
      await Promise.all([temporal.stop().catch(() => {}), postgres.stop().catch(() => {})]);
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
  return env;
}

/** Starts a service on a free port; a port taken before the service bound it is replaced (4 tries). */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await start(await getFreePort());
    } catch (err) {
      if (tries >= 4 || !/in use/i.test(String((err as Error)?.message))) throw err;
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  ms = 30_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Waits until the server has recorded a heartbeat of the session's running drain (its details
 * name the executor's group): recovery after a worker is killed reads them, so a kill test must
 * not kill before the first heartbeat has left the worker.
 */
export async function heartbeatRecorded(handle: WorkflowHandle, ms = 30_000): Promise<void> {
  await eventually(
    async () => {
      const d = await handle.describe();
      const decoded = (d.raw.pendingActivities ?? []).flatMap((a) =>
        (a.heartbeatDetails?.payloads ?? []).map((p) => Buffer.from(p.data ?? []).toString('utf8')),
      );
      return decoded.some((text) => text.includes('"pgid"'));
    },
    ms,
    'a recorded heartbeat of the running drain',
  );
}
