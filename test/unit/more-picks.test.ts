// withMorePicks (activities/select.ts): the further picks one selection makes for a session's
// free slots (batch picks), against a stub selection over a list of candidate runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withMorePicks } from '../../activities/select.js';
import type { SelectResult } from '../../src/db/select-shared.js';
import type { SelectParams } from '../../src/domain/selection.js';
import type { PhaseRef } from '../../src/domain/types.js';

const ref = (runId: string): PhaseRef => ({
  runId,
  phaseId: `${runId}-p0`,
  phaseIndex: 0,
  dbId: 1,
  state: 'FAILED',
  lastFailureReason: null,
  category: 'unknown',
});

/** A selection over `runs` in order: the first run not busy; `taken` runs fail their lease. */
function stub(runs: string[], taken: string[] = []) {
  const calls: string[][] = [];
  const select = async (p: SelectParams): Promise<SelectResult> => {
    calls.push([...(p.busyRuns ?? [])]);
    const run = runs.find((r) => !(p.busyRuns ?? []).includes(r));
    const passedOver = [{ runId: 'gone', phaseId: 'x', reason: 'stopped fingerprint' }];
    if (!run) return { pick: null, passedOver, waitingForLease: false };
    return { pick: ref(run), passedOver, waitingForLease: false, leased: !taken.includes(run) };
  };
  return { select, calls };
}

const params = (extraPicks?: number, busyRuns: string[] = []) =>
  ({ sessionId: 's', busyRuns, ...(extraPicks === undefined ? {} : { extraPicks }) }) as SelectParams;

const cases: Array<
  [string, { runs: string[]; taken?: string[]; extra?: number; busy?: string[] }, string[]]
> = [
  ['none asked for: the first pick alone', { runs: ['a', 'b'], extra: undefined }, []],
  ['two asked, three runs left: two more', { runs: ['a', 'b', 'c', 'd'], extra: 2 }, ['b', 'c']],
  ['more asked than runs: as many as there are', { runs: ['a', 'b'], extra: 5 }, ['b']],
  [
    'a run another session took between pick and lease: stops there',
    { runs: ['a', 'b', 'c'], taken: ['b'], extra: 3 },
    [],
  ],
  [
    'busy runs of other slots are never picked',
    { runs: ['x', 'a', 'b', 'c'], busy: ['x'], extra: 2 },
    ['b', 'c'],
  ],
  ['never more than eight', { runs: 'abcdefghijklm'.split(''), extra: 20 }, 'bcdefghi'.split('')],
];

for (const [name, c, want] of cases) {
  test(`withMorePicks: ${name}`, async () => {
    const s = stub(c.runs, c.taken);
    const p = params(c.extra, c.busy);
    const first = await s.select(p);
    const r = await withMorePicks(s.select, p, first);
    assert.equal(r.pick?.runId, first.pick?.runId);
    assert.deepEqual(
      (r.more ?? []).map((m) => m.runId),
      want,
    );
    // Each further selection excluded the runs picked before it as busy.
    const later = s.calls.slice(1);
    later.forEach((busy, i) =>
      assert.ok(busy.includes(first.pick!.runId) && busy.length === (c.busy?.length ?? 0) + 1 + i),
    );
    // The same passed-over phase is reported once.
    assert.equal(r.passedOver.length, 1);
  });
}

test('withMorePicks: a first pick that is not leased gets no more', async () => {
  const s = stub(['a', 'b'], ['a']);
  const p = params(3);
  const r = await withMorePicks(s.select, p, await s.select(p));
  assert.equal(r.more, undefined);
  assert.equal(s.calls.length, 1);
});
