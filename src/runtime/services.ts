import path from 'node:path';
import { databaseTargets } from '../db/targets.js';
import { DRAIN_SEARCH_ATTRIBUTE_FLAGS } from '../domain/search-attributes.js';
import { stateDir as defaultStateDir } from './paths.js';
import {
  resolveDataDir,
  runningPostmaster,
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from './postgres.js';
import { liveUsers, registerUser, withStateLock, type ServiceName, type ServiceUser } from './state-lock.js';
import { runningDevServer, startTemporalDevServer, type TemporalServerHandle } from './temporal-server.js';

interface StartServicesOptions {
  env?: NodeJS.ProcessEnv;
  /** Defaults to stateDir(env): DRAIN_STATE_DIR or `<root>/.drain`. */
  stateDir?: string;
  /** Set false to skip Temporal (temporalAddress is then '' unless TEMPORAL_ADDRESS is set). */
  temporal?: boolean;
  /** Set false to skip Postgres (databaseUrl is then ''). */
  postgres?: boolean;
  log?: (line: string) => void;
  /**
   * How long stop() waits for other processes still using a server started here before it
   * leaves the server running for them instead of stopping it (default 60 s).
   */
  handoverMs?: number;
}

export interface Services {
  /** The PostgreSQL of our records: a PostgreSQL backlog's own, DRAIN_RECORDS_URL or the embedded one. */
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string | null;
  /** From the state directory (started here or attached), not DATABASE_URL / TEMPORAL_ADDRESS. */
  embedded: { postgres: boolean; temporal: boolean };
  /** Already running (another process started it): used, never stopped by this process. */
  attached: { postgres: boolean; temporal: boolean };
  postgres?: EmbeddedPostgresHandle;
  temporal?: TemporalServerHandle;
  /** Stops what was started here, in reverse order, once nobody else uses it; idempotent. */
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

interface Plan {
  dir: string;
  embedPg: boolean;
  embedTemporal: boolean;
  pgPort: number;
  tPort: number;
  uiPort: number;
  namespace: string;
}

/** What to provide, validated before anything starts. */
function planServices(o: StartServicesOptions, env: NodeJS.ProcessEnv): Plan {
  // The embedded Postgres holds our records unless a PostgreSQL URL names them (db/targets.ts).
  const embedPg = o.postgres !== false && !databaseTargets(env, process.cwd()).recordsUrl;
  const embedTemporal = o.temporal !== false && !env.TEMPORAL_ADDRESS;
  const p: Plan = {
    dir: path.resolve(o.stateDir ?? defaultStateDir(env)),
    embedPg,
    embedTemporal,
    pgPort: embedPg ? portFromEnv(env, 'DRAIN_PG_PORT', 55432) : 0,
    tPort: embedTemporal ? portFromEnv(env, 'DRAIN_TEMPORAL_PORT', 7233) : 0,
    uiPort: embedTemporal ? portFromEnv(env, 'DRAIN_TEMPORAL_UI_PORT', 8233) : 0,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
  };
  if (embedTemporal && p.tPort === p.uiPort)
    throw new Error(`DRAIN_TEMPORAL_PORT and DRAIN_TEMPORAL_UI_PORT are both ${p.tPort}; they must differ`);
  return p;
}

const lockFile = (dir: string) => path.join(dir, 'services.lock');
const usersDir = (dir: string) => path.join(dir, 'services.users');
const who = (users: ServiceUser[]) => users.map((u) => `pid ${u.pid} (${u.command})`).join(', ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function providePostgres(p: Plan, log: (l: string) => void, adopt: boolean) {
  const dataDir = path.join(p.dir, 'pg');
  if (!runningPostmaster(resolveDataDir(dataDir)))
    log(`starting embedded Postgres on 127.0.0.1:${p.pgPort} (data in ${dataDir})`);
  const h = await startEmbeddedPostgres({
    dataDir,
    port: p.pgPort,
    detached: true,
    ifRunning: adopt ? 'adopt' : 'attach',
  });
  if (h.attached)
    log(
      `using the embedded Postgres already running on 127.0.0.1:${h.port} (pid ${h.pid}${adopt ? '; its starter is gone, so it is stopped at exit' : ''})`,
    );
  return h;
}

async function provideTemporal(p: Plan, log: (l: string) => void, adopt: boolean) {
  const dbFile = path.join(p.dir, 'temporal.db');
  if (!runningDevServer(dbFile))
    log(`starting Temporal dev server on 127.0.0.1:${p.tPort} (state in ${dbFile})`);
  const h = await startTemporalDevServer({
    dbFile,
    logFile: path.join(p.dir, 'temporal.log'),
    port: p.tPort,
    uiPort: p.uiPort,
    namespace: p.namespace,
    searchAttributes: DRAIN_SEARCH_ATTRIBUTE_FLAGS,
    detached: true,
    ifRunning: adopt ? 'adopt' : 'attach',
  });
  if (h.attached)
    log(
      `using the Temporal dev server already running at ${h.address} (pid ${h.pid}${adopt ? '; its starter is gone, so it is stopped at exit' : ''}), Web UI ${h.uiUrl}`,
    );
  else log(`Temporal dev server ready at ${h.address}, Web UI ${h.uiUrl}`);
  return h;
}

interface Held {
  name: ServiceName;
  label: string;
  handle: { pid: number; owned: boolean; stop(): Promise<void>; release(): void };
}

/**
 * Under the state lock: attaches to what runs on the state directory, starts the rest, and
 * records this process as a user (owner of what it started). A server nobody uses any more
 * (its starter was killed) is adopted: this process stops it at exit.
 */
async function acquire(p: Plan, log: (l: string) => void) {
  // Said before waiting for the lock: a starter that is about to stop its servers sees that this
  // process wants them and hands them over instead of stopping them under its feet.
  const intent = await registerUser(usersDir(p.dir), {
    postgres: p.embedPg ? 'user' : undefined,
    temporal: p.embedTemporal ? 'user' : undefined,
  });
  try {
    return await acquireLocked(p, log, intent.file);
  } finally {
    await intent.remove();
  }
}

async function acquireLocked(p: Plan, log: (l: string) => void, intentFile: string) {
  return withStateLock(
    lockFile(p.dir),
    async () => {
      const users = (await liveUsers(usersDir(p.dir))).filter((u) => u.file !== intentFile);
      const unused = (s: ServiceName) => !users.some((u) => u.services[s]);
      let postgres: EmbeddedPostgresHandle | undefined;
      let temporal: TemporalServerHandle | undefined;
      try {
        if (p.embedPg) postgres = await providePostgres(p, log, unused('postgres'));
        if (p.embedTemporal) temporal = await provideTemporal(p, log, unused('temporal'));
        const role = (h?: { owned: boolean }) => (h ? (h.owned ? 'owner' : 'user') : undefined);
        const me = await registerUser(usersDir(p.dir), {
          postgres: role(postgres),
          temporal: role(temporal),
        });
        return { postgres, temporal, me };
      } catch (e) {
        await temporal?.stop().catch(() => {});
        await postgres?.stop().catch(() => {});
        throw e;
      }
    },
    {
      onWait: (h) =>
        log(`waiting for pid ${h.pid} (${h.command}): it is starting or stopping the services of ${p.dir}`),
    },
  );
}

/**
 * Stops the servers this process owns once no other live process uses them; after
 * `handoverMs` it leaves a still-used server running for its users. Then unregisters.
 */
async function release(
  p: Plan,
  held: Held[],
  me: { file: string; remove(): Promise<void> },
  log: (l: string) => void,
  handoverMs: number,
): Promise<void> {
  const errors: unknown[] = [];
  const deadline = Date.now() + handoverMs;
  let pending = held.filter((h) => h.handle.owned);
  let told = false;
  if (!pending.length) return me.remove();
  while (pending.length) {
    const waitingFor: (ServiceUser & { file: string })[] = [];
    pending = await withStateLock(lockFile(p.dir), async () => {
      const others = (await liveUsers(usersDir(p.dir))).filter((u) => u.file !== me.file);
      const left: Held[] = [];
      for (const h of pending) {
        const users = others.filter((u) => u.services[h.name]);
        if (!users.length) await h.handle.stop().catch((e: unknown) => errors.push(e));
        else if (Date.now() >= deadline) {
          h.handle.release();
          log(`leaving ${h.label} (pid ${h.handle.pid}) running for ${who(users)}`);
        } else {
          left.push(h);
          for (const u of users) if (!waitingFor.some((w) => w.file === u.file)) waitingFor.push(u);
        }
      }
      if (!left.length) await me.remove();
      return left;
    });
    if (pending.length && !told)
      log(
        `waiting up to ${Math.round(handoverMs / 1000)} s for ${who(waitingFor)} to finish with ${pending.map((h) => h.label).join(' and ')}, started here, before stopping it`,
      );
    told = true;
    if (pending.length) await sleep(250);
  }
  if (errors.length) throw errors[0];
}

/**
 * Provides Postgres and Temporal: DATABASE_URL / TEMPORAL_ADDRESS when set, else the embedded
 * Postgres (<stateDir>/pg, DRAIN_PG_PORT) and Temporal dev server (<stateDir>/temporal.db,
 * DRAIN_TEMPORAL_PORT, DRAIN_TEMPORAL_UI_PORT) of the state directory, which keep their state
 * across restarts. Servers another process (e.g. `drain dev`) runs there are used as they are
 * and never stopped here; one state directory never gets two servers of a kind, however many
 * processes start at once (they take turns through `<stateDir>/services.lock`).
 */
export async function startServices(o: StartServicesOptions = {}): Promise<Services> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => {});
  const p = planServices(o, env);
  const base = {
    databaseUrl: databaseTargets(env, process.cwd()).recordsUrl ?? '',
    temporalAddress: env.TEMPORAL_ADDRESS ?? '',
    namespace: p.namespace,
    uiUrl: null,
    embedded: { postgres: false, temporal: false },
    attached: { postgres: false, temporal: false },
    stop: async () => {},
  };
  if (!p.embedPg && !p.embedTemporal) return base;

  const { postgres, temporal, me } = await acquire(p, log);
  const held: Held[] = [];
  if (temporal) held.push({ name: 'temporal', label: 'the Temporal dev server', handle: temporal });
  if (postgres) held.push({ name: 'postgres', label: 'the embedded Postgres', handle: postgres });
  let stopping: Promise<void> | undefined;
  return {
    ...base,
    databaseUrl: postgres?.url ?? base.databaseUrl,
    temporalAddress: temporal?.address ?? base.temporalAddress,
    namespace: temporal?.namespace ?? p.namespace,
    uiUrl: temporal?.uiUrl ?? null,
    embedded: { postgres: !!postgres, temporal: !!temporal },
    attached: { postgres: !!postgres?.attached, temporal: !!temporal?.attached },
    postgres,
    temporal,
    stop: () => (stopping ??= release(p, held, me, log, o.handoverMs ?? 60_000)),
  };
}

interface EmbeddedServicesOptions extends Omit<StartServicesOptions, 'postgres' | 'temporal'> {
  /** The services `fn` needs; the others are neither started nor attached. */
  need: readonly ServiceName[];
}

/**
 * Runs `fn` with the services it needs: DATABASE_URL / TEMPORAL_ADDRESS when set, else the
 * state directory's embedded servers, attached when running (`drain dev`, another command)
 * and started otherwise. Afterwards it stops only what it started (see startServices).
 */
export async function withEmbeddedServices<T>(
  o: EmbeddedServicesOptions,
  fn: (services: Services) => Promise<T>,
): Promise<T> {
  const services = await startServices({
    ...o,
    postgres: o.need.includes('postgres'),
    temporal: o.need.includes('temporal'),
  });
  try {
    return await fn(services);
  } finally {
    await services.stop();
  }
}
