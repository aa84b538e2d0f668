/**
 * A SQLite file with Autopack's tables (autopack-sqlite.sql: Autopack's own DDL for SQLite,
 * created only when absent), for the demo's, the tests' and the benchmarks' SQLite backlogs.
 * Opened the way Autopack's processes open it (Python's sqlite3): a 5 s busy timeout, and the
 * journal mode left as it is (`delete` for a new file).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const AUTOPACK_SQLITE_DDL_FILE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'autopack-sqlite.sql',
);

/** Python's sqlite3 waits this long on a lock before "database is locked"; so do we. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

let ddl: string | null = null;

/** Creates Autopack's tables and indexes where absent, in one short immediate transaction. */
function createAutopackSqliteTables(db: Database.Database): void {
  ddl ??= readFileSync(AUTOPACK_SQLITE_DDL_FILE, 'utf8');
  const text = ddl;
  db.transaction(() => db.exec(text)).immediate();
}

/**
 * Opens a SQLite backlog file with a 5 s busy timeout (never changing its journal mode). With
 * `create`, a missing file is created and Autopack's tables are created where absent.
 */
export function openAutopackSqlite(file: string, o: { create?: boolean } = {}): Database.Database {
  const db = new Database(file, { fileMustExist: !o.create, timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    if (o.create) createAutopackSqliteTables(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
