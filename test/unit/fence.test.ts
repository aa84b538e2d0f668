import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fenceBounds, leaseTtlSeconds } from '../../src/domain/fence.js';

test('fenceBounds: S = F + R + statement timeout (R) + 2 s, from the environment or the defaults', () => {
  const cases: Array<
    [Record<string, string>, { renewMs: number; fenceSeconds: number; overAfterSeconds: number }]
  > = [
    [{}, { renewMs: 2000, fenceSeconds: 10, overAfterSeconds: 16 }],
    [
      { DRAIN_FENCE_RENEW_MS: '500', DRAIN_FENCE_SECONDS: '3' },
      { renewMs: 500, fenceSeconds: 3, overAfterSeconds: 6 },
    ],
    [{ DRAIN_FENCE_RENEW_MS: ' 1000 ' }, { renewMs: 1000, fenceSeconds: 10, overAfterSeconds: 14 }],
  ];
  for (const [env, want] of cases) assert.deepEqual(fenceBounds(env), want, JSON.stringify(env));
});

test('fenceBounds: F must leave room for two renewals; bad values are named', () => {
  assert.throws(
    () => fenceBounds({ DRAIN_FENCE_RENEW_MS: '50' }),
    /DRAIN_FENCE_RENEW_MS=50 must be a number >= 200/,
  );
  assert.throws(
    () => fenceBounds({ DRAIN_FENCE_SECONDS: '3' }),
    /DRAIN_FENCE_SECONDS=3 must be a number >= 4/,
  );
  assert.throws(() => fenceBounds({ DRAIN_FENCE_SECONDS: 'soon' }), /DRAIN_FENCE_SECONDS=soon/);
});

test('leaseTtlSeconds: outlives the heartbeat timeout plus S, never below the worker TTL', () => {
  const b = fenceBounds({});
  const cases: Array<[number, number, number]> = [
    [20, 60, 60],
    [60, 60, 76],
    [600, 30, 616],
    [5, 1, 21],
  ];
  for (const [hb, worker, want] of cases)
    assert.equal(leaseTtlSeconds(b, hb, worker), want, `${hb}/${worker}`);
});
