import type { Queryable } from './pool.js';

/** Which database this is: our own random id (made by migration 004) and its name. Never a password. */
export interface DatabaseIdentity {
  id: string;
  name: string;
}

export async function readDatabaseIdentity(db: Queryable): Promise<DatabaseIdentity> {
  const res = await db.query<{ id: string; name: string }>(
    'SELECT database_id::text AS id, current_database() AS name FROM drain_database_identity',
  );
  if (!res.rows[0]) throw new Error('drain_database_identity is empty: run `drain db migrate`');
  return res.rows[0];
}
