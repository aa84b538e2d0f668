/**
 * Chaos, short form (the long one is `npm run chaos`, bench/chaos.ts; the engine and the exact
 * invariants are in harness/chaos/run.ts): 16 phases on 3 `drain worker` processes on two
 * hosts (1 in this PID namespace, 2 with --max-concurrent 1 in a PID + UTS + mount namespace
 * "chaos-b"), two sessions competing for the same runs, some executors forking a setsid
 * grandchild; kill -9 of a worker ×3, a Temporal dev server restart, Postgres stopped for 8 s,
 * a worker partitioned (SIGSTOP past the heartbeat timeout, then SIGCONT) and a slow database
 * (the lease rows of the runs being drained locked past the fence bound). Prints the seed
 * (CHAOS_SEED=N replays the plan) and the counted invariants, and fails unless each holds and
 * every planned fault was injected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos, SHORT_FORM, type FaultKind } from '../../harness/chaos/run.js';

test(
  'chaos on two hosts: kill -9 ×3, Temporal restart, Postgres down 8 s, a partition, a slow database — every invariant holds',
  { timeout: 360_000 },
  async () => {
    const { invariants, stats, seed } = await runChaos(SHORT_FORM);
    const failed = invariants.filter((i) => !i.ok);
    assert.deepEqual(
      failed.map((i) => i.line),
      [],
      `seed ${seed}:\n${failed.map((i) => [i.line, ...i.evidence.slice(0, 20).map((e) => `  ${e}`)].join('\n')).join('\n')}`,
    );
    const injected = (k: FaultKind) => stats.faults.filter((f) => f.kind === k).length;
    assert.deepEqual(
      {
        kill: injected('kill'),
        temporal: injected('temporal'),
        postgres: injected('postgres'),
        partition: injected('partition'),
        slowdb: injected('slowdb'),
      },
      stats.planned,
      `seed ${seed}: every planned fault was injected while the sessions ran`,
    );
  },
);
