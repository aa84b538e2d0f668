import path from 'node:path';
import type { Command } from 'commander';
import { Client, Connection } from '@temporalio/client';
import { startDrain } from '../../client.js';
import { createPool } from '../../db/pool.js';
import { migrate } from '../../db/migrate.js';
import { redactUrl } from '../../domain/redact.js';
import { formatSummary } from '../../domain/report.js';
import { defaultSessionId } from '../../domain/session-id.js';
import { withEmbeddedServices, type Services } from '../../runtime/services.js';
import { projectRoot, stateDir } from '../../runtime/paths.js';
import { parseDatabaseUrl } from '../../db/database-url.js';
import { openStores } from '../../db/stores.js';
import { openAutopackSqlite } from '../../db/autopack-sqlite.js';
import { seedSample } from '../../sim/seed.js';
import { createDrainWorker } from '../../worker.js';
import { followSession } from '../follow.js';
import { verdictLine, verifySession } from '../verify-session.js';
import { installRuntime, onceInterrupted, simExecutorTemplate } from '../env.js';
import { readSessionJson } from '../session-lookup.js';

interface DemoFlags {
  batchSize: string;
  phaseTimeoutSeconds: string;
  sqlite?: boolean;
}

/**
 * Seeds the sample backlog: into the embedded Postgres (records beside it), or with `sqlite`
 * into a SQLite file made with Autopack's SQLite schema (records in the embedded Postgres).
 * Returns the backlog's URL.
 */
async function seedDemoBacklog(services: Services, sqlite: boolean): Promise<string> {
  if (!sqlite) {
    const pool = createPool(services.databaseUrl);
    await migrate(pool);
    const seeded = await seedSample(pool);
    await pool.end();
    console.log(
      `  database ${redactUrl(services.databaseUrl)}: sample backlog seeded (${seeded.runs} runs, ${seeded.phases} phases)`,
    );
    return services.databaseUrl;
  }
  const file = path.join(stateDir(), 'demo-autopack.db');
  openAutopackSqlite(file, { create: true }).close();
  const seeded = await seedSample(file);
  console.log(
    `  SQLite backlog ${file}: sample backlog seeded (${seeded.runs} runs, ${seeded.phases} phases); our records in ${redactUrl(services.databaseUrl)}`,
  );
  return `sqlite:///${file}`;
}

/** The demo on provided services: worker, sample backlog, one batch, summary and verdict. */
async function runDemo(
  services: Services,
  flags: DemoFlags,
  interrupted: Promise<NodeJS.Signals>,
  started: number,
): Promise<void> {
  let worker: Awaited<ReturnType<typeof createDrainWorker>> | null = null;
  try {
    const backlogUrl = await seedDemoBacklog(services, flags.sqlite === true);
    const workspace = projectRoot();
    worker = await createDrainWorker({
      temporalAddress: services.temporalAddress,
      namespace: services.namespace,
      databaseUrl: backlogUrl,
      recordsUrl: services.databaseUrl,
      workspace,
      executor: simExecutorTemplate(),
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: services.temporalAddress });
    const client = new Client({ connection, namespace: services.namespace });
    const sessionId = defaultSessionId(new Date());
    const handle = await startDrain(
      client,
      {
        batchSize: Number(flags.batchSize),
        phaseTimeoutSeconds: Number(flags.phaseTimeoutSeconds),
        killGraceSeconds: 2,
        // Pinned: a running `drain dev`'s worker may take these tasks, with defaults of its own.
        workspace,
        executor: simExecutorTemplate(),
      },
      { sessionId },
    );
    console.log(
      `\nStarted session ${sessionId}: draining ${flags.batchSize} phases with the reference executor\n`,
    );
    const result = await Promise.race([
      followSession(handle, { print: console.log, stop: interrupted }),
      running.then(() => null),
    ]);
    if (!result) {
      console.error('interrupted: the session is persisted; `npx drain dev` resumes it');
      process.exitCode = 130;
      return;
    }
    const { file, json } = await readSessionJson(client, sessionId, workspace);
    console.log('\n' + formatSummary(json));
    const stores = await openStores({
      location: parseDatabaseUrl(backlogUrl, { workspace }),
      recordsUrl: services.databaseUrl,
      poolSize: 1,
      migrate: false,
    });
    const verdict = await verifySession(stores.backlog.sql(), sessionId).finally(() => stores.close());
    console.log(`\n${verdictLine(verdict)} — details: npx drain verify ${sessionId} --format md`);
    console.log(`\nSession file: ${file}`);
    console.log(`Per-phase logs: ${file.replace(/\.json$/, '')}/logs/`);
    console.log(
      `Finished in ${Math.round((Date.now() - started) / 1000)}s. Everything persisted under .drain/.`,
    );
    console.log(
      services.attached.temporal
        ? 'Browse it in the Temporal Web UI of the running dev server:'
        : 'Browse it in the Temporal Web UI afterwards: run `npx drain dev`, then open',
    );
    console.log(
      `  ${services.uiUrl ?? 'http://127.0.0.1:8233'}/namespaces/${services.namespace}/workflows/${sessionId}`,
    );
    await connection.close();
  } finally {
    await worker?.shutdown();
  }
}

/**
 * The whole thing once, on embedded defaults: Postgres + Temporal dev server + worker,
 * the sample backlog, one batch of 10 through the reference executor, the summary.
 * Everything it leaves (session JSON, logs, Temporal and Postgres state) persists.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a real drain of the sample backlog on embedded services, print the summary, exit')
    .option('--batch-size <n>', 'phases to drain', '10')
    .option('--phase-timeout-seconds <s>', 'short, so the hanging phase shows a real timeout', '6')
    .option(
      '--sqlite',
      "the backlog in a SQLite file with Autopack's SQLite schema (.drain/demo-autopack.db), as Autopack's own guides keep it; our records stay in the embedded Postgres",
    )
    .action(async (flags: DemoFlags) => {
      installRuntime();
      const interrupted = onceInterrupted();
      const started = Date.now();
      console.log(
        'autopack-drain demo: embedded services (those of a running `drain dev`, else started here; a first start initialises them)…',
      );
      await withEmbeddedServices(
        { need: ['postgres', 'temporal'], log: (l) => console.log(`  ${l}`) },
        (services) => runDemo(services, flags, interrupted, started),
      );
    });
}
