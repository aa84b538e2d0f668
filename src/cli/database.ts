import type { Queryable } from '../db/pool.js';
import { openStores, type Stores } from '../db/stores.js';
import { backlogOrRecords, databaseTargets } from '../db/targets.js';
import { backlogLabel } from '../db/database-url.js';
import { redactUrl } from '../domain/redact.js';
import { withEmbeddedServices } from '../runtime/services.js';
import { databaseUrlOrEmbedded, UsageError } from './env.js';

/**
 * Runs `fn` with the backlog and our records (db/stores.ts): DATABASE_URL_FILE / DATABASE_URL
 * (PostgreSQL or SQLite), else this project's embedded Postgres — the running one (never
 * stopped here), or one started for the call and stopped after. A SQLite backlog's records are
 * in DRAIN_RECORDS_URL or the embedded Postgres. `migrate`: apply pending migrations first.
 */
export async function withStores<T>(
  o: { migrate?: boolean; workspace?: string; log?: (l: string) => void; startEmbedded?: boolean },
  fn: (stores: Stores) => Promise<T>,
): Promise<T> {
  const targets = databaseTargets(process.env, o.workspace ?? process.cwd());
  if (!o.startEmbedded && !targets.backlog && !databaseUrlOrEmbedded()) {
    throw new UsageError(
      'no database: DATABASE_URL is not set and the embedded Postgres of this project was never started',
    );
  }
  return withEmbeddedServices({ need: ['postgres'], log: o.log }, async (services) => {
    const stores = await openStores({
      location: backlogOrRecords(targets, services.databaseUrl),
      recordsUrl: services.databaseUrl,
      poolSize: 2,
      migrate: o.migrate ?? false,
    });
    try {
      return await fn(stores);
    } finally {
      await stores.close();
    }
  });
}

/**
 * Runs `fn` with one Queryable over our records in which Autopack's tables are visible too
 * (Backlog.sql): the way the read-only commands (verify, report, stranded, analyze, …) read.
 */
export function withBacklogDatabase<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
  return withStores({}, (stores) => fn(stores.backlog.sql()));
}

/**
 * The stores when this machine reaches them without starting anything (the banner of `drain
 * start`, its verdict): null when no database is named and the embedded one was never started.
 * `named`: the backlog was named (DATABASE_URL / DATABASE_URL_FILE), so failing to reach it is
 * the operator's error, not "the worker's database is elsewhere".
 */
export async function reachableStores(): Promise<{ stores: Stores | null; named: boolean; label: string }> {
  const targets = databaseTargets(process.env, process.cwd());
  const recordsUrl = databaseUrlOrEmbedded();
  const named = targets.backlog !== null;
  if (!recordsUrl)
    return { stores: null, named, label: targets.backlog ? backlogLabel(targets.backlog) : '' };
  const location = backlogOrRecords(targets, recordsUrl);
  const label = redactUrl(backlogLabel(location));
  const stores = await openStores({ location, recordsUrl, poolSize: 1, migrate: false });
  return { stores, named, label };
}
