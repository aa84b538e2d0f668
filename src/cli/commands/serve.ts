import type { Command } from 'commander';
import path from 'node:path';
import { backlogOrRecords, databaseTargets } from '../../db/targets.js';
import { createDrainWorker, DEFAULT_TASK_QUEUE } from '../../worker.js';
import { startServices } from '../../runtime/services.js';
import { redactSecrets, redactUrl } from '../../domain/redact.js';
import { apiUrlProblem } from '../../domain/input.js';
import { checkApiCommand } from '../../runtime/api-servers.js';
import { AUTOPACK_EXECUTOR } from '../../../activities/deps.js';
import { installRuntime, onceInterrupted, simExecutorTemplate, UsageError } from '../env.js';
import {
  DEFAULT_METRICS_HOST,
  installMetrics,
  metricsEndpoint,
  type MetricsEndpoint,
} from '../../runtime/metrics.js';
import { GROUP_READ_VAR } from '../../runtime/private-files.js';

interface ServeFlags {
  taskQueue?: string;
  executor?: string;
  workspace?: string;
  apiUrl?: string;
  apiCommand?: string;
  maxConcurrent?: string;
  metricsPort?: string;
  metricsHost?: string;
}

function executorFor(flags: ServeFlags, embeddedDb: boolean): string {
  return (
    flags.executor ?? process.env.DRAIN_EXECUTOR ?? (embeddedDb ? simExecutorTemplate() : AUTOPACK_EXECUTOR)
  );
}

function workerFlags(cmd: Command): Command {
  return cmd
    .option('--task-queue <name>', 'task queue to poll', DEFAULT_TASK_QUEUE)
    .option(
      '--executor <template>',
      "default executor template (else DRAIN_EXECUTOR; else Autopack's drain_one_phase.py, or the reference executor on the embedded database)",
    )
    .option('--workspace <dir>', 'default workspace (else DRAIN_WORKSPACE, else the current directory)')
    .option('--api-url <url>', 'default AUTOPACK_API_URL for the executor (one external API server)')
    .option(
      '--api-command <template>',
      "start one API server per drain slot with this command ({port}: a free port it must listen on; no shell), wait until it answers HTTP, start it again if it dies, stop it on shutdown; each drain gets its slot's URL as AUTOPACK_API_URL (logs: <workspace>/.autonomous_runs/api_server.slot<N>.log)",
    )
    .option('--max-concurrent <n>', 'activities run at once by this worker', '20')
    .option(
      '--metrics-port <port>',
      "serve Prometheus metrics (the Temporal SDK's temporal_* and drain_*) at http://HOST:PORT/metrics (else DRAIN_METRICS_PORT; off when neither is set)",
    )
    .option(
      '--metrics-host <ip>',
      `IP address the metrics endpoint binds (else DRAIN_METRICS_HOST; default ${DEFAULT_METRICS_HOST}, this host only: 0.0.0.0 to let Prometheus scrape it from elsewhere, as docker-compose.yml does)`,
    )
    .addHelpText(
      'after',
      `\nFiles: raw attempt logs (not redacted), session JSONs and API server logs are created 0600 in 0700 directories; ${GROUP_READ_VAR}=1 in the environment makes them 0640 in 0750 (readable by the group).`,
    );
}

