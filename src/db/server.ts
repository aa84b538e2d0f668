/**
 * Statements about the Postgres server rather than our tables (one per function): whether it
 * answers, and the database a fresh embedded cluster needs (src/runtime/postgres.ts).
 */
import type { Queryable } from './pool.js';

/** Runs `SELECT 1`: resolves when the server answers, throws its error when it does not. */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

/** Is there a database named `database` (run on a connection to any database of the cluster)? */
export async function databaseExists(db: Queryable, database: string): Promise<boolean> {
  const res = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  return res.rowCount !== 0;
}

/** Creates the database `database` (a quoted identifier: any name). */
export async function createDatabase(db: Queryable, database: string): Promise<void> {
  await db.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
}
