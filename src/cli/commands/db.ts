import type { Command } from 'commander';
import { createPool } from '../../db/pool.js';
import { migrate } from '../../db/migrate.js';
import { backlogCounts } from '../../db/phases.js';
import { redactUrl } from '../../domain/redact.js';
import { seedSample } from '../../sim/seed.js';
import { withEmbeddedServices } from '../../runtime/services.js';
import { UsageError } from '../env.js';

/**
 * Runs `fn` with a pool on DATABASE_URL, else on the embedded Postgres: the running one (of
 * `drain dev`, say), left running, or one started for the call. Progress lines go to stderr.
 */
function withDatabase<T>(fn: (pool: ReturnType<typeof createPool>, url: string) => Promise<T>): Promise<T> {
  return withEmbeddedServices(
    { need: ['postgres'], log: (l) => console.error(`  ${l}`) },
    async (services) => {
      const pool = createPool(services.databaseUrl);
      try {
        return await fn(pool, services.databaseUrl);
      } finally {
        await pool.end();
      }
    },
  );
}

export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description('database commands (DATABASE_URL, else the embedded Postgres under .drain/)');
  db.command('migrate')
    .description("create the drain_ tables (and Autopack's tables when absent); idempotent")
    .action(async () => {
      await withDatabase(async (pool, url) => {
        const applied = await migrate(pool);
        console.log(
          `database ${redactUrl(url)}: ${applied.length ? `applied ${applied.join(', ')}` : 'already up to date'}`,
        );
      });
    });
  db.command('seed')
    .description('create a demo backlog for the reference executor (src/sim)')
    .option('--sample', 'the sample backlog: 4+ runs, 20+ phases, mixed scenarios')
    .action(async (o: { sample?: boolean }) => {
      if (!o.sample) throw new UsageError('say what to seed: drain db seed --sample');
      await withDatabase(async (pool, url) => {
        await migrate(pool);
        const c = await seedSample(pool);
        const counts = await backlogCounts(pool);
        console.log(`seeded the sample backlog into ${redactUrl(url)}: ${JSON.stringify(c)}`);
        console.log(
          `backlog now: ${counts.runs} runs, ${counts.phases} phases ${JSON.stringify(counts.byState)}`,
        );
      });
    });
}
