import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_LOG_KEPT,
  MAX_SKIP_LINES,
  appendEvents,
  emptyLog,
  eventLines,
  linesSince,
  skipEvents,
  type ProgressEvent,
} from '../../src/domain/progress-log.js';
import type { ResultDigest } from '../../src/domain/session-state.js';

const digest = (over: Partial<ResultDigest> = {}): ResultDigest => ({
  runId: 'build130-schema-validation',
  phaseId: 'schema-validation-phase',
  attempt: 1,
  success: true,
  finalState: 'COMPLETE',
  timedOut: false,
  cancelled: false,
  events: 15,
  durationSeconds: 240,
  errorMessage: null,
  ...over,
});

test("progress lines: the guide's example, in order", () => {
  let log = emptyLog();
  log = appendEvents(log, [{ kind: 'select', index: 4, total: 10 }]);
  log = appendEvents(
    log,
    skipEvents([
      {
        runId: 'research-system-v6',
        phaseId: 'research-meta-analysis',
        reason: 'run research-system-v6 has 2 timeouts (limit: 2)',
      },
    ]),
  );
  log = appendEvents(log, [
    {
      kind: 'draining',
      runId: 'build130-schema-validation',
      phaseId: 'schema-validation-phase',
      phaseIndex: 1,
      attempt: 1,
    },
  ]);
  log = appendEvents(log, [{ kind: 'result', digest: digest() }]);
  assert.deepEqual(linesSince(log, 0).lines, [
    '[4/10] Selecting next phase...',
    '  [SKIP] research-system-v6/research-meta-analysis: run research-system-v6 has 2 timeouts (limit: 2)',
    '  Draining: build130-schema-validation / schema-validation-phase (index 1)',
    '  [OK] Success: COMPLETE',
    '    [TELEMETRY] +15 events (3.75/min)',
  ]);
});

const failures: Array<[string, Partial<ResultDigest>, string[]]> = [
  [
    'failure with error',
    { success: false, finalState: 'FAILED', events: 0, errorMessage: 'CI collection/import error' },
    [
      '  [FAIL] Failed: FAILED',
      '    Error: CI collection/import error',
      '    [TELEMETRY] +0 events (0.00/min)',
    ],
  ],
  [
    'timeout',
    {
      success: false,
      timedOut: true,
      finalState: 'EXECUTING',
      events: 0,
      errorMessage: 'phase timed out after 6s',
    },
    [
      '  [TIMEOUT] Failed: EXECUTING',
      '    Error: phase timed out after 6s',
      '    [TELEMETRY] +0 events (0.00/min)',
    ],
  ],
  [
    'zero duration',
    { success: false, finalState: null, events: 0, durationSeconds: 0, errorMessage: null },
    ['  [FAIL] Failed: UNKNOWN', '    [TELEMETRY] +0 events (0.00/min)'],
  ],
];
for (const [name, over, lines] of failures) {
  test(`progress lines: ${name}`, () => {
    const log = appendEvents(emptyLog(), [{ kind: 'result', digest: digest(over) }]);
    assert.deepEqual(linesSince(log, 0).lines, lines);
  });
}

test('progress lines: a follower prints each event once, in order, and resumes where it was', () => {
  let log = appendEvents(emptyLog(), [{ kind: 'select', index: 1, total: 2 }]);
  const a = linesSince(log, 0);
  assert.deepEqual(a.lines, ['[1/2] Selecting next phase...']);
  log = appendEvents(log, [{ kind: 'select', index: 2, total: 2 }]);
  const b = linesSince(log, a.seq);
  assert.deepEqual(b.lines, ['[2/2] Selecting next phase...']);
  assert.deepEqual(linesSince(log, b.seq).lines, []);
});

test('progress lines: the log is bounded and a follower that fell behind is told how much it missed', () => {
  let log = emptyLog();
  for (let i = 1; i <= MAX_LOG_KEPT + 50; i++)
    log = appendEvents(log, [{ kind: 'select', index: i, total: 999 }]);
  assert.equal(log.events.length, MAX_LOG_KEPT);
  const { lines } = linesSince(log, 10);
  assert.equal(lines[0], '  ... 40 earlier progress lines not shown (follower fell behind)');
  assert.equal(lines.length, MAX_LOG_KEPT + 1);
  assert.equal(lines[1], '[51/999] Selecting next phase...');
});

test('progress lines: many skips in one selection become MAX_SKIP_LINES lines and a count', () => {
  const skips = Array.from({ length: MAX_SKIP_LINES + 7 }, (_, i) => ({
    runId: 'r',
    phaseId: `p${i}`,
    reason: 'why',
  }));
  const ev = skipEvents(skips);
  assert.equal(ev.length, MAX_SKIP_LINES + 1);
  const log = appendEvents(emptyLog(), ev);
  assert.equal(linesSince(log, 0).lines.at(-1), '  [SKIP] ... and 7 more phases passed over');
});

test('progress lines: ids, reasons and errors from data stay on one line and cannot drive the terminal', () => {
  const cases: Array<[ProgressEvent, string[]]> = [
    [
      { seq: 1, kind: 'skip', runId: 'r\r', phaseId: 'p\t', reason: 'x\u0000\u001b[2J' },
      ['  [SKIP] r\\r/p\\t: x\\u0000\\u001b[2J'],
    ],
    [
      { seq: 2, kind: 'draining', runId: 'run\nfake', phaseId: 'p\u202e', phaseIndex: 1, attempt: 1 },
      ['  Draining: run\\nfake / p\\u202e (index 1)'],
    ],
    [
      {
        seq: 3,
        kind: 'result',
        digest: digest({ success: false, finalState: 'FAILED\n', errorMessage: 'line1\nline2', events: 0 }),
      },
      ['  [FAIL] Failed: FAILED\\n', '    Error: line1\\nline2', '    [TELEMETRY] +0 events (0.00/min)'],
    ],
  ];
  for (const [event, lines] of cases) assert.deepEqual(eventLines(event), lines);
});

test('progress lines of a session with slots: each line names its slot, a result its phase', () => {
  let log = emptyLog();
  log = appendEvents(log, [{ kind: 'select', index: 1, total: 4, slot: 1 }]);
  log = appendEvents(log, [
    { kind: 'draining', runId: 'r-a', phaseId: 'p0', phaseIndex: 0, attempt: 1, slot: 1 },
  ]);
  log = appendEvents(log, [{ kind: 'select', index: 2, total: 4, slot: 2 }]);
  log = appendEvents(
    log,
    skipEvents([{ runId: 'r-b', phaseId: 'p1', reason: 'run r-b has 2 timeouts' }], { slot: 2 }),
  );
  log = appendEvents(log, [
    { kind: 'result', digest: digest({ runId: 'r-a', phaseId: 'p0', events: 0 }), slot: 1 },
  ]);
  assert.deepEqual(linesSince(log, 0).lines, [
    '[slot 1] [1/4] Selecting next phase...',
    '[slot 1]   Draining: r-a / p0 (index 0)',
    '[slot 2] [2/4] Selecting next phase...',
    '[slot 2]   [SKIP] r-b/p1: run r-b has 2 timeouts',
    '[slot 1]   [OK] Success: COMPLETE (r-a / p0)',
    '[slot 1]     [TELEMETRY] +0 events (0.00/min)',
  ]);
});
