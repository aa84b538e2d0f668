// KeyedTurns (src/runtime/keyed-turns.ts): callers of one key one at a time in call order, an
// error does not block the next, other keys run alongside, nothing is kept once all settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedTurns } from '../../src/runtime/keyed-turns.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('one key: one at a time, in call order; an error passes to its caller only', async () => {
  const turns = new KeyedTurns();
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const job = (name: string, ms: number, fail = false) =>
    turns.run('k', async () => {
      most = Math.max(most, ++running);
      log.push(`start ${name}`);
      await tick(ms);
      running -= 1;
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    });
  const results = await Promise.allSettled([job('a', 30), job('b', 5, true), job('c', 1)]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.equal(most, 1);
  await tick(0);
  assert.equal(turns.size, 0, 'no key kept');
});

test('different keys do not wait for each other', async () => {
  const turns = new KeyedTurns();
  let running = 0;
  let most = 0;
  const job = (key: string) =>
    turns.run(key, async () => {
      most = Math.max(most, ++running);
      await tick(20);
      running -= 1;
    });
  await Promise.all([job('x'), job('y'), job('z')]);
  assert.equal(most, 3);
});
