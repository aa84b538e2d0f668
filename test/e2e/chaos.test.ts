/**
 * Chaos, short form (the long one is `npm run chaos`, bench/chaos.ts; the engine and the exact
 * invariants are in test/helpers/chaos.ts): 12 phases on 3 `drain worker` processes, two
 * sessions competing for the same runs, some executors forking a setsid grandchild; kill -9 of
 * a worker ×3, a Temporal dev server restart, Postgres stopped for 8 s. Prints the seed
 * (CHAOS_SEED=N replays the plan) and the counted invariants, and fails unless each holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos, SHORT_FORM } from '../helpers/chaos.js';

test(
  'chaos: kill -9 ×3, Temporal restart, Postgres down 8 s — every invariant holds',
  { timeout: 360_000 },
  async () => {
    const { invariants, stats, seed } = await runChaos(SHORT_FORM);
    const failed = invariants.filter((i) => !i.ok);
    assert.deepEqual(
      failed.map((i) => i.line),
      [],
      `seed ${seed}:\n${failed.map((i) => [i.line, ...i.evidence.slice(0, 20).map((e) => `  ${e}`)].join('\n')).join('\n')}`,
    );
    const injected = (k: 'kill' | 'temporal' | 'postgres') => stats.faults.filter((f) => f.kind === k).length;
    assert.deepEqual(
      { kill: injected('kill'), temporal: injected('temporal'), postgres: injected('postgres') },
      stats.planned,
      `seed ${seed}: every planned fault was injected while the sessions ran`,
    );
  },
);
