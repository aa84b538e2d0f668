import type pg from 'pg';
import { createPool } from '../db/pool.js';
import { withEmbeddedServices } from '../runtime/services.js';
import { databaseUrlOrEmbedded, UsageError } from './env.js';

/**
 * Runs `fn` with a pool on the backlog database: DATABASE_URL, else this project's embedded
 * Postgres — the running one (never stopped here), or one started for the call and stopped after.
 * The one way the read-only commands (verify, report, stranded) reach the database.
 */
export async function withBacklogDatabase<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  if (!databaseUrlOrEmbedded()) {
    throw new UsageError(
      'no database: DATABASE_URL is not set and the embedded Postgres of this project was never started',
    );
  }
  return withEmbeddedServices({ need: ['postgres'] }, async (services) => {
    const pool = createPool(services.databaseUrl, 2);
    try {
      return await fn(pool);
    } finally {
      await pool.end();
    }
  });
}
