/**
 * selectionParams: the session state and config as the selection query's parameters
 * (parallel arrays), computed purely so they are part of the workflow history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDrainInput } from '../../src/domain/input.js';
import { selectionParams, type SelectParams } from '../../src/domain/selection.js';
import {
  newSessionState,
  pairKey,
  recordAttempt,
  recordPlanned,
  type SessionState,
} from '../../src/domain/session-state.js';
import type { AttemptOutcome, AttemptVerdict, DrainConfig, PhaseRef } from '../../src/domain/types.js';

const T0 = Date.parse('2025-12-28T06:00:07Z');
const cfg = (over: Partial<DrainConfig> = {}): DrainConfig => parseDrainInput(over);
const fresh = (config = cfg()): SessionState => newSessionState('batch-drain-sel', T0, config);

function attempt(
  state: SessionState,
  config: DrainConfig,
  runId: string,
  phaseId: string,
  o: { ok?: boolean; timeout?: boolean; attempt?: number; fp?: string | null; events?: number } = {},
): SessionState {
  const outcome: AttemptOutcome = {
    runId,
    phaseId,
    attempt: o.attempt ?? 1,
    initialState: 'FAILED',
    finalState: o.ok ? 'COMPLETE' : 'FAILED',
    success: !!o.ok,
    returnCode: o.ok ? 0 : o.timeout ? null : 1,
    signal: null,
    timedOut: !!o.timeout,
    cancelled: false,
    reconciled: false,
    exitKnown: true,
    telemetryByTable: null,
    runCountsBefore: null,
    runCountsAfter: null,
    phaseChanged: null,
    interruptedTries: 0,
    processesReaped: 0,
    lost: false,
    abandoned: false,
    durationSeconds: 5,
    stdoutPath: null,
    stderrPath: null,
    stdoutExcerpt: '',
    stderrExcerpt: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    lastFailureReason: null,
    errorMessage: null,
    llmBoundaryHit: false,
    telemetryEvents: o.events ?? 0,
    telemetryGlobalDelta: o.events ?? 0,
    startedAt: '2025-12-28T06:00:07.000Z',
    finishedAt: '2025-12-28T06:00:12.000Z',
    workerIdentity: 'w',
    baselineCommit: null,
  };
  const fp =
    o.fp !== undefined ? o.fp : o.ok ? null : o.timeout ? 'TIMEOUT|timeout' : `FAILED|rc1|${phaseId}`;
  const verdict: AttemptVerdict = {
    fingerprint: fp,
    category: 'other',
    yieldPerMinute: null,
    zeroYieldReason: null,
  };
  return recordAttempt(state, outcome, verdict, config);
}

const ref = (runId: string, phaseId: string): PhaseRef => ({
  runId,
  phaseId,
  phaseIndex: 0,
  dbId: 1,
  state: 'FAILED',
  lastFailureReason: null,
  category: 'unknown',
});

/** Zips the parallel arrays back into tuples (and checks they are parallel). */
function zip<A, B>(a: A[], b: B[]): Array<[A, B]> {
  assert.equal(a.length, b.length, 'parallel arrays have equal length');
  return a.map((x, i) => [x, b[i]]);
}
function attemptedOf(p: SelectParams): Array<[string, string, number]> {
  assert.equal(p.attemptedRuns.length, p.attemptCounts.length);
  return zip(p.attemptedRuns, p.attemptedPhases).map(([r, ph], i) => [r, ph, p.attemptCounts[i]]);
}

// ---------------------------------------------------------------------------------------------
// Config pass-through

const passThrough: Array<[name: string, over: Partial<DrainConfig>, expect: Partial<SelectParams>]> = [
  [
    'defaults',
    {},
    {
      mode: 'failed',
      runId: null,
      skipRunsWithQueued: true,
      skipRunPrefixes: [],
      maxAttemptsPerPhase: 2,
      maxSkipsReported: 50,
    },
  ],
  ['one run', { runId: 'build130' }, { runId: 'build130' }],
  ['queued mode', { mode: 'queued' }, { mode: 'queued' }],
  ['queued-then-failed mode', { mode: 'queued-then-failed' }, { mode: 'queued-then-failed' }],
  ['no skip-runs-with-queued', { skipRunsWithQueued: false }, { skipRunsWithQueued: false }],
  ['skip prefixes', { skipRunPrefixes: ['research-', 'x:'] }, { skipRunPrefixes: ['research-', 'x:'] }],
  ['attempt limit', { maxAttemptsPerPhase: 5 }, { maxAttemptsPerPhase: 5 }],
];

