/**
 * One test env, two kinds of backlog: the env's PostgreSQL (Autopack's tables beside our
 * records, as migrate creates them) or a SQLite file made with Autopack's SQLite schema in a
 * workspace of its own (records in a schema of the env's PostgreSQL, as a worker keeps them).
 * Each has its own task queue, so its workers never take the other's sessions.
 */
import { mkdir } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type pg from 'pg';
import type { WorkflowHandle } from '@temporalio/client';
import { startDrain } from '../../src/client.js';
import { openStores, type Stores } from '../../src/db/stores.js';
import { parseDatabaseUrl } from '../../src/db/database-url.js';
import { openAutopackSqlite } from '../../src/db/autopack-sqlite.js';
import { seedPhases, type PhaseSeed, type SeedCounts } from '../../src/sim/seed.js';
import type { DrainWorker, DrainWorkerOptions } from '../../src/worker.js';
import type { DrainInput } from '../../src/domain/types.js';
import type { TestEnv } from '../../harness/env.js';

export type BacklogKind = 'postgres' | 'sqlite';
export const BACKLOG_KINDS: readonly BacklogKind[] = ['postgres', 'sqlite'];

export interface BacklogUnderTest {
  kind: BacklogKind;
  /** What a worker and the executor are given as DATABASE_URL (SQLite: relative to `workspace`). */
  databaseUrl: string;
  /** The SQLite file (absolute), or null. */
  file: string | null;
  workspace: string;
  taskQueue: string;
  /** Our records (drain_* tables) of this backlog. */
  records: pg.Pool;
  stores: Stores;
  seed(specs: readonly PhaseSeed[]): Promise<SeedCounts>;
  /** state and last_failure_reason of every phase, by "run:phase". */
  phases(): Promise<Map<string, { state: string; reason: string | null }>>;
  startWorker(o?: Partial<DrainWorkerOptions>): Promise<DrainWorker>;
  spawnWorker(extra?: NodeJS.ProcessEnv, args?: string[]): ChildProcess & { output?: string };
  start(input: DrainInput, sessionId: string): Promise<WorkflowHandle>;
  close(): Promise<void>;
}

/** `name`: a second SQLite backlog of the same env gets a workspace (and file) of its own. */
export async function backlogUnderTest(
  env: TestEnv,
  kind: BacklogKind,
  name = 'sqlite-workspace',
): Promise<BacklogUnderTest> {
  const workspace = kind === 'postgres' ? env.workspace : path.join(env.dir, name);
  await mkdir(workspace, { recursive: true });
  let file: string | null = null;
  let databaseUrl = env.databaseUrl;
  if (kind === 'sqlite') {
    file = path.join(workspace, 'autopack.db');
    openAutopackSqlite(file, { create: true }).close();
    databaseUrl = 'sqlite:///autopack.db'; // relative: resolved against the workspace, as Autopack does
  }
  const stores = await openStores({
    location: parseDatabaseUrl(databaseUrl, { workspace }),
    recordsUrl: env.databaseUrl,
    poolSize: 3,
  });
  const taskQueue = `${env.taskQueue}-${kind === 'postgres' ? kind : name}`;
  return {
    kind,
    databaseUrl,
    file,
    workspace,
    taskQueue,
    records: stores.records,
    stores,
    seed: (specs) => seedPhases(file ?? env.pool, specs),
    async phases() {
      const res = await stores.backlog
        .sql()
        .query<{ run_id: string; phase_id: string; state: string; last_failure_reason: string | null }>(
          'SELECT run_id, phase_id, state::text AS state, last_failure_reason FROM phases',
        );
      return new Map(
        res.rows.map((r) => [`${r.run_id}:${r.phase_id}`, { state: r.state, reason: r.last_failure_reason }]),
      );
    },
    startWorker: (o = {}) =>
      env.startWorker({ databaseUrl, recordsUrl: env.databaseUrl, workspace, taskQueue, ...o }),
    // env's own spawner (its environment, output capture and teardown), pointed at this backlog.
    spawnWorker: (extra = {}, args = []) =>
      env.spawnWorker(
        {
          DATABASE_URL: databaseUrl,
          DRAIN_RECORDS_URL: env.databaseUrl,
          DRAIN_WORKSPACE: workspace,
          ...extra,
        },
        ['--task-queue', taskQueue, ...args],
      ),
    start: (input, sessionId) => startDrain(env.client, { workspace, ...input }, { sessionId, taskQueue }),
    async close() {
      await stores.close().catch(() => {});
    },
  };
}
