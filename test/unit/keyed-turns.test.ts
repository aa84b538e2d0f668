// KeyedTurns (src/runtime/keyed-turns.ts): callers of one key one at a time in call order, an
// error does not block the next, other keys run alongside, nothing is kept once all settled.
// KeyedLatest (same file): background runs per key, one at a time, the newest request waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { KeyedLatest, KeyedTurns } from '../../src/runtime/keyed-turns.js';

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

/** A run that ends when `open()` is called, logging its start and end. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const fn = async () => {
    log.push(`start ${name}`);
    await opened;
    log.push(`end ${name}`);
  };
  return { fn, open };
}

test('KeyedLatest: the caller does not wait; one run per key; the newest request replaces the waiting one', async () => {
  const log: string[] = [];
  const latest = new KeyedLatest(() => assert.fail('no error expected'));
  const [a, b, c, other] = ['a', 'b', 'c', 'other'].map((n) => gate(log, n));
  latest.request('k', a.fn); // returns at once: a runs in the background
  latest.request('k', b.fn); // waits for a
  latest.request('k', c.fn); // replaces b
  latest.request('k2', other.fn); // another key: runs alongside
  await tick(5);
  assert.deepEqual(log, ['start a', 'start other']);
  a.open();
  await tick(5);
  assert.deepEqual(log, ['start a', 'start other', 'end a', 'start c']);
  const idleK = latest.idle('k').then(() => log.push('k idle'));
  c.open();
  await idleK;
  assert.deepEqual(log.slice(-2), ['end c', 'k idle']);
  assert.equal(latest.size, 1, 'k2 still running');
  other.open();
  await latest.idle();
  assert.equal(latest.size, 0, 'nothing kept');
  assert.ok(!log.includes('start b'), 'the replaced request never ran');
});

test('KeyedLatest: an error goes to onError with its key, and the next request still runs', async () => {
  const errors: string[] = [];
  const latest = new KeyedLatest((err, key) => errors.push(`${key}: ${(err as Error).message}`));
  let ran = false;
  latest.request('k', async () => {
    await tick(5);
    throw new Error('disk full');
  });
  latest.request('k', async () => {
    ran = true;
  });
  await latest.idle();
  assert.deepEqual(errors, ['k: disk full']);
  assert.equal(ran, true);
});

test("KeyedLatest: a waiting run sees its own request's async context, not the earlier run's", async () => {
  const als = new AsyncLocalStorage<string>();
  const latest = new KeyedLatest(() => assert.fail('no error expected'));
  const seen: Array<string | undefined> = [];
  const first = gate([], 'first');
  als.run('activity 1', () =>
    latest.request('k', async () => {
      seen.push(als.getStore());
      await first.fn();
    }),
  );
  als.run('activity 2', () => latest.request('k', async () => void seen.push(als.getStore())));
  first.open();
  await latest.idle();
  assert.deepEqual(seen, ['activity 1', 'activity 2']);
});

test('KeyedLatest: idle gives up after withinMs (false) while a run goes on; true once settled', async () => {
  const latest = new KeyedLatest(() => assert.fail('no error expected'));
  const stuck = gate([], 'stuck');
  latest.request('k', stuck.fn);
  assert.equal(await latest.idle(undefined, 30), false);
  assert.equal(latest.size, 1, 'the run goes on');
  stuck.open();
  assert.equal(await latest.idle('k', 1000), true);
  assert.equal(await latest.idle(), true);
});
