/**
 * Which databases this process uses, from its environment (the one reader of DATABASE_URL,
 * DATABASE_URL_FILE and DRAIN_RECORDS_URL):
 *   backlog   DATABASE_URL_FILE's URL, else DATABASE_URL (PostgreSQL or SQLite), else the
 *             embedded Postgres;
 *   records   a PostgreSQL backlog's own database; for a SQLite backlog DRAIN_RECORDS_URL, else
 *             the embedded Postgres (null here: the caller starts or attaches it).
 */
import { readFileSync } from 'node:fs';
import {
  DatabaseUrlError,
  databaseUrlFromEnv,
  parseDatabaseUrl,
  type BacklogLocation,
} from './database-url.js';

interface DatabaseTargets {
  /** null: no URL given, the embedded Postgres is the backlog (and holds the records). */
  backlog: BacklogLocation | null;
  /** null: the embedded Postgres holds the records. */
  recordsUrl: string | null;
}

export function databaseTargets(
  env: NodeJS.ProcessEnv,
  workspace: string,
  readFile: (f: string) => string = (f) => readFileSync(f, 'utf8'),
): DatabaseTargets {
  const raw = databaseUrlFromEnv(env, readFile);
  const backlog = raw === null ? null : parseDatabaseUrl(raw, { workspace });
  const recordsRaw = env.DRAIN_RECORDS_URL?.trim() || null;
  if (backlog?.kind === 'postgres') return { backlog, recordsUrl: backlog.url };
  if (backlog === null) return { backlog, recordsUrl: null };
  if (recordsRaw === null) return { backlog, recordsUrl: null };
  const records = parseDatabaseUrl(recordsRaw, { workspace });
  if (records.kind !== 'postgres')
    throw new DatabaseUrlError(
      'DRAIN_RECORDS_URL must be a PostgreSQL URL (our records are never kept in SQLite)',
    );
  return { backlog, recordsUrl: records.url };
}

/** The backlog once the records database is known: an unset DATABASE_URL means the records' own. */
export function backlogOrRecords(t: DatabaseTargets, recordsUrl: string): BacklogLocation {
  return t.backlog ?? { kind: 'postgres', url: recordsUrl };
}
