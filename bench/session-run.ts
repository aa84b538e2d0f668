/**
 * Shared by bench/overhead.ts and bench/parallel.ts: argument parsing, a fresh backlog, and one
 * timed session on real services (harness/env.ts: an embedded Postgres and a Temporal dev
 * server in a temp directory, an in-process worker).
 */
import { performance } from 'node:perf_hooks';
import type { TestEnv } from '../harness/env.js';
import { seedPhases } from '../src/sim/seed.js';
import { listSessionAttempts, type AttemptRow } from '../src/db/attempts.js';
import type { DrainInput } from '../src/domain/types.js';

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Replaces the backlog with `runs` runs of `perRun` FAILED phases each. */
export async function freshBacklog(env: TestEnv, runs: number, perRun: number): Promise<void> {
  await env.pool.query('TRUNCATE phases, runs CASCADE');
  const seeds = Array.from({ length: runs * perRun }, (_, i) => ({
    runId: `bench-run-${String(i % runs).padStart(3, '0')}`,
    phaseId: `p${i}`,
    phaseIndex: Math.floor(i / runs),
    lastFailureReason: `patch apply failed in hunk ${i}`,
  }));
  for (let i = 0; i < seeds.length; i += 5000) await seedPhases(env.pool, seeds.slice(i, i + 5000));
}

interface TimedSession {
  seconds: number;
  rows: AttemptRow[];
  /** When the session was started (wall clock). */
  startedAt: Date;
}

/**
 * Drains every phase of the backlog once (each pick a new phase: the executor leaves it FAILED
 * and maxAttemptsPerPhase is 1) in one session; returns its wall time and attempt rows.
 */
export async function timedSession(
  env: TestEnv,
  id: string,
  phases: number,
  input: DrainInput,
): Promise<TimedSession> {
  const started = performance.now();
  const startedAt = new Date();
  const h = await env.client.workflow.start('batchDrain', {
    taskQueue: env.taskQueue,
    workflowId: id,
    args: [
      {
        batchSize: phases,
        maxAttemptsPerPhase: 1,
        skipRunsWithQueued: false,
        killGraceSeconds: 1,
        // Every session drains the same phase ids again: failure memory must not pass them over.
        ignoreMemory: true,
        ...input,
      },
    ],
  });
  await h.result();
  const seconds = (performance.now() - started) / 1000;
  const rows = await listSessionAttempts(env.pool, id);
  if (rows.length !== phases) throw new Error(`${id}: ${rows.length} attempts, expected ${phases}`);
  return { seconds, rows, startedAt };
}
