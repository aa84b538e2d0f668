import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
/** Arbitrary constant for pg_advisory_lock: two processes migrating at once take turns. */
const MIGRATION_LOCK_KEY = 727_011_002;

interface Migration {
  version: number;
  name: string;
  file: string;
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  return files.map((file) => {
    const [num, ...rest] = file.replace(/\.sql$/, '').split('_');
    return { version: Number(num), name: rest.join('_'), file: path.join(dir, file) };
  });
}

/**
 * Migrations that create Autopack's own tables (their names say `autopack`): skipped, and
 * recorded as such, where the backlog lives elsewhere (a SQLite backlog's records schema),
 * so no statement can silently read an empty copy of Autopack's tables there.
 */
const createsBacklogTables = (m: Migration) => /autopack/.test(m.name);

interface MigrateOptions {
  /** Autopack's tables belong in this database (a PostgreSQL backlog; default true). */
  backlogHere?: boolean;
}

/** Applies pending migrations in order, each in its own transaction. Idempotent. Returns the applied names. */
export async function migrate(pool: pg.Pool, o: MigrateOptions = {}): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS drain_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM drain_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of await listMigrations()) {
      if (done.has(m.version)) continue;
      const skip = o.backlogHere === false && createsBacklogTables(m);
      const sql = skip ? '-- skipped: the backlog is not in this database' : await readFile(m.file, 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO drain_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${path.basename(m.file)} failed: ${(err as Error).message}`);
      }
      applied.push(`${String(m.version).padStart(3, '0')}_${m.name}`);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
  return applied;
}