for (const [name, over, expect] of passThrough) {
  test(`selectionParams passes the config through: ${name}`, () => {
    const config = cfg(over);
    const p = selectionParams(fresh(config), config);
    assert.equal(p.sessionId, 'batch-drain-sel');
    for (const [k, v] of Object.entries(expect)) {
      assert.deepEqual((p as unknown as Record<string, unknown>)[k], v, k);
    }
  });
}

test('selectionParams of a fresh session: every list empty, no current run', () => {
  const config = cfg();
  const p = selectionParams(fresh(config), config);
  for (const k of [
    'attemptedRuns',
    'attemptedPhases',
    'attemptCounts',
    'doneRuns',
    'donePhases',
    'blockedRuns',
    'blockedReasons',
    'sampledRuns',
    'promisingRuns',
    'deprioritizedRuns',
  ] as const) {
    assert.deepEqual(p[k], [], k);
  }
  assert.equal(p.currentRun, null);
});

// ---------------------------------------------------------------------------------------------
// State → parallel arrays

interface StateCase {
  name: string;
  config?: Partial<DrainConfig>;
  build: (s: SessionState, c: DrainConfig) => SessionState;
  attempted: Array<[string, string, number]>;
  done: Array<[string, string]>;
  blocked: Array<[string, string]>;
  sampled: string[];
  promising: string[];
  deprioritized: string[];
  currentRun: string | null;
}