/** The metrics endpoint asked for by flag or environment; null when metrics are off. */
export function metricsFrom(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): MetricsEndpoint | null {
  const port = flags.metricsPort ?? (env.DRAIN_METRICS_PORT?.trim() || undefined);
  if (port === undefined) return null;
  const host = flags.metricsHost ?? (env.DRAIN_METRICS_HOST?.trim() || DEFAULT_METRICS_HOST);
  const names = {
    port: flags.metricsPort !== undefined ? '--metrics-port' : 'DRAIN_METRICS_PORT',
    host: flags.metricsHost !== undefined ? '--metrics-host' : 'DRAIN_METRICS_HOST',
  };
  try {
    return metricsEndpoint(port, host, names);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function checkFlags(flags: ServeFlags): number {
  const n = Number(flags.maxConcurrent ?? 20);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new UsageError(`--max-concurrent must be an integer from 1 to 1000, got "${flags.maxConcurrent}"`);
  }
  const urlProblem = flags.apiUrl === undefined ? null : apiUrlProblem(flags.apiUrl);
  if (urlProblem) throw new UsageError(`--api-url ${urlProblem}, got "${redactSecrets(flags.apiUrl ?? '')}"`);
  if (flags.apiCommand !== undefined) {
    if (flags.apiUrl)
      throw new UsageError(
        '--api-url and --api-command exclude each other: one external server, or one managed server per slot',
      );
    try {
      checkApiCommand(flags.apiCommand);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return n;
}

async function serve(flags: ServeFlags, embedded: boolean): Promise<void> {
  const maxConcurrent = checkFlags(flags);
  const metrics = metricsFrom(flags);
  // The Runtime is installed once per process, before any connection: with metrics or without.
  if (metrics) installMetrics(metrics.port, metrics.host);
  else installRuntime();
  const interrupted = onceInterrupted();
  const workspace = path.resolve(flags.workspace ?? process.env.DRAIN_WORKSPACE ?? process.cwd());
  const targets = databaseTargets(process.env, workspace);
  if (!embedded && !targets.backlog)
    throw new UsageError(
      'DATABASE_URL is not set: drain worker needs the backlog database (or use `drain dev` for embedded services)',
    );
  const services = await startServices({
    temporal: embedded,
    // Our records: a PostgreSQL backlog's own database, else DRAIN_RECORDS_URL or the embedded one.
    postgres: embedded || !targets.recordsUrl,
    log: (l) => console.log(`  ${l}`),
  });
  try {
    const recordsUrl = services.databaseUrl;
    const backlog = backlogOrRecords(targets, recordsUrl);
    const executor = executorFor(flags, services.embedded.postgres && !targets.backlog);
    const worker = await createDrainWorker({
      temporalAddress: services.temporalAddress || process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
      namespace: services.namespace || process.env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: flags.taskQueue,
      databaseUrl: backlog.url,
      recordsUrl,
      workspace,
      executor,
      apiUrl: flags.apiUrl ?? null,
      apiCommand: flags.apiCommand ?? null,
      maxConcurrentDrains: maxConcurrent,
    });
    console.log('autopack-drain worker running');
    if (services.uiUrl) console.log(`  Temporal Web UI:  ${services.uiUrl}`);
    console.log(
      `  Temporal:         ${services.temporalAddress || process.env.TEMPORAL_ADDRESS} (namespace ${services.namespace})`,
    );
    console.log(`  DATABASE_URL:     ${redactUrl(backlog.url)}`);
    if (backlog.kind === 'sqlite') {
      console.log(`  backlog file:     ${backlog.path} (SQLite)`);
      console.log(`  records:          ${redactUrl(recordsUrl)} (PostgreSQL)`);
    }
    console.log(`  task queue:       ${flags.taskQueue}`);
    console.log(`  executor:         ${executor}`);
    console.log(`  workspace:        ${workspace}`);
    if (flags.apiCommand)
      console.log(`  API servers:      one per drain slot: ${redactSecrets(flags.apiCommand)}`);
    if (metrics) console.log(`  metrics:          http://${metrics.bindAddress}/metrics`);
    console.log('Press Ctrl-C to stop (running executors are killed and their attempts retried later).');
    const running = worker.run();
    await Promise.race([running, interrupted]);
    console.log('stopping…');
    await worker.shutdown();
  } finally {
    await services.stop();
  }
}

export function registerServe(program: Command): void {
  workerFlags(
    program
      .command('dev')
      .description(
        'embedded Postgres + Temporal dev server (with Web UI) + a worker, in the foreground; state persists in .drain/',
      ),
  ).action((flags: ServeFlags) => serve(flags, true));
  workerFlags(
    program
      .command('worker')
      .description(
        'a worker only, against TEMPORAL_ADDRESS (default 127.0.0.1:7233) and DATABASE_URL; run as many as you like',
      ),
  ).action((flags: ServeFlags) => serve(flags, false));
}
