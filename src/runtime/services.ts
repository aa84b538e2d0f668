import path from 'node:path';
import { DRAIN_SEARCH_ATTRIBUTE_FLAGS } from '../domain/search-attributes.js';
import { stateDir as defaultStateDir } from './paths.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './postgres.js';
import { startTemporalDevServer, type TemporalServerHandle } from './temporal-server.js';

export interface StartServicesOptions {
  env?: NodeJS.ProcessEnv;
  /** Defaults to stateDir(env): DRAIN_STATE_DIR or `<root>/.drain`. */
  stateDir?: string;
  /** Set false to skip Temporal (temporalAddress is then '' unless TEMPORAL_ADDRESS is set). */
  temporal?: boolean;
  /** Set false to skip Postgres (databaseUrl is then '' unless DATABASE_URL is set). */
  postgres?: boolean;
  log?: (line: string) => void;
}

export interface Services {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string | null;
  embedded: { postgres: boolean; temporal: boolean };
  postgres?: EmbeddedPostgresHandle;
  temporal?: TemporalServerHandle;
  /** Stops what was started here, in reverse order; idempotent. */
  stop(): Promise<void>;
}

/** Reads a TCP port from env[name] (default if unset); throws naming the variable if invalid. */
export function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new Error(`${name}=${raw} is not a valid port (an integer from 1 to 65535)`);
  }
  return n;
}

/**
 * Provides Postgres and Temporal: DATABASE_URL / TEMPORAL_ADDRESS when set, else an embedded
 * Postgres (<stateDir>/pg, DRAIN_PG_PORT) and a Temporal dev server (<stateDir>/temporal.db,
 * DRAIN_TEMPORAL_PORT, DRAIN_TEMPORAL_UI_PORT) that keep their state across restarts.
 */
export async function startServices(o: StartServicesOptions = {}): Promise<Services> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => {});
  const dir = path.resolve(o.stateDir ?? defaultStateDir(env));
  const wantPg = o.postgres !== false;
  const wantTemporal = o.temporal !== false;
  const embedPg = wantPg && !env.DATABASE_URL;
  const embedTemporal = wantTemporal && !env.TEMPORAL_ADDRESS;
  // Validate everything before starting anything.
  const pgPort = embedPg ? portFromEnv(env, 'DRAIN_PG_PORT', 55432) : 0;
  const tPort = embedTemporal ? portFromEnv(env, 'DRAIN_TEMPORAL_PORT', 7233) : 0;
  const uiPort = embedTemporal ? portFromEnv(env, 'DRAIN_TEMPORAL_UI_PORT', 8233) : 0;
  if (embedTemporal && tPort === uiPort)
    throw new Error(`DRAIN_TEMPORAL_PORT and DRAIN_TEMPORAL_UI_PORT are both ${tPort}; they must differ`);

  let postgres: EmbeddedPostgresHandle | undefined;
  let temporal: TemporalServerHandle | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const errors: unknown[] = [];
      for (const s of [temporal, postgres]) await s?.stop().catch((e: unknown) => errors.push(e));
      if (errors.length) throw errors[0];
    })());

  try {
    if (embedPg) {
      log(`starting embedded Postgres on 127.0.0.1:${pgPort} (data in ${path.join(dir, 'pg')})`);
      postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort });
    }
    if (embedTemporal) {
      log(`starting Temporal dev server on 127.0.0.1:${tPort} (state in ${path.join(dir, 'temporal.db')})`);
      temporal = await startTemporalDevServer({
        dbFile: path.join(dir, 'temporal.db'),
        logFile: path.join(dir, 'temporal.log'),
        port: tPort,
        uiPort,
        namespace: env.TEMPORAL_NAMESPACE || 'default',
        searchAttributes: DRAIN_SEARCH_ATTRIBUTE_FLAGS,
      });
      log(`Temporal dev server ready at ${temporal.address}, Web UI ${temporal.uiUrl}`);
    }
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }

  return {
    databaseUrl: postgres?.url ?? env.DATABASE_URL ?? '',
    temporalAddress: temporal?.address ?? env.TEMPORAL_ADDRESS ?? '',
    namespace: temporal?.namespace ?? (env.TEMPORAL_NAMESPACE || 'default'),
    uiUrl: temporal?.uiUrl ?? null,
    embedded: { postgres: !!postgres, temporal: !!temporal },
    postgres,
    temporal,
    stop,
  };
}
