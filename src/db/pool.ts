import pg from 'pg';

/**
 * `timestamp without time zone` (OID 1114) read as UTC. Only Autopack's tables have such
 * columns (naive times written in UTC, as its ORM does; ours are all timestamptz), and node-pg
 * would read them in this process's local time zone. Set once for every pg client of the
 * process (the parser table is global), by importing this module.
 */
const parseTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text');
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, 'text', (v: string) =>
  /infinity$/.test(v)
    ? parseTimestamptz(v)
    : parseTimestamptz(v.endsWith(' BC') ? `${v.slice(0, -3)}+00 BC` : `${v}+00`),
);

/**
 * A pg pool for DATABASE_URL. An idle client that loses its server emits 'error': ignored (never
 * a crash); the pool replaces it. `searchPath`: the schema every connection works in (the
 * records schema of a SQLite backlog, stores.ts); a plain identifier, never user text.
 */
export function createPool(databaseUrl: string, max = 5, o: { searchPath?: string } = {}): pg.Pool {
  if (o.searchPath !== undefined && !/^[a-z_][a-z0-9_]*$/.test(o.searchPath))
    throw new Error(`not a schema name: ${JSON.stringify(o.searchPath)}`);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    ...(o.searchPath ? { options: `-c search_path=${o.searchPath}` } : {}),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 10_000,
  });
  pool.on('error', () => {
    /* an idle client lost its connection (e.g. Postgres restarted); the pool replaces it */
  });
  return pool;
}

export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;
