/**
 * The session state fold, part 1: a new state, totals, per-run stats, attempts, fingerprints
 * and timeouts per run (recordAttempt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { newSessionState, pairKey, type SessionState } from '../../src/domain/session-state.js';
import type { DrainConfig } from '../../src/domain/types.js';

import { Step, T0, cfg, play } from '../helpers/session-fixtures.js';
// ---------------------------------------------------------------------------------------------
// newSessionState

const newStateCases: Array<[name: string, over: Partial<DrainConfig>, deadline: number | null]> = [
  ['no time budget', {}, null],
  ['60 minutes', { maxTotalMinutes: 60 }, T0 + 3_600_000],
  ['fractional minutes', { maxTotalMinutes: 0.5 }, T0 + 30_000],
];
for (const [name, over, deadline] of newStateCases) {
  test(`newSessionState: ${name} → deadlineMs ${deadline}`, () => {
    const s = newSessionState('batch-drain-x', T0, cfg(over));
    assert.equal(s.deadlineMs, deadline);
    assert.equal(s.startedAtMs, T0);
    assert.equal(s.startedAt, '2025-12-28T06:00:07.000Z');
    assert.equal(s.processed, 0);
    assert.equal(s.consecutiveZeroYield, 0);
    assert.deepEqual(s.runs, {});
    assert.equal(s.stopReason, null);
  });
}

// ---------------------------------------------------------------------------------------------
// recordAttempt: totals

interface TotalsCase {
  name: string;
  steps: Step[];
  expect: Partial<SessionState>;
}

const totals: TotalsCase[] = [
  {
    name: 'one success with telemetry',
    steps: [{ run: 'A', ok: true, events: 15, seconds: 240, llm: true }],
    expect: {
      processed: 1,
      succeeded: 1,
      failed: 0,
      timeouts: 0,
      cancelled: 0,
      telemetryEvents: 15,
      telemetryGlobalDelta: 15,
      drainSeconds: 240,
      llmBoundaryHits: 1,
    },
  },
  {
    name: 'one plain failure',
    steps: [{ run: 'A' }],
    expect: {
      processed: 1,
      succeeded: 0,
      failed: 1,
      timeouts: 0,
      cancelled: 0,
      telemetryEvents: 0,
      drainSeconds: 10,
      llmBoundaryHits: 0,
    },
  },
  {
    name: 'a timeout is a failure and a timeout',
    steps: [{ run: 'A', timeout: true, seconds: 900 }],
    expect: { processed: 1, succeeded: 0, failed: 1, timeouts: 1, drainSeconds: 900 },
  },
  {
    name: 'a cancelled attempt is a failure and a cancellation',
    steps: [{ run: 'A', cancelled: true }],
    expect: { processed: 1, failed: 1, cancelled: 1, timeouts: 0 },
  },
  {
    name: 'mixed batch (reference summary: 10 processed, 3 ok, 7 failed, 2 timeouts, 27 events)',
    steps: [
      { run: 'build130', phase: 'a', ok: true, events: 15 },
      { run: 'build130', phase: 'b', ok: true, events: 7 },
      { run: 'build130', phase: 'c' },
      { run: 'v4', phase: 'a', timeout: true },
      { run: 'v4', phase: 'b', timeout: true },
      { run: 'v4', phase: 'c' },
      { run: 'v4', phase: 'd' },
      { run: 'v6', phase: 'a', ok: true, events: 5 },
      { run: 'v6', phase: 'b' },
      { run: 'v6', phase: 'c' },
    ],
    expect: { processed: 10, succeeded: 3, failed: 7, timeouts: 2, telemetryEvents: 27 },
  },
  {
    name: 'global telemetry delta is summed separately',
    steps: [
      { run: 'A', ok: true, events: 2, globalDelta: 5 },
      { run: 'B', events: 0, globalDelta: 3 },
    ],
    expect: { telemetryEvents: 2, telemetryGlobalDelta: 8 },
  },
  {
    name: 'drain seconds are rounded to milliseconds (no float drift)',
    steps: [
      { run: 'A', seconds: 0.1 },
      { run: 'A', phase: 'p2', seconds: 0.2 },
    ],
    expect: { drainSeconds: 0.3 },
  },
];

for (const c of totals) {
  test(`recordAttempt totals: ${c.name}`, () => {
    const s = play(c.steps);
    for (const [k, v] of Object.entries(c.expect)) {
      assert.deepEqual((s as unknown as Record<string, unknown>)[k], v, k);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// recordAttempt: per-run stats, attempts and done

const perRun: Array<[name: string, steps: Step[], runs: SessionState['runs']]> = [
  ['one failure', [{ run: 'A' }], { A: { attempted: 1, succeeded: 0, timeouts: 0, events: 0 } }],
  [
    'runs are kept apart',
    [
      { run: 'A', ok: true, events: 3 },
      { run: 'B', timeout: true },
      { run: 'A', phase: 'p2', events: 2 },
    ],
    {
      A: { attempted: 2, succeeded: 1, timeouts: 0, events: 5 },
      B: { attempted: 1, succeeded: 0, timeouts: 1, events: 0 },
    },
  ],
  [
    'reference run build130 (2/3 succeeded, 0 timeouts, 22 events)',
    [
      { run: 'build130', phase: 'a', ok: true, events: 15 },
      { run: 'build130', phase: 'b', ok: true, events: 7 },
      { run: 'build130', phase: 'c' },
    ],
    { build130: { attempted: 3, succeeded: 2, timeouts: 0, events: 22 } },
  ],
];

for (const [name, steps, runs] of perRun) {
  test(`recordAttempt per-run stats: ${name}`, () => {
    assert.deepEqual(play(steps).runs, runs);
  });
}

const attemptsCases: Array<
  [name: string, steps: Step[], attempts: Array<[string, string, number]>, done: Array<[string, string]>]
> = [
  ['a failure counts, is not done', [{ run: 'A', phase: 'x' }], [['A', 'x', 1]], []],
  ['a success counts and is done', [{ run: 'A', phase: 'x', ok: true }], [['A', 'x', 1]], [['A', 'x']]],
  [
    'retry: the attempt number is kept (max)',
    [
      { run: 'A', phase: 'x', attempt: 1 },
      { run: 'A', phase: 'x', attempt: 2, ok: true },
    ],
    [['A', 'x', 2]],
    [['A', 'x']],
  ],
  [
    'a replayed older attempt does not lower the count',
    [
      { run: 'A', phase: 'x', attempt: 2 },
      { run: 'A', phase: 'x', attempt: 1 },
    ],
    [['A', 'x', 2]],
    [],
  ],
  [
    'same phase id in two runs, and ids with ":" stay distinct',
    [
      { run: 'a:b', phase: 'c' },
      { run: 'a', phase: 'b:c', ok: true },
    ],
    [
      ['a:b', 'c', 1],
      ['a', 'b:c', 1],
    ],
    [['a', 'b:c']],
  ],
];

for (const [name, steps, attempts, done] of attemptsCases) {
  test(`recordAttempt attempts/done: ${name}`, () => {
    const s = play(steps);
    assert.deepEqual(s.attempts, Object.fromEntries(attempts.map(([r, p, n]) => [pairKey(r, p), n])));
    assert.deepEqual(
      s.done,
      done.map(([r, p]) => pairKey(r, p)),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// recordAttempt: fingerprints and the repeat limit

interface FpCase {
  name: string;
  config?: Partial<DrainConfig>;
  steps: Step[];
  counts: Record<string, number>;
  stopped: string[];
  deprioritized: string[];
}

const FP = 'FAILED|rc1|importerror: cannot import module';
const FP2 = 'FAILED|rc1|assertionerror';

const fpCases: FpCase[] = [
  {
    name: 'a success has no fingerprint and counts nothing',
    steps: [{ run: 'A', ok: true }],
    counts: {},
    stopped: [],
    deprioritized: [],
  },
  {
    name: 'a null fingerprint is not counted',
    steps: [{ run: 'A', fp: null }],
    counts: {},
    stopped: [],
    deprioritized: [],
  },
  {
    name: 'distinct fingerprints are counted apart',
    steps: [
      { run: 'A', events: 1, fp: FP },
      { run: 'B', events: 1, fp: FP2 },
      { run: 'C', events: 1, fp: FP },
    ],
    counts: { [FP]: 2, [FP2]: 1 },
    stopped: [],
    deprioritized: [],
  },
  {
    name: 'below the limit (2 of 3, with telemetry): nothing stops',
    steps: [
      { run: 'A', phase: 'a', events: 1, fp: FP },
      { run: 'A', phase: 'b', events: 1, fp: FP },
    ],
    counts: { [FP]: 2 },
    stopped: [],
    deprioritized: [],
  },
  {
    name: 'at the default limit (3): fingerprint stopped, run of the 3rd repeat deprioritized',
    steps: [
      { run: 'A', phase: 'a', events: 1, fp: FP },
      { run: 'B', phase: 'a', events: 1, fp: FP },
      { run: 'C', phase: 'a', events: 1, fp: FP },
    ],
    counts: { [FP]: 3 },
    stopped: [FP],
    deprioritized: ['C'],
  },
  {
    name: 'past the limit: stopped once, count goes on',
    steps: [
      { run: 'A', phase: 'a', events: 1, fp: FP },
      { run: 'A', phase: 'b', events: 1, fp: FP },
      { run: 'A', phase: 'c', events: 1, fp: FP },
      { run: 'A', phase: 'd', events: 1, fp: FP },
    ],
    counts: { [FP]: 4 },
    stopped: [FP],
    deprioritized: ['A'],
  },
  {
    name: 'strict limit 1: the first occurrence stops it',
    config: { maxFingerprintRepeats: 1 },
    steps: [{ run: 'A', events: 1, fp: FP }],
    counts: { [FP]: 1 },
    stopped: [FP],
    deprioritized: ['A'],
  },
  {
    name: 'lenient limit 5: four repeats do not stop it',
    config: { maxFingerprintRepeats: 5 },
    steps: [1, 2, 3, 4].map((i) => ({ run: 'A', phase: `p${i}`, events: 1, fp: FP })),
    counts: { [FP]: 4 },
    stopped: [],
    deprioritized: [],
  },
  {
    name: 'two fingerprints reach the limit in order',
    config: { maxFingerprintRepeats: 2 },
    steps: [
      { run: 'A', events: 1, fp: FP2 },
      { run: 'B', events: 1, fp: FP },
      { run: 'C', events: 1, fp: FP },
      { run: 'D', events: 1, fp: FP2 },
    ],
    counts: { [FP]: 2, [FP2]: 2 },
    stopped: [FP, FP2],
    deprioritized: ['C', 'D'],
  },
];

for (const c of fpCases) {
  test(`recordAttempt fingerprints: ${c.name}`, () => {
    const s = play(c.steps, cfg(c.config));
    assert.deepEqual(s.fingerprintCounts, c.counts);
    assert.deepEqual(s.stoppedFingerprints, c.stopped);
    assert.deepEqual(s.deprioritizedRuns, c.deprioritized);
    for (const r of c.deprioritized) assert.ok(!s.promisingRuns.includes(r), `${r} not promising`);
  });
}

// ---------------------------------------------------------------------------------------------
// recordAttempt: timeouts per run → stopped runs

interface TimeoutCase {
  name: string;
  config?: Partial<DrainConfig>;
  steps: Step[];
  stopped: Record<string, string>;
}

const timeoutCases: TimeoutCase[] = [
  { name: 'one timeout (limit 2): not stopped', steps: [{ run: 'A', timeout: true }], stopped: {} },
  {
    name: 'two timeouts in one run (limit 2): stopped',
    steps: [
      { run: 'research-system-v6', phase: 'a', timeout: true },
      { run: 'research-system-v6', phase: 'b', timeout: true },
    ],
    stopped: { 'research-system-v6': 'run research-system-v6 has 2 timeouts (limit: 2)' },
  },
  {
    name: 'timeouts in different runs do not add up',
    steps: [
      { run: 'A', timeout: true },
      { run: 'B', timeout: true },
    ],
    stopped: {},
  },
  {
    name: 'failures that are not timeouts do not count',
    steps: [
      { run: 'A', phase: 'a' },
      { run: 'A', phase: 'b' },
      { run: 'A', phase: 'c', timeout: true },
    ],
    stopped: {},
  },
  {
    name: 'strict limit 1',
    config: { maxTimeoutsPerRun: 1 },
    steps: [{ run: 'A', timeout: true }],
    stopped: { A: 'run A has 1 timeouts (limit: 1)' },
  },
  {
    name: 'lenient limit 3: stopped at the third',
    config: { maxTimeoutsPerRun: 3 },
    steps: [
      { run: 'A', phase: 'a', timeout: true },
      { run: 'A', phase: 'b', timeout: true },
      { run: 'A', phase: 'c', timeout: true },
    ],
    stopped: { A: 'run A has 3 timeouts (limit: 3)' },
  },
  {
    name: 'the reason is written once (a later timeout does not rewrite it)',
    steps: [
      { run: 'A', phase: 'a', timeout: true },
      { run: 'A', phase: 'b', timeout: true },
      { run: 'A', phase: 'c', timeout: true },
    ],
    stopped: { A: 'run A has 2 timeouts (limit: 2)' },
  },
];

for (const c of timeoutCases) {
  test(`recordAttempt timeouts per run: ${c.name}`, () => {
    assert.deepEqual(play(c.steps, cfg(c.config)).stoppedRuns, c.stopped);
  });
}
