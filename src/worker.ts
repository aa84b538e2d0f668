import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { AUTOPACK_EXECUTOR, type ActivityDeps } from '../activities/deps.js';
import { sessionJsonPath } from '../activities/paths.js';
import { verifySession } from './cli/verify-session.js';
import { parseDatabaseUrl } from './db/database-url.js';
import { openStores, type Stores } from './db/stores.js';
import { fenceBounds, type FenceBounds } from './domain/fence.js';
import { SupervisorPool } from './runtime/supervisor-pool.js';
import { collectKnownSecrets } from './runtime/secret-sources.js';
import { reapOrphanedApiServers, reapOrphanedExecutors } from './runtime/orphans.js';
import { processesReaped } from './runtime/metrics.js';
import { ApiServerPool } from './runtime/api-servers.js';
import { cachedWorkflowBundle, QUIET_BUNDLE_LOGGER } from './runtime/workflow-bundle.js';
import { Notifier, parseNotifyUrls } from './runtime/notify.js';
import { KeyedLatest } from './runtime/keyed-turns.js';
import { redactSecrets } from './domain/redact.js';

export const DEFAULT_TASK_QUEUE = 'autopack-drain';
export const WORKFLOWS_PATH = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'workflows',
  'index.ts',
);

export interface DrainWorkerOptions {
  temporalAddress: string;
  namespace: string;
  taskQueue?: string;
  /** The backlog: a PostgreSQL URL or a SQLite one (sqlite:///autopack.db, relative to the workspace). */
  databaseUrl: string;
  /** Where a SQLite backlog's records go (a PostgreSQL URL); ignored for a PostgreSQL backlog. */
  recordsUrl?: string | null;
  /** Defaults for sessions whose input does not name them. */
  workspace?: string;
  executor?: string;
  apiUrl?: string | null;
  /**
   * Start one API server per drain slot with this command ({port} is its port) and give each
   * drain its slot's URL as AUTOPACK_API_URL (a session's apiUrl still wins).
   */
  apiCommand?: string | null;
  identity?: string;
  heartbeatIntervalMs?: number;
  leaseTtlSeconds?: number;
  maxLogBytes?: number;
  maxConcurrentDrains?: number;
  /** A pre-built workflow bundle (tests build it once); else bundleWorkflows() (cached by content). */
  workflowBundle?: WorkflowBundle;
  shutdownGraceTime?: string | number;
  /**
   * Webhooks notified when a session ends (else DRAIN_NOTIFY_URL, several separated by
   * whitespace or commas), the first retry delay (else DRAIN_NOTIFY_BACKOFF_MS, else 2 s;
   * doubling up to 10 min) and how often to look for failed sessions (default 30 s).
   */
  notify?: { urls?: string[]; firstBackoffMs?: number; failedScanMs?: number };
}

export interface DrainWorker {
  worker: Worker;
  run(): Promise<void>;
  /** Stops polling, cancels running drains (their process groups are killed), closes connections. */
  shutdown(): Promise<void>;
}

/** The workflow bundle (built once per content of the sources: src/runtime/workflow-bundle.ts). */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  return cachedWorkflowBundle(WORKFLOWS_PATH, QUIET_BUNDLE_LOGGER);
}

/** One API server per drain slot (DrainWorkerOptions.apiCommand), or null. */
function apiServerPool(o: DrainWorkerOptions, workspace: string): ApiServerPool | null {
  return o.apiCommand
    ? new ApiServerPool({
        command: o.apiCommand,
        cwd: workspace,
        // Each session's server logs go to its own directory (tidied with the session).
        logDir: path.join(workspace, '.autonomous_runs', 'batch_drain_sessions'),
        // A session's server is stopped once unused this long (src/runtime/api-servers.ts).
        idleStopMs: (Number(process.env.DRAIN_API_IDLE_SECONDS) || 600) * 1000,
        log: (line) => console.log(line),
      })
    : null;
}

/**
 * How long a worker's end waits for running session JSON rewrites (a write stuck on its lock or
 * a database that does not answer must not keep the worker from ending; a rewrite left undone
 * is replaced by the session's next one, on any worker).
 */
const JSON_WRITES_GRACE_MS = 10_000;

interface WorkerParts {
  workspace: string;
  stores: Stores;
  identity: string;
  notifyUrls: string[];
  apiServers: ApiServerPool | null;
  fence: FenceBounds;
  supervisors: SupervisorPool;
  /** Running sessions' JSON rewrites in the background (ActivityDeps.sessionJsonWrites). */
  sessionJsonWrites: KeyedLatest;
}

function activityDeps(o: DrainWorkerOptions, p: WorkerParts): ActivityDeps {
  const { stores, workspace } = p;
  return {
    pool: stores.records,
    fence: p.fence,
    supervisors: p.supervisors,
    backlog: stores.backlog,
    databaseUrl: stores.backlog.location.url,
    database: stores.database,
    // The webhook URLs are secrets too (src/runtime/notify.ts).
    knownSecrets: [...collectKnownSecrets([o.databaseUrl, stores.recordsUrl]), ...p.notifyUrls],
    defaults: {
      workspace,
      executor: o.executor ?? AUTOPACK_EXECUTOR,
      apiUrl: o.apiUrl ?? null,
    },
    identity: p.identity,
    host: hostname(),
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? (Number(process.env.DRAIN_HEARTBEAT_MS) || 5_000),
    leaseTtlSeconds: o.leaseTtlSeconds ?? 60,
    maxLogBytes: o.maxLogBytes ?? (Number(process.env.DRAIN_MAX_LOG_BYTES) || 256 * 1024 * 1024),
    apiServers: p.apiServers,
    sessionJsonWrites: p.sessionJsonWrites,
  };
}

