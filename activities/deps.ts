import type pg from 'pg';

/** What the worker gives its activities: connections and the worker's defaults. */
export interface ActivityDeps {
  pool: pg.Pool;
  /** The same DATABASE_URL the executor gets. Never leaves the worker unredacted. */
  databaseUrl: string;
  /** Defaults for sessions whose input does not say. */
  defaults: { workspace: string; executor: string; apiUrl: string | null };
  /** host name and pid, shown in records. */
  identity: string;
  host: string;
  heartbeatIntervalMs: number;
  leaseTtlSeconds: number;
  maxLogBytes: number;
}

export const AUTOPACK_EXECUTOR =
  'python scripts/drain_one_phase.py --run-id {run_id} --phase-id {phase_id} --force';
