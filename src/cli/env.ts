import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { databaseTargets } from '../db/targets.js';
import { projectRoot, stateDir } from '../runtime/paths.js';
import { embeddedUrl, resolveDataDir, runningPostmaster } from '../runtime/postgres.js';
import { portFromEnv } from '../runtime/services.js';
import { runningDevServer } from '../runtime/temporal-server.js';

/** An error the user can fix by changing the command line; exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

interface TemporalTarget {
  address: string;
  namespace: string;
}

/** --address, else TEMPORAL_ADDRESS, else this project's running dev server, else DRAIN_TEMPORAL_PORT. */
export function temporalTarget(o: { address?: string; namespace?: string }): TemporalTarget {
  return {
    address:
      o.address ??
      process.env.TEMPORAL_ADDRESS ??
      runningDevServer(path.join(stateDir(), 'temporal.db'))?.address ??
      `127.0.0.1:${portFromEnv(process.env, 'DRAIN_TEMPORAL_PORT', 7233)}`,
    namespace: o.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
  };
}

/**
 * The PostgreSQL of our records (db/targets.ts): a PostgreSQL backlog's own URL, else
 * DRAIN_RECORDS_URL for a SQLite backlog, else the embedded Postgres of this project (if it
 * was ever started): on the port its running postmaster listens on (e.g. that of `drain dev`),
 * else DRAIN_PG_PORT. Nothing is started; to start it when it is not running, use
 * withEmbeddedServices.
 */
export function databaseUrlOrEmbedded(env = process.env): string | null {
  const given = databaseTargets(env, process.cwd()).recordsUrl;
  if (given) return given;
  const dataDir = resolveDataDir(path.join(stateDir(env), 'pg'));
  const pwFile = path.join(path.dirname(dataDir), 'pg-password');
  if (!existsSync(pwFile)) return null;
  const pw = readFileSync(pwFile, 'utf8').trim();
  return embeddedUrl(pw, runningPostmaster(dataDir)?.port || portFromEnv(env, 'DRAIN_PG_PORT', 55432));
}

/** Shell-safe quoting for one argument inside an executor template. */
export function quoteArg(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** The reference executor (src/sim) as an executor template. */
export function simExecutorTemplate(): string {
  const bin = path.join(projectRoot(), 'bin', 'drain-sim.js');
  return `${quoteArg(process.execPath)} ${quoteArg(bin)} --run-id {run_id} --phase-id {phase_id} --force`;
}

const loadCommonJs = createRequire(import.meta.url);
type TemporalWorker = typeof import('@temporalio/worker');
let runtimeInstalled = false;
/**
 * Quiet Temporal core logs; signals are handled by the commands themselves. For commands that run
 * a worker only: @temporalio/worker (and its native core bridge) is loaded here, on the first
 * call, not when this module is imported, so client commands never load it. It is a CommonJS
 * package: a require gets the very instance `import` gets (one Runtime per process).
 */
export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const { Runtime, DefaultLogger } = loadCommonJs('@temporalio/worker') as TemporalWorker;
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
}

/** Resolves on the first SIGINT/SIGTERM (a second one exits at once). */
export function onceInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (sig: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(sig);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
