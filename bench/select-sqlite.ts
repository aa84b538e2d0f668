/**
 * The SQLite side of bench/select.ts (--sqlite): per size, a fresh SQLite file with Autopack's
 * SQLite schema, seeded with seedSynthetic, opened through openStores with our records in the
 * bench Postgres (a schema of their own per file, as a worker keeps them); and what a pick
 * costs before its statement runs: the snapshot of the file's FAILED/QUEUED phases (and of
 * every table the statement names) read from the file and shipped to PostgreSQL as arrays.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { openAutopackSqlite } from '../src/db/autopack-sqlite.js';
import { SNAPSHOT_COLUMNS, scopeWhere, type BacklogTable } from '../src/db/backlog-snapshot.js';
import { parseDatabaseUrl } from '../src/db/database-url.js';
import { openStores, recordsSchemaFor, type Stores } from '../src/db/stores.js';
import { seedSynthetic, type SyntheticCounts } from '../src/sim/seed.js';
import { medianMs } from './select-setup.js';

/** The backlog rows a pick reads, as activities/select.ts scopes them. */
export const SELECTION_SCOPE = { phaseStates: ['FAILED', 'QUEUED'] } as const;

interface SqliteBacklogForSize {
  file: string;
  stores: Stores;
  /** The records schema of the file (drain_sqlite_…). */
  schema: string;
  seeded: SyntheticCounts;
  seedMs: number;
  fileMb: string;
}

/** A fresh SQLite file in `tmp` with Autopack's schema, seeded, opened as a worker opens it. */
export async function openSqliteForSize(
  tmp: string,
  recordsUrl: string,
  size: number,
  runs: number,
): Promise<SqliteBacklogForSize> {
  const file = path.join(tmp, `backlog-${size}.db`);
  openAutopackSqlite(file, { create: true }).close();
  const t0 = performance.now();
  const seeded = await seedSynthetic(file, { phases: size, runs, failedFraction: 0.1 });
  const seedMs = performance.now() - t0;
  const fileMb = (statSync(file).size / 1048576).toFixed(1);
  const location = parseDatabaseUrl(`sqlite:///${file}`, { workspace: tmp });
  const stores = await openStores({ location, recordsUrl, poolSize: 2 });
  return { file, stores, schema: recordsSchemaFor(file).schema, seeded, seedMs, fileMb };
}

/** Rows of `table` a selection pick's snapshot holds, counted through the backlog's sql(). */
async function snapshotRows(stores: Stores, table: BacklogTable): Promise<number> {
  const db = stores.backlog.sql(SELECTION_SCOPE);
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
}

/** The SQLite read of one table's snapshot alone (the columns and rows the backlog reads). */
function sqliteRead(db: Database.Database, table: BacklogTable): () => unknown[] {
  const have = new Set(
    (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map((r) => r.name),
  );
  const list = SNAPSHOT_COLUMNS[table].map(([c]) => (have.has(c) ? `"${c}"` : 'NULL')).join(', ');
  const { where, values } = scopeWhere(table, SELECTION_SCOPE);
  const stmt = db.prepare(`SELECT ${list} FROM "${table}" ${where}`).raw();
  return () => stmt.all(...values);
}

/**
 * One line per size: the rows each group of scenarios snapshots per pick (`tables` maps a
 * scenario name to the tables its statement names), and the snapshot's cost alone: the
 * SQLite read of the phases, and read + ship + unnest through sql() (a count over the CTE).
 */
export async function snapshotLine(
  b: SqliteBacklogForSize,
  tables: ReadonlyMap<string, readonly BacklogTable[]>,
  picks: number,
): Promise<string> {
  const rows = new Map<BacklogTable, number>();
  for (const t of new Set([...tables.values()].flat())) rows.set(t, await snapshotRows(b.stores, t));
  const groups = new Map<string, string[]>();
  for (const [name, ts] of tables) {
    const key = [...ts].sort().join('+');
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  const read = [...groups].map(([key, names]) => {
    const ts = key.split('+') as BacklogTable[];
    const total = ts.reduce((s, t) => s + (rows.get(t) ?? 0), 0);
    const parts = ts.map((t) => `${t} ${rows.get(t)}`).join(' + ');
    const who = groups.size === 1 ? 'every scenario' : names.join(', ');
    return `${who}: ${total} rows (${parts})`;
  });
  const db = new Database(b.file, { readonly: true, fileMustExist: true });
  let readMs: number;
  try {
    readMs = await medianMs(sqliteRead(db, 'phases'), picks);
  } finally {
    db.close();
  }
  const viaSql = (): Promise<unknown> =>
    b.stores.backlog.sql(SELECTION_SCOPE).query('SELECT count(*) FROM phases');
  const shipMs = await medianMs(viaSql, picks);
  return (
    `snapshot per pick (FAILED/QUEUED phases; other tables whole): ${read.join('; ')}` +
    `. Phases snapshot alone, median: SQLite read ${readMs.toFixed(2)} ms, ` +
    `read + ship + unnest (SELECT count(*) FROM phases through sql()) ${shipMs.toFixed(2)} ms`
  );
}
