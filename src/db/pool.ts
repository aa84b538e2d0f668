import pg from 'pg';

/** A pg pool for DATABASE_URL. An idle client that loses its server emits 'error': ignored (never a crash); the pool replaces it. */
export function createPool(databaseUrl: string, max = 5): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 10_000,
  });
  pool.on('error', () => {
    /* an idle client lost its connection (e.g. Postgres restarted); the pool replaces it */
  });
  return pool;
}

export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;
