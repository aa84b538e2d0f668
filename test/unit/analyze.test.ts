/** The pure parts of `drain analyze` (src/domain/analyze.ts), figures computed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildAnalysis,
  fingerprintStatuses,
  formatAnalysis,
  runsWorthAnotherDrain,
  share,
  type AnalyzeTotals,
  type OpenRun,
} from '../../src/domain/analyze.js';

const run = (runId: string, o: Partial<OpenRun>): OpenRun => ({
  runId,
  failed: 1,
  queued: 0,
  stopped: 0,
  attempts: 1,
  events: 1,
  seconds: 60,
  ...o,
});

const worthCases: Array<[string, OpenRun[], string[]]> = [
  [
    'a run every phase of which memory stops is left out',
    [run('r1', { failed: 2, stopped: 2, events: 5 })],
    [],
  ],
  ['one phase not stopped keeps it', [run('r2', { failed: 1, queued: 1, stopped: 1 })], ['r2']],
  ['no telemetry, no place', [run('r4', { events: 0 })], []],
  [
    // r3: 3 ev / 1 min = 3; r2: 10 ev / 5 min = 2; a-run 2 ev / 1 min = 2 (tie: by id); r5 no time: last
    'best yield first, ties by run id, runs without recorded time last',
    [
      run('r5', { events: 4, seconds: 0 }),
      run('r2', { events: 10, seconds: 300 }),
      run('r3', { events: 3, seconds: 60, failed: 0, queued: 1 }),
      run('a-run', { events: 2, seconds: 60 }),
    ],
    ['r3', 'a-run', 'r2', 'r5'],
  ],
];
for (const [name, runs, want] of worthCases) {
  test(`runsWorthAnotherDrain: ${name}`, () => {
    assert.deepEqual(
      runsWorthAnotherDrain(runs).map((r) => r.runId),
      want,
    );
  });
}

test('runsWorthAnotherDrain: the figures of a run', () => {
  assert.deepEqual(
    runsWorthAnotherDrain([
      run('r2', { failed: 2, queued: 1, stopped: 1, attempts: 3, events: 10, seconds: 300 }),
    ]),
    [
      {
        runId: 'r2',
        failed: 2,
        queued: 1,
        stoppedByMemory: 1,
        attempts: 3,
        events: 10,
        minutes: 5,
        yieldPerMinute: 2,
      },
    ],
  );
});

test('share', () => {
  assert.equal(share(3, 4), 0.75);
  assert.equal(share(0, 0), null);
});

test('fingerprintStatuses: stopped when a stop is in force for it', () => {
  const counts = [
    { fingerprint: 'FAILED|rc1|boom', attempts: 3, runs: 2, lastSeen: '2026-01-01T00:00:00.000Z' },
    { fingerprint: 'FAILED|rc2|other', attempts: 1, runs: 1, lastSeen: '2026-01-02T00:00:00.000Z' },
  ];
  const stops = [
    { fingerprint: 'FAILED|rc1|boom', sessionId: 's1', stoppedAt: '2026-01-01T01:00:00.000Z', commit: null },
  ];
  assert.deepEqual(
    fingerprintStatuses(counts, stops).map((f) => [f.fingerprint, f.stoppedByMemory, f.stop]),
    [
      ['FAILED|rc1|boom', true, { sessionId: 's1', stoppedAt: '2026-01-01T01:00:00.000Z' }],
      ['FAILED|rc2|other', false, null],
    ],
  );
});

const TOTALS: AnalyzeTotals = {
  judged: 3,
  withTelemetry: 1,
  events: 10,
  seconds: 200,
  yieldMedian: 0,
  yieldP90: 2 / 3,
  emptyTries: 3,
  emptySeconds: 90,
  tries: 4,
};

test('buildAnalysis: shares, rounding, redaction of text from rows, the run list bounded', () => {
  const openRuns = Array.from({ length: 25 }, (_, i) =>
    run(`run-${String(i).padStart(2, '0')}`, { events: 1 }),
  );
  const a = buildAnalysis({
    scope: { sessionId: null, sinceMs: 7 * 86_400_000 },
    since: '7d',
    commit: null,
    totals: TOTALS,
    fingerprints: [
      { fingerprint: 'FAILED|rc1|PGPASSWORD=hunter22 failed', attempts: 2, runs: 1, lastSeen: 'x' },
    ],
    stops: [],
    openRuns,
  });
  assert.equal(a.telemetryShare, 0.333); // 1 / 3
  assert.equal(a.minutes, 3.333); // 200 s
  assert.deepEqual(a.yieldPerMinute, { median: 0, p90: 0.667 });
  assert.deepEqual(a.emptyAttempts, { tries: 3, minutes: 1.5 });
  assert.equal(a.topFingerprints[0].fingerprint, 'FAILED|rc1|PGPASSWORD=*** failed');
  assert.equal(a.runsWorthAnotherDrain.length, 20);
  assert.equal(a.runsWorthAnotherDrainTotal, 25);
});

test('formatAnalysis: the text report', () => {
  const a = buildAnalysis({
    scope: { sessionId: 's1', sinceMs: null },
    since: null,
    commit: 'abcdef0123456789',
    totals: TOTALS,
    fingerprints: [
      { fingerprint: 'FAILED|rc1|boom', attempts: 2, runs: 1, lastSeen: '2026-01-01T00:00:00.000Z' },
    ],
    stops: [
      {
        fingerprint: 'FAILED|rc1|boom',
        sessionId: 's0',
        stoppedAt: '2026-01-01T01:00:00.000Z',
        commit: 'abcdef0123456789',
      },
    ],
    openRuns: [run('r2', { failed: 2, queued: 1, stopped: 1, attempts: 3, events: 10, seconds: 300 })],
  });
  assert.equal(
    formatAnalysis(a),
    [
      'Analysis of session s1',
      '',
      'Judged attempts: 3; with telemetry: 1 (33.3%); 10 events in 3.3 min',
      'Yield (events/min per judged attempt): median 0.00, P90 0.67',
      'Attempts that produced nothing: 3 tries, 1.5 min',
      '',
      'Top fingerprints (memory checked for commit abcdef012345):',
      '     2× FAILED|rc1|boom',
      '        1 run, last 2026-01-01T00:00:00.000Z; stopped by memory (session s0, 2026-01-01T01:00:00.000Z)',
      '',
      'Runs worth another drain: 1',
      '  r2: 2.00 events/min (10 events in 5.0 min over 3 attempts); 2 FAILED, 1 QUEUED, 1 stopped by memory',
    ].join('\n'),
  );
});
