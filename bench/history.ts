/**
 * History cost of one long session: drains N instant phases (an executor that exits at once and
 * leaves the phase FAILED, so every pick is a new phase) in ONE session on real services (an
 * embedded Postgres and a Temporal dev server in a temp directory, an in-process worker), then
 * reads every run of the chain's history and prints, per size:
 *
 *   N phases: S s/phase, E events/phase, largest payload B bytes (R runs, T s)
 *
 *   npx tsx bench/history.ts [--sizes 1000,5000,20000] [--can-after 3000]
 *
 * B must stay flat as N grows (no payload grows with the session); E is the orchestration cost;
 * S, the wall time per phase, must not grow with N either (issue 19: at 5,000 within 1.2× of 500).
 * Each size starts from the same state (backlog and records emptied).
 * Prints numbers only. Services and the temp directory are removed on every exit path.
 */
import { performance } from 'node:perf_hooks';
import { startTestEnv } from '../harness/env.js';
import { historyCost } from '../harness/history-payloads.js';
import { seedPhases } from '../src/sim/seed.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const sizes = arg('--sizes', '1000,5000,20000')
  .split(',')
  .map((s) => Number(s.trim()));
const canAfter = Number(arg('--can-after', '3000'));
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(canAfter)) {
  console.error('usage: npx tsx bench/history.ts [--sizes 1000,5000,20000] [--can-after 3000]');
  process.exit(2);
}

const env = await startTestEnv();
const stop = () => void env.teardown().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  await env.startWorker({ maxConcurrentDrains: 4 });
  for (const n of sizes) {
    // Each size from the same state: no backlog, attempts, memory or sessions of the size before.
    await env.pool.query(
      'TRUNCATE phases, runs, drain_attempts, drain_memory_stops, drain_memory_clears, drain_sessions, drain_leases CASCADE',
    );
    const seeds = Array.from({ length: n }, (_, i) => ({
      runId: `hist-run-${i % 50}`,
      phaseId: `p${i}`,
      lastFailureReason: `patch apply failed in hunk ${i}`,
    }));
    for (let i = 0; i < seeds.length; i += 5000) await seedPhases(env.pool, seeds.slice(i, i + 5000));
    const id = `history-${n}`;
    const started = performance.now();
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [
        {
          batchSize: n,
          executor: 'true',
          maxAttemptsPerPhase: 1,
          skipRunsWithQueued: false,
          continueAsNewAfterEvents: canAfter,
          killGraceSeconds: 1,
        },
      ],
    });
    await h.result();
    const seconds = (performance.now() - started) / 1000;
    const c = await historyCost(env.client, id);
    console.log(
      `${n} phases: ${(seconds / n).toFixed(3)} s/phase, ${(c.events / n).toFixed(1)} events/phase, ` +
        `largest payload ${c.largestPayload} bytes (${c.runs} runs, ${seconds.toFixed(0)} s)`,
    );
  }
} finally {
  await env.teardown();
}