/** Stops what a dead worker on this host left running: its executors and API servers (never a live worker's). */
async function reapOrphans(pool: Stores['records']): Promise<void> {
  const reaped = await reapOrphanedExecutors(pool, hostname(), 2_000);
  processesReaped(reaped.length);
  if (reaped.length)
    console.warn(`stopped ${reaped.length} executor(s) left running by a dead worker on this host`);
  await reapOrphanedApiServers(2_000, (line) => console.warn(line));
}

async function connectTemporal(o: DrainWorkerOptions, stores: Stores): Promise<NativeConnection> {
  return NativeConnection.connect({ address: o.temporalAddress }).catch(async (err: Error) => {
    await stores.close().catch(() => {});
    throw new Error(
      `cannot reach Temporal at ${o.temporalAddress} (${err.message}); is TEMPORAL_ADDRESS right?`,
    );
  });
}

function createNotifier(
  o: DrainWorkerOptions,
  p: WorkerParts,
  deps: ActivityDeps,
  temporal: Client,
): Notifier {
  return new Notifier({
    pool: p.stores.records,
    urls: p.notifyUrls,
    worker: p.identity,
    host: hostname(),
    knownSecrets: deps.knownSecrets,
    verify: (sessionId) => verifySession(p.stores.backlog.sql(), sessionId),
    workflowStatus: async (id) => (await temporal.workflow.getHandle(id).describe()).status.name,
    sessionJsonPath,
    firstBackoffMs: o.notify?.firstBackoffMs ?? (Number(process.env.DRAIN_NOTIFY_BACKOFF_MS) || undefined),
    failedScanMs: o.notify?.failedScanMs,
    log: (line) => console.warn(line),
  });
}

/** run() and shutdown() of a created worker: both close the notifier, API servers, connection and stores once. */
function drainWorkerHandle(
  worker: Worker,
  notifier: Notifier,
  p: WorkerParts,
  connection: NativeConnection,
): DrainWorker {
  const { apiServers, stores, supervisors } = p;
  let closed = false;
  let running: Promise<void> | null = null;
  return {
    worker,
    run() {
      notifier.start();
      running ??= worker.run().finally(async () => {
        await p.sessionJsonWrites.idle(undefined, JSON_WRITES_GRACE_MS);
        supervisors.close();
        await notifier.stop().catch(() => {});
        await apiServers?.stop().catch(() => {});
        await connection.close().catch(() => {});
        await stores.close().catch(() => {});
        closed = true;
      });
      return running;
    },
    async shutdown() {
      if (closed) return;
      if (running) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      } else {
        await p.sessionJsonWrites.idle(undefined, JSON_WRITES_GRACE_MS);
        supervisors.close();
        await apiServers?.stop().catch(() => {});
        await connection.close().catch(() => {});
        await stores.close().catch(() => {});
        closed = true;
      }
    },
  };
}

export async function createDrainWorker(o: DrainWorkerOptions): Promise<DrainWorker> {
  const workspace = path.resolve(o.workspace ?? process.cwd());
  const notifyUrls = o.notify?.urls ?? parseNotifyUrls(process.env.DRAIN_NOTIFY_URL);
  const location = parseDatabaseUrl(o.databaseUrl, { workspace });
  const stores = await openStores({ location, recordsUrl: o.recordsUrl, poolSize: 8 });
  const identity = o.identity ?? `drain-worker@${hostname()}:${process.pid}`;
  const fence = fenceBounds(process.env);
  const parts: WorkerParts = {
    workspace,
    stores,
    identity,
    notifyUrls,
    apiServers: apiServerPool(o, workspace),
    fence,
    // Records URL for the supervisors' own connections: never printed, never in their environment.
    supervisors: new SupervisorPool({
      recordsUrl: stores.recordsUrl,
      searchPath: stores.recordsSchema,
      renewMs: fence.renewMs,
    }),
    // A failed rewrite is replaced by the next one (and the session's final write waits for it).
    sessionJsonWrites: new KeyedLatest((err, sessionId) =>
      console.warn(
        `session ${sessionId}: its running session JSON was not rewritten (${redactSecrets(String((err as Error)?.message ?? err), deps.knownSecrets)}); the next rewrite replaces it`,
      ),
    ),
  };
  const deps: ActivityDeps = activityDeps(o, parts);
  await reapOrphans(stores.records);
  const connection = await connectTemporal(o, stores);
  const temporal = new Client({ connection, namespace: o.namespace });
  const notifier = createNotifier(o, parts, deps, temporal);
  deps.notifier = notifier;
  const worker = await Worker.create({
    connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
    identity,
    activities: createActivities(deps),
    workflowBundle: o.workflowBundle ?? (await bundleWorkflows()),
    maxConcurrentActivityTaskExecutions: o.maxConcurrentDrains ?? 20,
    shutdownGraceTime: o.shutdownGraceTime ?? '2s',
    // Heartbeats (and so cancellation and progress) reach the server every 2 s at most.
    maxHeartbeatThrottleInterval: '2s',
  });
  return drainWorkerHandle(worker, notifier, parts, connection);
}
