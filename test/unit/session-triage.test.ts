/**
 * The session state fold, part 2: triage, zero-yield streaks, recent digests, purity,
 * prototype-named ids, dry-run planning (recordPlanned) and skip records (noteSkips).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  MAX_RECENT_KEPT,
  MAX_SKIPPED_KEPT,
  noteSkips,
  own,
  pairKey,
  parsePairKey,
  recordAttempt,
  recordPlanned,
  type SessionState,
} from '../../src/domain/session-state.js';
import type { PhaseRef, SkipRecord, ZeroYieldReason } from '../../src/domain/types.js';

import {
  Step,
  cfg,
  deepFreeze,
  fresh,
  outcome,
  play,
  toOutcome,
  toVerdict,
} from '../helpers/session-fixtures.js';
// ---------------------------------------------------------------------------------------------
// recordAttempt: sample-first triage

interface TriageCase {
  name: string;
  steps: Step[];
  sampled: string[];
  promising: string[];
  deprioritized: string[];
}

const triage: TriageCase[] = [
  {
    name: 'success → promising',
    steps: [{ run: 'A', ok: true }],
    sampled: ['A'],
    promising: ['A'],
    deprioritized: [],
  },
  {
    name: 'success without telemetry → still promising',
    steps: [{ run: 'A', ok: true, events: 0 }],
    sampled: ['A'],
    promising: ['A'],
    deprioritized: [],
  },
  {
    name: 'failure with telemetry → promising',
    steps: [{ run: 'A', events: 4 }],
    sampled: ['A'],
    promising: ['A'],
    deprioritized: [],
  },
  {
    name: 'first timeout → promising',
    steps: [{ run: 'A', timeout: true }],
    sampled: ['A'],
    promising: ['A'],
    deprioritized: [],
  },
  {
    name: 'first-seen failure without telemetry → sampled only',
    steps: [{ run: 'A' }],
    sampled: ['A'],
    promising: [],
    deprioritized: [],
  },
  {
    name: 'repeated fingerprint without telemetry → deprioritized',
    steps: [
      { run: 'A', phase: 'a' },
      { run: 'A', phase: 'b' },
    ],
    sampled: ['A'],
    promising: [],
    deprioritized: ['A'],
  },
  {
    name: 'the repeat may come from another run: the repeating run is deprioritized',
    steps: [{ run: 'A' }, { run: 'B' }],
    sampled: ['A', 'B'],
    promising: [],
    deprioritized: ['B'],
  },
  {
    name: 'repeated fingerprint WITH telemetry → not deprioritized, promising',
    steps: [
      { run: 'A', phase: 'a', events: 2 },
      { run: 'A', phase: 'b', events: 1 },
    ],
    sampled: ['A'],
    promising: ['A'],
    deprioritized: [],
  },
  {
    name: 'a promising run that repeats a fingerprint loses promising',
    steps: [{ run: 'A', phase: 'a', ok: true }, { run: 'B' }, { run: 'A', phase: 'b' }],
    sampled: ['A', 'B'],
    promising: [],
    deprioritized: ['A'],
  },
  {
    name: 'deprioritized for the rest of the session: a later success is not promising',
    steps: [
      { run: 'A', phase: 'a' },
      { run: 'A', phase: 'b' },
      { run: 'A', phase: 'c', ok: true, events: 9 },
    ],
    sampled: ['A'],
    promising: [],
    deprioritized: ['A'],
  },
  {
    name: 'deprioritized: a later timeout is not promising either',
    steps: [
      { run: 'A', phase: 'a' },
      { run: 'A', phase: 'b' },
      { run: 'A', phase: 'c', timeout: true, fp: 'TIMEOUT|timeout|unique' },
    ],
    sampled: ['A'],
    promising: [],
    deprioritized: ['A'],
  },
  {
    name: 'a second timeout with the same fingerprint and no telemetry is a repeat failure',
    steps: [
      { run: 'A', timeout: true },
      { run: 'B', timeout: true },
    ],
    sampled: ['A', 'B'],
    promising: ['A'],
    deprioritized: ['B'],
  },
  {
    name: 'a failure with a null fingerprint is never a repeat',
    steps: [
      { run: 'A', phase: 'a', fp: null },
      { run: 'A', phase: 'b', fp: null },
    ],
    sampled: ['A'],
    promising: [],
    deprioritized: [],
  },
  {
    name: 'sampled lists each run once, in first-seen order',
    steps: [
      { run: 'B', ok: true },
      { run: 'A', ok: true },
      { run: 'B', phase: 'p2', ok: true },
    ],
    sampled: ['B', 'A'],
    promising: ['B', 'A'],
    deprioritized: [],
  },
];

for (const c of triage) {
  test(`recordAttempt triage: ${c.name}`, () => {
    const s = play(c.steps);
    assert.deepEqual(s.sampledRuns, c.sampled, 'sampled');
    assert.deepEqual(s.promisingRuns, c.promising, 'promising');
    assert.deepEqual(s.deprioritizedRuns, c.deprioritized, 'deprioritized');
  });
}

// ---------------------------------------------------------------------------------------------
// recordAttempt: zero-yield streak and breakdown

interface ZeroCase {
  name: string;
  steps: Step[];
  streak: number;
  breakdown: Partial<Record<ZeroYieldReason, number>>;
}

const zero: ZeroCase[] = [
  { name: 'telemetry → no streak', steps: [{ run: 'A', ok: true, events: 3 }], streak: 0, breakdown: {} },
  {
    name: 'three zero-yield attempts in a row',
    steps: [
      { run: 'A', phase: 'a', fp: 'f1' },
      { run: 'A', phase: 'b', timeout: true, fp: 'f2' },
      { run: 'A', phase: 'c', ok: true },
    ],
    streak: 3,
    breakdown: { failed_before_llm: 1, timeout: 1, success_no_llm_calls: 1 },
  },
  {
    name: 'telemetry resets the streak, the breakdown stays',
    steps: [
      { run: 'A', phase: 'a', fp: 'f1' },
      { run: 'A', phase: 'b', fp: 'f2' },
      { run: 'A', phase: 'c', ok: true, events: 1 },
      { run: 'A', phase: 'd', fp: 'f3', zy: 'execution_error' },
    ],
    streak: 1,
    breakdown: { failed_before_llm: 2, execution_error: 1 },
  },
  {
    name: 'a zero-yield attempt without a reason extends the streak but is not counted by reason',
    steps: [
      { run: 'A', fp: 'f1', zy: null },
      { run: 'A', phase: 'b', fp: 'f2', zy: 'llm_boundary_hit' },
    ],
    streak: 2,
    breakdown: { llm_boundary_hit: 1 },
  },
  {
    name: 'reasons accumulate',
    steps: [1, 2, 3, 4].map((i) => ({ run: 'A', phase: `p${i}`, fp: `f${i}`, zy: 'unknown' as const })),
    streak: 4,
    breakdown: { unknown: 4 },
  },
];

for (const c of zero) {
  test(`recordAttempt zero yield: ${c.name}`, () => {
    const s = play(c.steps);
    assert.equal(s.consecutiveZeroYield, c.streak);
    assert.deepEqual(s.zeroYield, c.breakdown);
  });
}

// ---------------------------------------------------------------------------------------------
// recordAttempt: recent results are bounded

const recentCases: Array<[n: number, kept: number, firstPhase: string]> = [
  [1, 1, 'p1'],
  [MAX_RECENT_KEPT, MAX_RECENT_KEPT, 'p1'],
  [MAX_RECENT_KEPT + 1, MAX_RECENT_KEPT, 'p2'],
  [25, 20, 'p6'],
];

for (const [n, kept, firstPhase] of recentCases) {
  test(`recordAttempt recent: ${n} attempts keep the last ${kept}`, () => {
    assert.equal(MAX_RECENT_KEPT, 20);
    const steps: Step[] = Array.from({ length: n }, (_, i) => ({ run: 'A', phase: `p${i + 1}`, ok: true }));
    const s = play(steps);
    assert.equal(s.recent.length, kept);
    assert.equal(s.recent[0].phaseId, firstPhase);
    assert.equal(s.recent[kept - 1].phaseId, `p${n}`);
    assert.equal(s.processed, n, 'totals are not bounded');
  });
}

test('recordAttempt recent digest carries the result facts', () => {
  const o = outcome('A', 'x', {
    attempt: 2,
    errorMessage: 'boom',
    durationSeconds: 12.5,
    telemetryEvents: 0,
  });
  const s = recordAttempt(
    fresh(),
    o,
    { fingerprint: 'F', category: 'other', yieldPerMinute: null, zeroYieldReason: null },
    cfg(),
  );
  assert.deepEqual(s.recent, [
    {
      runId: 'A',
      phaseId: 'x',
      attempt: 2,
      success: false,
      finalState: 'FAILED',
      timedOut: false,
      cancelled: false,
      events: 0,
      durationSeconds: 12.5,
      errorMessage: 'boom',
    },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Purity: the input state is never modified.

const purity: Array<[name: string, steps: Step[]]> = [
  ['success', [{ run: 'A', ok: true, events: 2 }]],
  ['repeat failure', [{ run: 'A' }, { run: 'A', phase: 'p2' }, { run: 'A', phase: 'p3' }]],
  [
    'timeouts',
    [
      { run: 'A', timeout: true },
      { run: 'A', phase: 'p2', timeout: true },
    ],
  ],
];

for (const [name, steps] of purity) {
  test(`recordAttempt is pure: ${name}`, () => {
    let s = deepFreeze(fresh());
    for (const step of steps) {
      const before = JSON.stringify(s);
      const next = recordAttempt(s, toOutcome(step), toVerdict(step), cfg());
      assert.equal(JSON.stringify(s), before);
      assert.notEqual(next, s);
      s = deepFreeze(next);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Run ids that are Object.prototype names behave like any other id.

const protoIds = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

for (const id of protoIds) {
  test(`run id ${JSON.stringify(id)} is an ordinary run id`, () => {
    const config = cfg();
    const steps: Step[] = [
      { run: id, phase: 'a', timeout: true },
      { run: id, phase: 'b', timeout: true, events: 2 },
      { run: id, phase: 'c', ok: true, events: 1 },
    ];
    const s = play(steps, config);
    assert.equal(Object.getPrototypeOf(s.runs), Object.prototype, 'runs keeps its prototype');
    assert.ok(Object.prototype.hasOwnProperty.call(s.runs, id), 'own property');
    assert.deepEqual(own(s.runs, id), { attempted: 3, succeeded: 1, timeouts: 2, events: 3 });
    assert.equal(own(s.stoppedRuns, id), `run ${id} has 2 timeouts (limit: 2)`);
    assert.ok(Object.prototype.hasOwnProperty.call(s.stoppedRuns, id));
    assert.deepEqual(s.sampledRuns, [id]);
    assert.deepEqual(s.done, [pairKey(id, 'c')]);

    // survives JSON (continue-as-new) and keeps counting from where it was
    const revived = JSON.parse(JSON.stringify(s)) as SessionState;
    assert.deepEqual(own(revived.runs, id), own(s.runs, id));
    const more = play([{ run: id, phase: 'd', ok: true }], config, revived);
    assert.deepEqual(own(more.runs, id), { attempted: 4, succeeded: 2, timeouts: 2, events: 3 });

    // and a run that was never seen is not found on the prototype
    const other = play([{ run: 'plain', ok: true }], config);
    assert.equal(own(other.runs, id), undefined);
    assert.equal(own(other.stoppedRuns, id), undefined);
  });
}

test('a fresh run named like a prototype member starts from zero', () => {
  for (const id of protoIds) {
    const s = play([{ run: id, ok: true }]);
    assert.deepEqual(own(s.runs, id), { attempted: 1, succeeded: 1, timeouts: 0, events: 0 }, id);
  }
});

// ---------------------------------------------------------------------------------------------
// recordPlanned (dry run)

const ref = (runId: string, phaseId: string, phaseIndex = 0): PhaseRef => ({
  runId,
  phaseId,
  phaseIndex,
  dbId: 1,
  state: 'FAILED',
  lastFailureReason: null,
  category: 'unknown',
});

interface PlanCase {
  name: string;
  before?: Step[];
  picks: PhaseRef[];
  expect: (s: SessionState) => void;
}

const planCases: PlanCase[] = [
  {
    name: 'one planned phase counts as a success',
    picks: [ref('A', 'x', 3)],
    expect: (s) => {
      assert.equal(s.processed, 1);
      assert.equal(s.succeeded, 1);
      assert.equal(s.failed, 0);
      assert.deepEqual(s.attempts, { [pairKey('A', 'x')]: 1 });
      assert.deepEqual(s.done, [pairKey('A', 'x')]);
      assert.deepEqual(s.runs, { A: { attempted: 1, succeeded: 1, timeouts: 0, events: 0 } });
      assert.deepEqual(s.sampledRuns, ['A']);
      assert.deepEqual(s.promisingRuns, ['A']);
      assert.deepEqual(s.planned, [{ runId: 'A', phaseId: 'x', phaseIndex: 3, category: 'unknown' }]);
      assert.deepEqual(s.recent, [], 'planning runs nothing');
      assert.equal(s.telemetryEvents, 0);
    },
  },
  {
    name: 'several phases of one run: listed once in sampled/promising, planned in order',
    picks: [ref('A', 'x', 0), ref('A', 'y', 1), ref('B', 'x', 0)],
    expect: (s) => {
      assert.equal(s.processed, 3);
      assert.deepEqual(s.sampledRuns, ['A', 'B']);
      assert.deepEqual(s.promisingRuns, ['A', 'B']);
      assert.deepEqual(s.runs.A, { attempted: 2, succeeded: 2, timeouts: 0, events: 0 });
      assert.deepEqual(
        s.planned.map((p) => `${p.runId}/${p.phaseId}`),
        ['A/x', 'A/y', 'B/x'],
      );
      assert.equal(s.done.length, 3);
    },
  },
  {
    name: 'a deprioritized run does not become promising',
    before: [
      { run: 'A', phase: 'a' },
      { run: 'A', phase: 'b' },
    ],
    picks: [ref('A', 'c')],
    expect: (s) => {
      assert.deepEqual(s.deprioritizedRuns, ['A']);
      assert.deepEqual(s.promisingRuns, []);
      assert.deepEqual(s.runs.A.attempted, 3);
    },
  },
  {
    name: 'a run id named __proto__',
    picks: [ref('__proto__', 'x')],
    expect: (s) => {
      assert.ok(Object.prototype.hasOwnProperty.call(s.runs, '__proto__'));
      assert.deepEqual(own(s.runs, '__proto__'), { attempted: 1, succeeded: 1, timeouts: 0, events: 0 });
      assert.equal(Object.getPrototypeOf(s.runs), Object.prototype);
    },
  },
];

for (const c of planCases) {
  test(`recordPlanned: ${c.name}`, () => {
    let s = deepFreeze(play(c.before ?? []));
    for (const p of c.picks) s = deepFreeze(recordPlanned(s, p));
    c.expect(s);
  });
}

// ---------------------------------------------------------------------------------------------
// noteSkips

const skip = (runId: string, phaseId: string, reason: string): SkipRecord => ({ runId, phaseId, reason });

interface SkipCase {
  name: string;
  calls: SkipRecord[][];
  expect: SkipRecord[];
}

const skipCases: SkipCase[] = [
  { name: 'nothing skipped', calls: [[]], expect: [] },
  {
    name: 'skips are appended in order',
    calls: [[skip('A', 'a', 'r1'), skip('B', 'b', 'r2')]],
    expect: [skip('A', 'a', 'r1'), skip('B', 'b', 'r2')],
  },
  {
    name: 'a phase skipped again keeps only its latest reason, moved to the end',
    calls: [
      [skip('A', 'a', 'phase already attempted 2 times (limit: 2)'), skip('B', 'b', 'r2')],
      [skip('A', 'a', 'run A has 2 timeouts (limit: 2)')],
    ],
    expect: [skip('B', 'b', 'r2'), skip('A', 'a', 'run A has 2 timeouts (limit: 2)')],
  },
  {
    name: 'the same phase twice in one call keeps the later reason',
    calls: [[skip('A', 'a', 'first'), skip('A', 'a', 'second')]],
    expect: [skip('A', 'a', 'second')],
  },
  {
    name: 'phases are told apart by (run, phase), not by the joined key',
    calls: [[skip('a:b', 'c', 'r1')], [skip('a', 'b:c', 'r2')]],
    expect: [skip('a:b', 'c', 'r1'), skip('a', 'b:c', 'r2')],
  },
  {
    name: 'same phase id in another run is another phase',
    calls: [[skip('A', 'x', 'r1')], [skip('B', 'x', 'r2')]],
    expect: [skip('A', 'x', 'r1'), skip('B', 'x', 'r2')],
  },
];

for (const c of skipCases) {
  test(`noteSkips: ${c.name}`, () => {
    let s = deepFreeze(fresh());
    for (const call of c.calls) s = deepFreeze(noteSkips(s, call));
    assert.deepEqual(s.skipped, c.expect);
  });
}

test('noteSkips with nothing returns the same state object', () => {
  const s = fresh();
  assert.equal(noteSkips(s, []), s);
});

const boundCases: Array<[name: string, batches: number[], kept: number, first: number, last: number]> = [
  ['exactly the bound', [MAX_SKIPPED_KEPT], MAX_SKIPPED_KEPT, 0, MAX_SKIPPED_KEPT - 1],
  ['one call over the bound', [MAX_SKIPPED_KEPT + 100], MAX_SKIPPED_KEPT, 100, MAX_SKIPPED_KEPT + 99],
  ['many small calls over the bound', Array(60).fill(10), MAX_SKIPPED_KEPT, 500, 599],
];

for (const [name, batches, kept, first, last] of boundCases) {
  test(`noteSkips is bounded: ${name}`, () => {
    assert.equal(MAX_SKIPPED_KEPT, 100);
    let s = fresh();
    let n = 0;
    for (const size of batches) {
      s = noteSkips(
        s,
        Array.from({ length: size }, () => skip('R', `p${n}`, `reason ${n++}`)),
      );
    }
    assert.equal(s.skipped.length, kept);
    assert.equal(s.skipped[0].phaseId, `p${first}`);
    assert.equal(s.skipped[kept - 1].phaseId, `p${last}`);
  });
}

// ---------------------------------------------------------------------------------------------
// pairKey / parsePairKey

const pairs: Array<[runId: string, phaseId: string]> = [
  ['run', 'phase'],
  ['research-system-v4', 'research-integration'],
  ['a:b', 'c'],
  ['a', 'b:c'],
  [':', ':'],
  ['"', '"'],
  ['say "hi"', 'back\\slash'],
  ['["a","b"]', ']'],
  ['', ''],
  ['ünïcødé', '日本語'],
  ['🚀', 'emoji 👩‍💻'],
  ['\u2028line\u2029sep', 'tab\tnew\nline'],
  ['lone \ud800 surrogate', 'x'],
  ['__proto__', 'constructor'],
];

for (const [runId, phaseId] of pairs) {
  test(`pairKey round trip: ${JSON.stringify([runId, phaseId])}`, () => {
    const key = pairKey(runId, phaseId);
    assert.deepEqual(parsePairKey(key), [runId, phaseId]);
    // survives being a JSON object key (the session state is JSON)
    const revived = JSON.parse(JSON.stringify({ [key]: 1 })) as Record<string, number>;
    assert.deepEqual(Object.keys(revived), [key]);
  });
}

test('pairKey is injective where run:phase is not', () => {
  const keys = new Set(pairs.map(([r, p]) => pairKey(r, p)));
  assert.equal(keys.size, pairs.length);
  assert.notEqual(pairKey('a:b', 'c'), pairKey('a', 'b:c'));
});

const badKeys = [
  'run:phase',
  '',
  '[]',
  '["a"]',
  '["a","b","c"]',
  '[1,2]',
  '["a",null]',
  'null',
  '{"0":"a","1":"b"}',
  '"a"',
];

for (const key of badKeys) {
  test(`parsePairKey rejects ${JSON.stringify(key)}`, () => {
    assert.throws(() => parsePairKey(key));
  });
}
