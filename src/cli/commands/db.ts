import type { Command } from 'commander';
import { backlogLabel } from '../../db/database-url.js';
import { openAutopackSqlite } from '../../db/autopack-sqlite.js';
import { redactUrl } from '../../domain/redact.js';
import { seedSample } from '../../sim/seed.js';
import { databaseTargets } from '../../db/targets.js';
import { withStores } from '../database.js';
import { UsageError } from '../env.js';

const progress = (l: string) => console.error(`  ${l}`);

export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description(
      'database commands (DATABASE_URL — PostgreSQL or sqlite:///file.db — else the embedded Postgres under .drain/)',
    );
  db.command('migrate')
    .description(
      "create the drain_ tables (and Autopack's tables when absent, on PostgreSQL); idempotent. A SQLite backlog's records go to DRAIN_RECORDS_URL or the embedded Postgres, never into the file",
    )
    .action(async () => {
      await withStores({ migrate: true, log: progress, startEmbedded: true }, async (stores) => {
        const applied = stores.applied;
        console.log(
          `records for ${redactUrl(backlogLabel(stores.backlog.location))}: ${applied.length ? `applied ${applied.join(', ')}` : 'already up to date'}`,
        );
      });
    });
  db.command('seed')
    .description(
      "create a demo backlog for the reference executor (src/sim); a SQLite file is created with Autopack's SQLite schema when absent",
    )
    .option('--sample', 'the sample backlog: 4+ runs, 20+ phases, mixed scenarios')
    .action(async (o: { sample?: boolean }) => {
      if (!o.sample) throw new UsageError('say what to seed: drain db seed --sample');
      await seedInto();
    });
}

async function seedInto(): Promise<void> {
  const target = databaseTargets(process.env, process.cwd()).backlog;
  if (target?.kind === 'sqlite' && !target.windows) openAutopackSqlite(target.path, { create: true }).close();
  await withStores({ migrate: true, log: progress, startEmbedded: true }, async (stores) => {
    const loc = stores.backlog.location;
    const c = await seedSample(loc.kind === 'sqlite' ? loc.path : stores.records);
    const counts = await stores.backlog.backlogCounts();
    console.log(`seeded the sample backlog into ${redactUrl(backlogLabel(loc))}: ${JSON.stringify(c)}`);
    console.log(
      `backlog now: ${counts.runs} runs, ${counts.phases} phases ${JSON.stringify(counts.byState)}`,
    );
  });
}
