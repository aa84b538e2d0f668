/**
 * The two stores a drain uses: the backlog (Autopack's tables, PostgreSQL or SQLite) and our
 * records (drain_* tables, always PostgreSQL). The one place they are opened.
 *
 *   PostgreSQL backlog  records in the same database (schema of the URL's search_path), as
 *                       every earlier release kept them;
 *   SQLite backlog      records in PostgreSQL (DRAIN_RECORDS_URL, else the embedded one), in a
 *                       schema of their own per backlog file — named by the file's absolute
 *                       path and file identity (device and inode) — so two SQLite backlogs
 *                       never share leases, attempts or failure memory, and a file replaced
 *                       by another at the same path is another backlog. Nothing of ours is
 *                       ever written into the SQLite file.
 */
import { realpathSync, statSync } from 'node:fs';
import type pg from 'pg';
import { createPool } from './pool.js';
import { migrate } from './migrate.js';
import { readDatabaseIdentity, type DatabaseIdentity } from './identity.js';
import { PostgresBacklog, type Backlog } from './backlog.js';
import { SqliteBacklog, refuseWindowsPath } from './backlog-sqlite.js';
import type { BacklogLocation } from './database-url.js';
import { fnv1a32Hex } from '../domain/files.js';

export interface Stores {
  backlog: Backlog;
  /** Our drain_* tables. */
  records: pg.Pool;
  /** The records database's URL (with the password: never print it unredacted). */
  recordsUrl: string;
  /** The schema of a SQLite backlog's records in that database (null: the URL's own). */
  recordsSchema: string | null;
  /** Migrations applied by this open (empty without `migrate`). */
  applied: string[];
  /** The backlog's identity: sessions are pinned to it. Its name is a file path for SQLite. */
  database: DatabaseIdentity;
  close(): Promise<void>;
}

interface OpenStoresOptions {
  location: BacklogLocation;
  /** Where a SQLite backlog's records go (ignored for a PostgreSQL backlog). */
  recordsUrl?: string | null;
  poolSize?: number;
  /** Apply pending migrations first (workers, demo, `drain db migrate`); default true. */
  migrate?: boolean;
}

/** The records schema of a SQLite backlog file: its real path and file identity, hashed. */
export function recordsSchemaFor(file: string): { schema: string; realPath: string } {
  let realPath: string;
  let st: { dev: number; ino: number };
  try {
    realPath = realpathSync(file);
    st = statSync(realPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `the SQLite backlog ${file} does not exist (a relative sqlite:/// path is resolved against the workspace)`
        : `cannot open the SQLite backlog ${file} (${code ?? (err as Error).message})`,
    );
  }
  const key = `${realPath}\0${st.dev}\0${st.ino}`;
  return { schema: `drain_sqlite_${fnv1a32Hex(key)}${fnv1a32Hex(`${key}#2`)}`, realPath };
}

export async function openStores(o: OpenStoresOptions): Promise<Stores> {
  const size = o.poolSize ?? 5;
  const loc = o.location;
  if (loc.kind === 'postgres') {
    const records = createPool(loc.url, size);
    try {
      const applied = o.migrate !== false ? await migrate(records) : [];
      const database = await readDatabaseIdentity(records);
      const backlog = new PostgresBacklog(loc, records);
      return {
        backlog,
        records,
        recordsUrl: loc.url,
        recordsSchema: null,
        applied,
        database,
        close: () => records.end(),
      };
    } catch (err) {
      await records.end().catch(() => {});
      throw err;
    }
  }
  if (!o.recordsUrl)
    throw new Error(
      'a SQLite backlog needs a PostgreSQL for our records (DRAIN_RECORDS_URL, or the embedded one)',
    );
  refuseWindowsPath(loc);
  const { schema, realPath } = recordsSchemaFor(loc.path);
  const records = createPool(o.recordsUrl, size, { searchPath: schema });
  try {
    await records.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    const applied = o.migrate !== false ? await migrate(records, { backlogHere: false }) : [];
    const backlog = new SqliteBacklog({ ...loc, path: realPath, url: `sqlite:///${realPath}` }, records);
    const database = { id: (await readDatabaseIdentity(records)).id, name: realPath };
    return {
      backlog,
      records,
      recordsUrl: o.recordsUrl,
      recordsSchema: schema,
      applied,
      database,
      close: async () => {
        await backlog.close();
        await records.end();
      },
    };
  } catch (err) {
    await records.end().catch(() => {});
    throw err;
  }
}
