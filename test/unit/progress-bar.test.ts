import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bar, etaSeconds, fit, formatDuration, renderProgress } from '../../src/cli/progress-bar.js';
import type { Progress } from '../../src/domain/messages.js';

const base: Progress = {
  sessionId: 'batch-drain-20250101-020000',
  status: 'running',
  paused: false,
  stopRequested: false,
  dryRun: false,
  log: { seq: 0, events: [] },
  processed: 4,
  batchSize: 10,
  succeeded: 3,
  failed: 1,
  timeouts: 0,
  telemetryEvents: 12,
  current: null,
  stoppedRuns: {},
  stoppedFingerprints: [],
  startedAt: '2025-01-01T02:00:00.000Z',
  elapsedSeconds: 86.7, // 21.675 s per phase × 6 left = 130 s
  remainingSeconds: null,
  generation: 0,
  stopReason: null,
  recent: [],
  skipped: [],
  planned: [],
  sessionJson: null,
};
const p = (o: Partial<Progress>): Progress => ({ ...base, ...o });
const phase = {
  runId: 'run-a',
  phaseId: 'p-7',
  attempt: 2,
  startedAt: base.startedAt,
  timeoutSeconds: 900,
  runningSeconds: 65,
};

const durations: Array<[number, string]> = [
  [0, '0s'],
  [0.4, '0s'],
  [59.4, '59s'],
  [59.6, '1m00s'],
  [130, '2m10s'],
  [3599, '59m59s'],
  [3600, '1h00m'],
  [3 * 3600 + 5 * 60 + 59, '3h05m'],
  [-1, '?'],
  [Infinity, '?'],
  [NaN, '?'],
];
for (const [s, want] of durations) {
  test(`formatDuration(${s}) = ${want}`, () => assert.equal(formatDuration(s), want));
}

const etas: Array<[string, Partial<Progress>, number | null]> = [
  ['average × remaining', {}, 130.05],
  ['unknown before the first phase', { processed: 0, succeeded: 0, failed: 0 }, null],
  ['zero when the batch is done', { processed: 10 }, 0],
  ['never negative past the batch size', { processed: 12 }, 0],
  ['capped by the time budget', { remainingSeconds: 30 }, 30],
  ['budget larger than the estimate', { remainingSeconds: 600 }, 130.05],
];
for (const [name, o, want] of etas) {
  test(`etaSeconds: ${name}`, () => {
    const got = etaSeconds(p(o));
    if (want === null) assert.equal(got, null);
    else assert.ok(got !== null && Math.abs(got - want) < 1e-6, `${got} ≈ ${want}`);
  });
}

const bars: Array<[number, number, number, string]> = [
  [4, 10, 10, '[####------]'],
  [0, 10, 10, '[----------]'],
  [10, 10, 10, '[##########]'],
  [15, 10, 10, '[##########]'],
  [0, 0, 10, '[----------]'], // zero batch: no division by zero
  [3, 0, 10, '[----------]'],
  [1, 3, 20, '[######--------------]'],
];
for (const [done, total, cells, want] of bars) {
  test(`bar(${done}, ${total}, ${cells}) = ${want}`, () => assert.equal(bar(done, total, cells), want));
}

