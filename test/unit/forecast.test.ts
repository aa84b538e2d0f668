/**
 * The forecast model of src/domain/forecast.ts on small histories whose figures are computed
 * by hand in the comments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backtest,
  forecastBatch,
  forecastCells,
  forecastJson,
  forecastPhase,
  formatForecastFooter,
  formatForecastTable,
  poolsFromRows,
  relative,
  type BacktestAttempt,
  type PhaseForecast,
  type PoolRow,
} from '../../src/domain/forecast.js';

// History: run A (unknown) 4 events/120 s and 2 events/60 s; run B (patch) 0/30 s and 0/90 s.
// Pools: run A 2 attempts, 6 events, 180 s; run B 2, 0, 120 s; category unknown = run A,
// patch = run B; global 4 attempts, 6 events, 300 s.
const ROWS: PoolRow[] = [
  { kind: 'run', key: 'A', attempts: 2, events: 6, seconds: 180 },
  { kind: 'run', key: 'B', attempts: 2, events: 0, seconds: 120 },
  { kind: 'category', key: 'unknown', attempts: 2, events: 6, seconds: 180 },
  { kind: 'category', key: 'patch', attempts: 2, events: 0, seconds: 120 },
  { kind: 'global', key: '', attempts: 4, events: 6, seconds: 300 },
];
const POOLS = poolsFromRows(ROWS);
const EMPTY = poolsFromRows([{ kind: 'global', key: '', attempts: 0, events: 0, seconds: 0 }]);

const phaseCases: Array<[string, typeof POOLS, string, string, PhaseForecast]> = [
  // run A: 6/2 = 3 events, 180 s / 60 / 2 = 1.5 min
  [
    'the run has history: its means',
    POOLS,
    'A',
    'patch',
    { source: 'run', basedOn: 2, events: 3, minutes: 1.5 },
  ],
  // run C has none; patch: 0/2 = 0 events, 120/60/2 = 1 min
  ['else the category', POOLS, 'C', 'patch', { source: 'category', basedOn: 2, events: 0, minutes: 1 }],
  // run C, timeout: no pool; global 6/4 = 1.5 events, 300/60/4 = 1.25 min
  ['else global', POOLS, 'C', 'timeout', { source: 'global', basedOn: 4, events: 1.5, minutes: 1.25 }],
  ['else none', EMPTY, 'A', 'patch', { source: 'none', basedOn: 0, events: null, minutes: null }],
];
for (const [name, pools, runId, category, want] of phaseCases) {
  test(`forecastPhase: ${name}`, () => assert.deepEqual(forecastPhase(pools, runId, category), want));
}

test('poolsFromRows: rows of one pool add up', () => {
  const p = poolsFromRows([
    { kind: 'run', key: 'A', attempts: 1, events: 2, seconds: 10 },
    { kind: 'run', key: 'A', attempts: 2, events: 3, seconds: 20 },
  ]);
  assert.deepEqual(p.runs.get('A'), { attempts: 3, events: 5, seconds: 30 });
  assert.deepEqual(p.global, { attempts: 0, events: 0, seconds: 0 });
});

test('forecastBatch: sums over the phases with a figure, the others counted apart', () => {
  const fs = [
    forecastPhase(POOLS, 'A', 'patch'), // 3, 1.5
    forecastPhase(POOLS, 'C', 'patch'), // 0, 1
    forecastPhase(POOLS, 'C', 'timeout'), // 1.5, 1.25
    forecastPhase(EMPTY, 'A', 'patch'), // none
  ];
  assert.deepEqual(forecastBatch(fs), {
    phases: 4,
    forecast: 3,
    unknown: 1,
    events: 4.5, // 3 + 0 + 1.5
    minutes: 3.75, // 1.5 + 1 + 1.25
    bySource: { run: 1, category: 1, global: 1, none: 1 },
  });
  assert.deepEqual(forecastBatch([]), {
    phases: 0,
    forecast: 0,
    unknown: 0,
    events: 0,
    minutes: 0,
    bySource: { run: 0, category: 0, global: 0, none: 0 },
  });
});

const MIN = 60_000;
const at = (
  runId: string,
  category: string,
  events: number,
  seconds: number,
  startMin: number,
  endMin: number,
) =>
  ({
    runId,
    category,
    events,
    seconds,
    startedAt: startMin * MIN,
    finishedAt: endMin * MIN,
  }) satisfies BacktestAttempt;

// 1. A unknown 4 ev 1 min  [0,1]   no history → none
// 2. A unknown 2 ev 2 min  [2,4]   run A {1}: 4 ev, 1 min   → |4-2|=2, |1-2|=1; bias +2, -1
// 3. B patch   0 ev 1 min  [5,6]   global {1,2}: 3 ev, 1.5  → 3, 0.5; +3, +0.5
// 4. B patch   0 ev 3 min  [7,10]  run B {3}: 0 ev, 1 min   → 0, 2; 0, -2
// 5. C patch   6 ev 1 min  [11,12] patch {3,4}: 0 ev, 2 min → 6, 1; -6, +1
// n 4: MAE events 11/4 = 2.75, minutes 4.5/4 = 1.125; mean actual 8/4 = 2 events, 7/4 = 1.75 min;
// bias -1/4 = -0.25 events, -1.5/4 = -0.375 min.
const HISTORY = [
  at('A', 'unknown', 4, 60, 0, 1),
  at('A', 'unknown', 2, 120, 2, 4),
  at('B', 'patch', 0, 60, 5, 6),
  at('B', 'patch', 0, 180, 7, 10),
  at('C', 'patch', 6, 60, 11, 12),
];
const WANT = {
  window: 5,
  n: 4,
  maeEvents: 2.75,
  maeMinutes: 1.125,
  meanEvents: 2,
  meanMinutes: 1.75,
  biasEvents: -0.25,
  biasMinutes: -0.375,
  bySource: { run: 2, category: 1, global: 1, none: 1 },
};

test('backtest: each attempt forecast from the ones finished before it, with the same chain', () => {
  assert.deepEqual(backtest(HISTORY), WANT);
});

test('backtest: the order of the input does not matter', () => {
  assert.deepEqual(backtest([...HISTORY].reverse()), WANT);
  assert.deepEqual(backtest([HISTORY[3], HISTORY[0], HISTORY[4], HISTORY[2], HISTORY[1]]), WANT);
});

test('backtest: an attempt still running when another starts is not its history (concurrent slots)', () => {
  // a [0,10], b [5,6]: b has nothing finished before it; c [10,11] has b only (a ends at 10, not before)
  const r = backtest([
    at('A', 'unknown', 10, 600, 0, 10),
    at('A', 'unknown', 2, 60, 5, 6),
    at('A', 'unknown', 4, 60, 10, 11),
  ]);
  // c: forecast from b: 2 ev, 1 min; actual 4, 1 → |2|, 0
  assert.deepEqual(r, {
    window: 3,
    n: 1,
    maeEvents: 2,
    maeMinutes: 0,
    meanEvents: 4,
    meanMinutes: 1,
    biasEvents: -2,
    biasMinutes: 0,
    bySource: { run: 1, category: 0, global: 0, none: 2 },
  });
});

test('backtest: no history at all', () => {
  assert.deepEqual(backtest([]), {
    window: 0,
    n: 0,
    maeEvents: null,
    maeMinutes: null,
    meanEvents: null,
    meanMinutes: null,
    biasEvents: null,
    biasMinutes: null,
    bySource: { run: 0, category: 0, global: 0, none: 0 },
  });
});

test('relative: MAE / mean actual, null without a mean', () => {
  assert.equal(relative(2.75, 2), 1.375);
  assert.equal(relative(1.125, 1.75), 0.643); // 0.642857… rounded
  assert.equal(relative(1, 0), null);
  assert.equal(relative(null, 2), null);
});

test('forecastCells: the plan columns', () => {
  assert.deepEqual(forecastCells({ source: 'run', basedOn: 2, events: 3, minutes: 1.5 }), [
    '3.0',
    '1.50',
    'run (2 attempts)',
  ]);
  assert.deepEqual(forecastCells({ source: 'global', basedOn: 1, events: 1 / 3, minutes: 0.125 }), [
    '0.3',
    '0.13',
    'global (1 attempt)',
  ]);
  assert.deepEqual(forecastCells({ source: 'none', basedOn: 0, events: null, minutes: null }), [
    '?',
    '?',
    'none (no history)',
  ]);
});

test('formatForecastFooter: the batch line and the backtest line', () => {
  const fs = [
    forecastPhase(POOLS, 'A', 'x'),
    forecastPhase(POOLS, 'C', 'timeout'),
    forecastPhase(EMPTY, 'A', 'x'),
  ];
  assert.deepEqual(formatForecastFooter(forecastBatch(fs), backtest(HISTORY)), [
    'Forecast for the batch: ~4.5 telemetry events in ~2.8 min of drain time (1 from run history, 1 from global history; 1 without history, not counted)',
    'Error of past forecasts (backtest of the newest 5 judged attempts, 4 scored): mean absolute error 2.75 events per phase (mean actual 2.00, 138%), 1.13 min per phase (mean actual 1.75, 64%); bias -0.25 events, -0.38 min',
  ]);
  assert.deepEqual(formatForecastFooter(forecastBatch([]), backtest([])), [
    'Forecast for the batch: unknown (no judged attempts in drain_attempts yet)',
    'Error of past forecasts: not known yet (backtest of 0 judged attempt(s): none had an earlier finished attempt to forecast from)',
  ]);
});

test('forecastJson: per phase, batch and backtest, rounded to 3 decimals', () => {
  const planned = [
    { runId: 'A', phaseId: 'p1', phaseIndex: 0, category: 'patch' },
    { runId: 'C', phaseId: 'p2', phaseIndex: 3, category: 'timeout' },
  ];
  const fs = [
    forecastPhase(POOLS, 'A', 'patch'),
    { source: 'global' as const, basedOn: 3, events: 1 / 3, minutes: 2 / 3 },
  ];
  const j = forecastJson(planned, fs, forecastBatch(fs), backtest(HISTORY));
  assert.deepEqual(j.planned[1], {
    runId: 'C',
    phaseId: 'p2',
    phaseIndex: 3,
    category: 'timeout',
    forecast: { source: 'global', basedOn: 3, events: 0.333, minutes: 0.667 },
  });
  assert.equal(j.batch.events, 3.333);
  assert.equal(j.batch.minutes, 2.167);
  assert.equal(j.backtest.relativeErrorEvents, 1.375);
  assert.equal(j.backtest.relativeErrorMinutes, 0.643);
});

test('formatForecastTable: the plan table with the forecast columns', () => {
  const planned = [
    { runId: 'run-a', phaseId: 'p1', phaseIndex: 0, category: 'patch' },
    { runId: 'r\nb', phaseId: 'p2', phaseIndex: 12, category: 'timeout' },
  ];
  const fs = [forecastPhase(POOLS, 'A', 'patch'), forecastPhase(EMPTY, 'x', 'timeout')];
  assert.equal(
    formatForecastTable(planned, fs),
    [
      '  #  run_id  phase_id  index  category  events  minutes  forecast from',
      '  -  ------  --------  -----  --------  ------  -------  -----------------',
      '  1  run-a   p1        0      patch     3.0     1.50     run (2 attempts)',
      '  2  r\\nb    p2        12     timeout   ?       ?        none (no history)',
      '2 phase(s) would be drained',
    ].join('\n'),
  );
  assert.equal(formatForecastTable([], []), 'nothing would be drained');
});