const stateCases: StateCase[] = [
  {
    name: 'one failure',
    build: (s, c) => attempt(s, c, 'A', 'a'),
    attempted: [['A', 'a', 1]],
    done: [],
    blocked: [],
    sampled: ['A'],
    promising: [],
    deprioritized: [],
    currentRun: 'A',
  },
  {
    name: 'success, retry, other run',
    build: (s, c) => {
      s = attempt(s, c, 'A', 'a', { ok: true, events: 3 });
      s = attempt(s, c, 'B', 'x', { attempt: 1 });
      s = attempt(s, c, 'B', 'x', { attempt: 2 });
      return s;
    },
    attempted: [
      ['A', 'a', 1],
      ['B', 'x', 2],
    ],
    done: [['A', 'a']],
    blocked: [],
    sampled: ['A', 'B'],
    promising: ['A'],
    deprioritized: ['B'],
    currentRun: 'B',
  },
  {
    name: 'ids with ":" and quotes and unicode stay intact',
    build: (s, c) => {
      s = attempt(s, c, 'a:b', 'c', { ok: true });
      s = attempt(s, c, 'a', 'b:c', { ok: true });
      s = attempt(s, c, 'say "hi"', 'ü🚀', { ok: true });
      return s;
    },
    attempted: [
      ['a:b', 'c', 1],
      ['a', 'b:c', 1],
      ['say "hi"', 'ü🚀', 1],
    ],
    done: [
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['say "hi"', 'ü🚀'],
    ],
    blocked: [],
    sampled: ['a:b', 'a', 'say "hi"'],
    promising: ['a:b', 'a', 'say "hi"'],
    deprioritized: [],
    currentRun: 'say "hi"',
  },
  {
    name: 'timeouts block a run with its reason',
    build: (s, c) => {
      s = attempt(s, c, 'v6', 'a', { timeout: true });
      s = attempt(s, c, 'v6', 'b', { timeout: true, fp: 'TIMEOUT|timeout|other' });
      s = attempt(s, c, 'C', 'a', { ok: true });
      return s;
    },
    attempted: [
      ['v6', 'a', 1],
      ['v6', 'b', 1],
      ['C', 'a', 1],
    ],
    done: [['C', 'a']],
    blocked: [['v6', 'run v6 has 2 timeouts (limit: 2)']],
    sampled: ['v6', 'C'],
    promising: ['v6', 'C'],
    deprioritized: [],
    currentRun: 'C',
  },
  {
    name: 'several blocked runs, numeric-looking and prototype-named ids keep their reasons',
    config: { maxTimeoutsPerRun: 1 },
    build: (s, c) => {
      s = attempt(s, c, 'zeta', 'a', { timeout: true, fp: 'f1' });
      s = attempt(s, c, '42', 'a', { timeout: true, fp: 'f2' });
      s = attempt(s, c, '__proto__', 'a', { timeout: true, fp: 'f3' });
      s = attempt(s, c, '7', 'a', { timeout: true, fp: 'f4' });
      return s;
    },
    attempted: [
      ['zeta', 'a', 1],
      ['42', 'a', 1],
      ['__proto__', 'a', 1],
      ['7', 'a', 1],
    ],
    done: [],
    // Object key order puts integer-like keys first; what matters is that the pairs match.
    blocked: [
      ['7', 'run 7 has 1 timeouts (limit: 1)'],
      ['42', 'run 42 has 1 timeouts (limit: 1)'],
      ['zeta', 'run zeta has 1 timeouts (limit: 1)'],
      ['__proto__', 'run __proto__ has 1 timeouts (limit: 1)'],
    ],
    sampled: ['zeta', '42', '__proto__', '7'],
    promising: ['zeta', '42', '__proto__', '7'],
    deprioritized: [],
    currentRun: '7',
  },
  {
    name: 'dry run: planned phases are done; the current run is the last planned',
    config: { dryRun: true },
    build: (s) => {
      s = recordPlanned(s, ref('A', 'a'));
      s = recordPlanned(s, ref('B', 'b'));
      return s;
    },
    attempted: [
      ['A', 'a', 1],
      ['B', 'b', 1],
    ],
    done: [
      ['A', 'a'],
      ['B', 'b'],
    ],
    blocked: [],
    sampled: ['A', 'B'],
    promising: ['A', 'B'],
    deprioritized: [],
    currentRun: 'B',
  },
  {
    name: 'dry run with nothing planned yet: no current run',
    config: { dryRun: true },
    build: (s) => s,
    attempted: [],
    done: [],
    blocked: [],
    sampled: [],
    promising: [],
    deprioritized: [],
    currentRun: null,
  },
  {
    name: 'more than 20 attempts: the current run is still the last drained one',
    build: (s, c) => {
      for (let i = 0; i < 25; i++) s = attempt(s, c, i === 24 ? 'LAST' : `R${i % 3}`, `p${i}`, { ok: true });
      return s;
    },
    attempted: Array.from({ length: 25 }, (_, i) => [i === 24 ? 'LAST' : `R${i % 3}`, `p${i}`, 1]),
    done: Array.from({ length: 25 }, (_, i) => [i === 24 ? 'LAST' : `R${i % 3}`, `p${i}`]),
    blocked: [],
    sampled: ['R0', 'R1', 'R2', 'LAST'],
    promising: ['R0', 'R1', 'R2', 'LAST'],
    deprioritized: [],
    currentRun: 'LAST',
  },
];

for (const c of stateCases) {
  test(`selectionParams maps the state: ${c.name}`, () => {
    const config = cfg(c.config);
    const state = c.build(fresh(config), config);
    const p = selectionParams(state, config);
    const sortKey = (t: unknown[]) => JSON.stringify(t);
    // attempted: as a set of (run, phase, count), and consistent with state.attempts
    assert.deepEqual(attemptedOf(p).map(sortKey).sort(), c.attempted.map(sortKey).sort(), 'attempted');
    for (const [r, ph, n] of attemptedOf(p)) assert.equal(state.attempts[pairKey(r, ph)], n);
    assert.deepEqual(zip(p.doneRuns, p.donePhases), c.done, 'done');
    assert.deepEqual(
      zip(p.blockedRuns, p.blockedReasons).map(sortKey).sort(),
      c.blocked.map(sortKey).sort(),
      'blocked',
    );
    for (const [r, reason] of zip(p.blockedRuns, p.blockedReasons)) {
      assert.ok(reason.includes(`run ${r} `), `reason of ${r} is its own: ${reason}`);
    }
    assert.deepEqual(p.sampledRuns, c.sampled, 'sampled');
    assert.deepEqual(p.promisingRuns, c.promising, 'promising');
    assert.deepEqual(p.deprioritizedRuns, c.deprioritized, 'deprioritized');
    assert.equal(p.currentRun, c.currentRun, 'currentRun');
    // activity input: plain JSON, unchanged by a round trip
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  });
}
