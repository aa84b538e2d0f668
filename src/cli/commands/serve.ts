import type { Command } from 'commander';
import { createDrainWorker, DEFAULT_TASK_QUEUE } from '../../worker.js';
import { startServices } from '../../runtime/services.js';
import { redactUrl } from '../../domain/redact.js';
import { AUTOPACK_EXECUTOR } from '../../../activities/deps.js';
import { installRuntime, onceInterrupted, simExecutorTemplate, UsageError } from '../env.js';

interface ServeFlags {
  taskQueue?: string;
  executor?: string;
  workspace?: string;
  apiUrl?: string;
  maxConcurrent?: string;
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
    .option('--api-url <url>', 'default AUTOPACK_API_URL for the executor')
    .option('--max-concurrent <n>', 'activities run at once by this worker', '20');
}

function checkFlags(flags: ServeFlags): number {
  const n = Number(flags.maxConcurrent ?? 20);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new UsageError(`--max-concurrent must be an integer from 1 to 1000, got "${flags.maxConcurrent}"`);
  }
  if (flags.apiUrl && !/^https?:\/\/\S+$/i.test(flags.apiUrl)) {
    throw new UsageError(`--api-url must be an http(s) URL, got "${flags.apiUrl}"`);
  }
  if (flags.apiUrl && /^[a-z]+:\/\/[^/@\s]*@/i.test(flags.apiUrl)) {
    throw new UsageError(
      '--api-url must not contain credentials: they would be recorded in workflow history',
    );
  }
  return n;
}

async function serve(flags: ServeFlags, embedded: boolean): Promise<void> {
  const maxConcurrent = checkFlags(flags);
  installRuntime();
  const interrupted = onceInterrupted();
  const services = await startServices({
    temporal: embedded,
    postgres: embedded,
    log: (l) => console.log(`  ${l}`),
  });
  try {
    const databaseUrl = services.databaseUrl || process.env.DATABASE_URL;
    if (!databaseUrl)
      throw new UsageError(
        'DATABASE_URL is not set: drain worker needs the backlog database (or use `drain dev` for embedded services)',
      );
    const executor = executorFor(flags, services.embedded.postgres);
    const workspace = flags.workspace ?? process.env.DRAIN_WORKSPACE ?? process.cwd();
    const worker = await createDrainWorker({
      temporalAddress: services.temporalAddress || process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
      namespace: services.namespace || process.env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: flags.taskQueue,
      databaseUrl,
      workspace,
      executor,
      apiUrl: flags.apiUrl ?? null,
      maxConcurrentDrains: maxConcurrent,
    });
    console.log('autopack-drain worker running');
    if (services.uiUrl) console.log(`  Temporal Web UI:  ${services.uiUrl}`);
    console.log(
      `  Temporal:         ${services.temporalAddress || process.env.TEMPORAL_ADDRESS} (namespace ${services.namespace})`,
    );
    console.log(`  DATABASE_URL:     ${redactUrl(databaseUrl)}`);
    console.log(`  task queue:       ${flags.taskQueue}`);
    console.log(`  executor:         ${executor}`);
    console.log(`  workspace:        ${workspace}`);
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