const renders: Array<[string, Partial<Progress>, number, (string | RegExp)[]]> = [
  [
    'the example line',
    {},
    79,
    [
      '[####------] 4/10  ok 3  fail 1  timeouts 0  events 12  ETA 2m10s',
      /^no phase running/,
      /elapsed 1m27s  running$/,
    ],
  ],
  ['a wide terminal gets a longer bar', {}, 120, [/^\[########------------\] 4\/10 /, /./, /./]],
  [
    'ETA unknown before the first phase',
    { processed: 0, succeeded: 0, failed: 0, elapsedSeconds: 5 },
    79,
    [/^\[----------\] 0\/10 .* ETA \?$/, /./, /./],
  ],
  [
    'zero batch',
    { processed: 0, batchSize: 0, succeeded: 0, failed: 0 },
    79,
    [/^\[----------\] 0\/0 .* ETA \?$/, /./, /./],
  ],
  [
    'the current phase and how long it runs',
    { current: phase },
    100,
    [/./, 'phase run-a / p-7 (attempt 2) running 1m05s of 15m00s', /./],
  ],
  [
    'paused',
    { status: 'paused', paused: true, current: phase },
    100,
    [/ETA paused$/, /^phase run-a/, /PAUSED: no new phase starts until resumed$/],
  ],
  [
    'stopping',
    { status: 'stopping', stopRequested: true },
    100,
    [/ETA after the current phase$/, /./, /STOPPING: ends after the current phase$/],
  ],
  [
    'stop while paused',
    { status: 'stopping', paused: true, stopRequested: true },
    100,
    [/ETA after the current phase$/, /./, /STOPPING/],
  ],
  ['time budget left', { remainingSeconds: 725 }, 100, [/ETA 2m10s$/, /./, /budget left 12m05s/]],
  [
    'completed with its stop reason',
    { status: 'completed', processed: 10, stopReason: 'batch size reached (10)' },
    100,
    [/^\[#{20}\] 10\/10 .* done$/, 'no phase running', /COMPLETED: batch size reached \(10\)$/],
  ],
  [
    'cancelled',
    { status: 'cancelled', stopReason: 'cancelled' },
    100,
    [/ cancelled$/, /./, /CANCELLED: cancelled$/],
  ],
  ['dry run', { dryRun: true }, 100, [/./, /./, /running \(dry run\)$/]],
];
for (const [name, o, width, want] of renders) {
  test(`renderProgress: ${name}`, () => {
    const lines = renderProgress(p(o), width);
    assert.equal(lines.length, want.length);
    want.forEach((w, i) => (typeof w === 'string' ? assert.equal(lines[i], w) : assert.match(lines[i], w)));
    for (const l of lines) assert.ok([...l].length <= width, `"${l}" fits in ${width}`);
  });
}

test('renderProgress: long ids are truncated to the width', () => {
  const long = 'r'.repeat(300);
  const lines = renderProgress(
    p({ sessionId: 's'.repeat(200), current: { ...phase, runId: long, phaseId: 'ü'.repeat(100) } }),
    60,
  );
  for (const l of lines) assert.ok([...l].length <= 60, `${[...l].length} <= 60`);
  assert.match(lines[1], /^phase r+…$/);
  assert.match(lines[2], /^s+…$/);
});

test('renderProgress: a tiny width still yields one character per line', () => {
  for (const l of renderProgress(base, 0)) assert.equal([...l].length, 1);
});

const fits: Array<[string, number, string]> = [
  ['abc', 3, 'abc'],
  ['abcd', 3, 'ab…'],
  ['üüüü', 2, 'ü…'],
  ['', 5, ''],
];
for (const [s, w, want] of fits)
  test(`fit(${JSON.stringify(s)}, ${w}) = ${want}`, () => assert.equal(fit(s, w), want));

test('renderProgress: one line per slot when the session has several', () => {
  const lines = renderProgress(
    p({ current: phase, slots: [phase, null, { ...phase, runId: 'run-b' }] }),
    200,
  );
  assert.equal(lines.length, 5);
  assert.equal(lines[1], 'slot 1: phase run-a / p-7 (attempt 2) running 1m05s of 15m00s');
  assert.equal(lines[2], 'slot 2: no phase running (selecting or waiting)');
  assert.equal(lines[3], 'slot 3: phase run-b / p-7 (attempt 2) running 1m05s of 15m00s');
});

test('renderProgress: one slot (or a session from before slots) shows one phase line', () => {
  for (const slots of [undefined, [phase]]) {
    const lines = renderProgress(p({ current: phase, slots }), 200);
    assert.equal(lines.length, 3);
    assert.equal(lines[1], 'phase run-a / p-7 (attempt 2) running 1m05s of 15m00s');
  }
});
