// The pick helpers of activities/select.ts against stub selections:
// - withMorePicks: the further picks one selection makes for a session's free slots (batch
//   picks), over a list of candidate runs;
// - pickLeased: what selection does when the pick's run was leased between its snapshot and its
//   insert — by another session (passed over, three times at most) or, with parallel picks, by
//   another slot of this session (picked again, no skip) — table-driven over scripted answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickLeased, withMorePicks } from '../../activities/select.js';
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

// ---------------------------------------------------------------------------------------------
// pickLeased

const SESSION = 'me';

/** One answer of the stub selection: a run whose lease it got, or lost to `holder`; or nothing. */
type Answer = { run: string; lostTo?: string } | null;

async function run(script: Answer[], ownLeasesBusy: boolean) {
  let i = 0;
  const select = async (): Promise<SelectResult> => {
    const a = script[Math.min(i++, script.length - 1)];
    if (!a) return { pick: null, passedOver: [], waitingForLease: false };
    return { pick: ref(a.run), passedOver: [], waitingForLease: false, leased: !a.lostTo };
  };
  const holders = new Map(script.flatMap((a) => (a?.lostTo ? [[a.run, a.lostTo] as const] : [])));
  const params = { sessionId: SESSION, ownLeasesBusy } as SelectParams;
  const r = await pickLeased(select, params, async (runId) => holders.get(runId) ?? null);
  return { r, selections: i };
}

const CASES: Array<{
  name: string;
  script: Answer[];
  parallel: boolean;
  pick: string | null;
  skips: number;
  waiting: boolean;
  selections: number;
}> = [
  {
    name: 'leased at once',
    script: [{ run: 'a' }],
    parallel: true,
    pick: 'a',
    skips: 0,
    waiting: false,
    selections: 1,
  },
  {
    name: 'nothing to pick',
    script: [null],
    parallel: true,
    pick: null,
    skips: 0,
    waiting: false,
    selections: 1,
  },
  {
    name: 'another session took it: passed over, picked again',
    script: [{ run: 'a', lostTo: 'other' }, { run: 'b' }],
    parallel: false,
    pick: 'b',
    skips: 1,
    waiting: false,
    selections: 2,
  },
  {
    name: 'another session three times: waits',
    script: [{ run: 'a', lostTo: 'x' }, { run: 'b', lostTo: 'y' }, { run: 'c', lostTo: 'z' }, { run: 'd' }],
    parallel: true,
    pick: null,
    skips: 3,
    waiting: true,
    selections: 3,
  },
  {
    name: 'another slot of this session (parallel picks): no skip, picked again',
    script: [
      { run: 'a', lostTo: SESSION },
      { run: 'b', lostTo: SESSION },
      { run: 'c', lostTo: SESSION },
      { run: 'd' },
    ],
    parallel: true,
    pick: 'd',
    skips: 0,
    waiting: false,
    selections: 4,
  },
  {
    name: 'this session’s holder without parallel picks counts as any other',
    script: [{ run: 'a', lostTo: SESSION }, { run: 'b' }],
    parallel: false,
    pick: 'b',
    skips: 1,
    waiting: false,
    selections: 2,
  },
  {
    name: 'slots racing without end: waits after 64 misses',
    script: [{ run: 'a', lostTo: SESSION }],
    parallel: true,
    pick: null,
    skips: 0,
    waiting: true,
    selections: 65,
  },
];

for (const c of CASES) {
  test(`pickLeased: ${c.name}`, async () => {
    const { r, selections } = await run(c.script, c.parallel);
    assert.equal(r.pick?.runId ?? null, c.pick);
    assert.equal(r.passedOver.length, c.skips);
    assert.ok(r.passedOver.every((s) => /taken by another session between pick and lease/.test(s.reason)));
    assert.equal(r.waitingForLease, c.waiting);
    assert.equal(selections, c.selections);
  });
}
