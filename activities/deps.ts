import type pg from 'pg';
import type { Backlog } from '../src/db/backlog.js';
import type { FenceBounds } from '../src/domain/fence.js';
import type { DatabaseIdentity } from '../src/db/identity.js';
import type { ApiServerPool } from '../src/runtime/api-servers.js';
import type { Notifier } from '../src/runtime/notify.js';
import type { SupervisorPool } from '../src/runtime/supervisor-pool.js';
import type { KeyedLatest } from '../src/runtime/keyed-turns.js';

/** What the worker gives its activities: connections and the worker's defaults. */
export interface ActivityDeps {
  /** Our records (drain_* tables). */
  pool: pg.Pool;
  /** The bounds of fenced tries (src/domain/fence.ts). */
  fence: FenceBounds;
  /** Each try's supervisor, started ahead of the try (src/runtime/supervisor-pool.ts). */
  supervisors: SupervisorPool;
  /** Autopack's tables: per-try reads, the hand-back, and `sql()` for statements joining both. */
  backlog: Backlog;
  /** The same DATABASE_URL the executor gets (a SQLite one absolute). Never leaves the worker unredacted. */
  databaseUrl: string;
  /** The database DATABASE_URL points at; sessions pinned to another one are refused. */
  database: DatabaseIdentity;
  /** Secret values of this worker (its DATABASE_URL password …), redacted wherever they appear. */
  knownSecrets: string[];
  /** Defaults for sessions whose input does not say. */
  defaults: { workspace: string; executor: string; apiUrl: string | null };
  /** host name and pid, shown in records. */
  identity: string;
  host: string;
  heartbeatIntervalMs: number;
  leaseTtlSeconds: number;
  maxLogBytes: number;
  /** Managed API servers (`--api-command`): one per drain slot; null when not managed. */
  apiServers: ApiServerPool | null;
  /**
   * Running sessions' JSON rewrites, off the phases' path (finishPhase requests one and returns);
   * the session's final write, and the worker's shutdown, wait for them.
   */
  sessionJsonWrites: KeyedLatest;
  /** Notifications of a session's end to the worker's webhooks (DRAIN_NOTIFY_URL); absent: none. */
  notifier?: Notifier | null;
}

export const AUTOPACK_EXECUTOR =
  'python scripts/drain_one_phase.py --run-id {run_id} --phase-id {phase_id} --force';
