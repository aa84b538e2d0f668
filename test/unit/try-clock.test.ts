/**
 * Progress-aware timeouts: the try clock (go on / extended / stalled / timeout), the maximum
 * capped by the session's budget, the database watch of a running try, and how a stall is
 * judged (its own fingerprint bucket, zero-yield reason, error message, counters).
 */
import { test } from 'node:test';
import { PostgresBacklog } from '../../src/db/backlog.js';
import assert from 'node:assert/strict';
import {
  activeWindowSeconds,
  cappedMaxPhaseTimeout,
  tryClock,
  type TryClockDecision,
  type TryClockInput,
} from '../../src/domain/try-clock.js';
import { parseDrainInput } from '../../src/domain/input.js';
import { newSessionState, recordAttempt } from '../../src/domain/session-state.js';
import { computeFingerprint } from '../../src/domain/fingerprint.js';
import { zeroYieldReason } from '../../src/domain/zero-yield.js';
import { judgeAttempt } from '../../src/domain/judge.js';
import { buildErrorMessage } from '../../src/domain/error-message.js';
import { outcomeFromFacts, type AttemptFacts } from '../../src/domain/attempt-outcome.js';
import { resultLines } from '../../src/domain/progress-log.js';
import { DbChangeWatch, dbWatchIntervalMs } from '../../activities/drain-try.js';
import { stopNote } from '../../activities/drain-env.js';
import type { DrainConfig } from '../../src/domain/types.js';

// ---------------------------------------------------------------------------------------------
// tryClock

interface ClockCase {
  name: string;
  /** elapsed, since output, since db change, base, max, stall */
  at: [number, number, number, number, number | null, number | null];
  expect: TryClockDecision;
}

const GO: TryClockDecision = { kind: 'go-on' };
const clockCases: ClockCase[] = [
  // Neither option: the base timeout alone, as before.
  { name: 'no options, before the timeout', at: [5, 5, 5, 10, null, null], expect: GO },
  {
    name: 'no options, at the timeout',
    at: [10, 0, 0, 10, null, null],
    expect: { kind: 'timeout', limitSeconds: 10, extended: false },
  },
  {
    name: 'no options: silence for an hour is no stall',
    at: [9, 9, 9, 10, null, null],
    expect: GO,
  },
  // --stall-seconds
  {
    name: 'silent and unchanged for the stall time: stalled',
    at: [3, 3, 3, 120, null, 3],
    expect: { kind: 'stalled', stallSeconds: 3, atSeconds: 3 },
  },
  {
    name: 'never wrote, database unchanged since the start: stalled at the stall time',
    at: [3.4, 3.4, 3.4, 120, null, 3],
    expect: { kind: 'stalled', stallSeconds: 3, atSeconds: 3 },
  },
  { name: 'silent but quiet for less than the stall time', at: [2.9, 2.9, 2.9, 120, null, 3], expect: GO },
  {
    name: 'silent, but the database changed recently: not stalled',
    at: [50, 50, 1, 120, null, 3],
    expect: GO,
  },
  { name: 'unchanged database, but recent output: not stalled', at: [50, 0.5, 50, 120, null, 3], expect: GO },
  {
    name: 'quiet again after output: stalled, counted from the last sign of life',
    at: [20, 4, 6, 120, null, 3],
    expect: { kind: 'stalled', stallSeconds: 3, atSeconds: 19 },
  },
  {
    name: 'the base timeout comes before the stall time: a timeout',
    at: [10, 10, 10, 10, null, 30],
    expect: { kind: 'timeout', limitSeconds: 10, extended: false },
  },
  {
    name: 'stall and timeout at the same moment: the stall wins',
    at: [10, 10, 10, 10, null, 10],
    expect: { kind: 'stalled', stallSeconds: 10, atSeconds: 10 },
  },
  {
    name: 'checked late: the timeout came first, the stall later',
    at: [12, 12, 12, 10, null, 11],
    expect: { kind: 'timeout', limitSeconds: 10, extended: false },
  },
  // --max-phase-timeout-seconds (W = min(stall ?? 60, base))
  {
    name: 'chatty at the base timeout: extended',
    at: [3, 0.3, 3, 3, 8, null],
    expect: { kind: 'extended', untilSeconds: 5.7 },
  },
  {
    name: 'chatty past the base timeout: still extended, deadline follows the output',
    at: [6, 0.2, 6, 3, 8, null],
    expect: { kind: 'extended', untilSeconds: 8 },
  },
  {
    name: 'chatty up to the maximum: timed out at the maximum, extended',
    at: [8, 0.1, 8, 3, 8, null],
    expect: { kind: 'timeout', limitSeconds: 8, extended: true },
  },
  {
    name: 'silent at the base timeout: timed out at the base',
    at: [3, 3, 3, 3, 8, null],
    expect: { kind: 'timeout', limitSeconds: 3, extended: false },
  },
  {
    name: 'last output more than W before the base timeout (the database busy): not extended',
    at: [100, 50, 0, 100, 300, 30],
    expect: { kind: 'timeout', limitSeconds: 100, extended: false },
  },
  {
    name: 'last output less than W before the base timeout: extended (W = stall)',
    at: [100, 20, 0, 100, 300, 30],
    expect: { kind: 'extended', untilSeconds: 110 },
  },
  {
    name: 'extended, then quiet for W: timed out where it went quiet plus W',
    at: [131, 31, 0, 100, 300, 30],
    expect: { kind: 'timeout', limitSeconds: 130, extended: true },
  },
  {
    name: 'database changes alone do not extend',
    at: [10, 10, 0, 10, 60, null],
    expect: { kind: 'timeout', limitSeconds: 10, extended: false },
  },
  {
    name: 'max equal to the base: no extension',
    at: [10, 0, 0, 10, 10, null],
    expect: { kind: 'timeout', limitSeconds: 10, extended: false },
  },
  {
    name: 'extended and stalled (W = stall): the stall is decided first',
    at: [13, 3, 3, 10, 60, 3],
    expect: { kind: 'stalled', stallSeconds: 3, atSeconds: 13 },
  },
  {
    name: 'a clock skew (output "in the future") counts as output now',
    at: [5, -2, 5, 5, 20, null],
    expect: { kind: 'extended', untilSeconds: 10 },
  },
];

for (const c of clockCases) {
  test(`tryClock: ${c.name}`, () => {
    const [elapsedSeconds, sinceOutputSeconds, sinceDbChangeSeconds, base, max, stall] = c.at;
    const input: TryClockInput = {
      elapsedSeconds,
      sinceOutputSeconds,
      sinceDbChangeSeconds,
      baseTimeoutSeconds: base,
      maxTimeoutSeconds: max,
      stallSeconds: stall,
    };
    assert.deepEqual(tryClock(input), c.expect);
  });
}

test('activeWindowSeconds: min(stall ?? 60, base)', () => {
  assert.equal(activeWindowSeconds(900, null), 60);
  assert.equal(activeWindowSeconds(900, 120), 120);
  assert.equal(activeWindowSeconds(3, null), 3);
  assert.equal(activeWindowSeconds(3, 10), 3);
});

test('a chatty executor polled every 0.2 s runs from its base timeout to its maximum, never past it', () => {
  let last: TryClockDecision = GO;
  let t = 0;
  for (; t <= 60; t = Math.round((t + 0.2) * 10) / 10) {
    const sinceOutput = t % 0.3; // a line every 0.3 s
    last = tryClock({
      elapsedSeconds: t,
      sinceOutputSeconds: sinceOutput,
      sinceDbChangeSeconds: t,
      baseTimeoutSeconds: 3,
      maxTimeoutSeconds: 8,
      stallSeconds: null,
    });
    if (t > 3 && t < 8) assert.equal(last.kind, 'extended', `at ${t}s`);
    if (last.kind === 'timeout' || last.kind === 'stalled') break;
  }
  assert.deepEqual(last, { kind: 'timeout', limitSeconds: 8, extended: true });
  assert.equal(t, 8);
});

// ---------------------------------------------------------------------------------------------
// cappedMaxPhaseTimeout

const T0 = Date.parse('2026-01-01T00:00:00Z');
const cfg = (over: Partial<DrainConfig>): DrainConfig => parseDrainInput(over);

test('cappedMaxPhaseTimeout: null without a maximum', () => {
  const c = cfg({ phaseTimeoutSeconds: 30 });
  assert.equal(cappedMaxPhaseTimeout(newSessionState('s', T0, c), c, T0), null);
});

test('cappedMaxPhaseTimeout: the maximum, capped by the time left, never below the capped base', () => {
  const c = cfg({ phaseTimeoutSeconds: 30, maxPhaseTimeoutSeconds: 300, maxTotalMinutes: 10 });
  const s = newSessionState('s', T0, c);
  assert.equal(cappedMaxPhaseTimeout(s, c, T0), 300);
  assert.equal(cappedMaxPhaseTimeout(s, c, T0 + 8 * 60_000), 120, 'two minutes left');
  assert.equal(cappedMaxPhaseTimeout(s, c, T0 + 9.9 * 60_000), 6, 'six seconds left: base = max = 6');
  assert.equal(cappedMaxPhaseTimeout(s, c, T0 + 11 * 60_000), 1, 'past the deadline: 1 (as the base)');
  const unlimited = cfg({ phaseTimeoutSeconds: 30, maxPhaseTimeoutSeconds: 300 });
  assert.equal(cappedMaxPhaseTimeout(newSessionState('s', T0, unlimited), unlimited, T0 + 1e9), 300);
});

// ---------------------------------------------------------------------------------------------
// The database watch of a running try

function fakePool(read: () => { state: string; reason: string | null; updated: number; est: number }) {
  let fail = false;
  const pool = {
    set fail(v: boolean) {
      fail = v;
    },
    query(sql: string) {
      if (fail)
        return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
      const r = read();
      if (sql.includes('FROM phases')) {
        return Promise.resolve({
          rows: [
            {
              run_id: 'r',
              phase_id: 'p',
              state: r.state,
              last_failure_reason: r.reason,
              updated_at: new Date(r.updated),
            },
          ],
        });
      }
      // The telemetry counts: countTelemetry's columns and countPhaseTelemetry's sum.
      return Promise.resolve({
        rows: [{ est: String(r.est), esc: '0', global: String(r.est + 100), n: String(r.est) }],
      });
    },
  };
  return pool;
}

/** A PostgreSQL backlog over the fake pool: its reads are the real statement functions. */
const fakeBacklog = (pool: unknown) =>
  new PostgresBacklog({ kind: 'postgres', url: 'postgres://fake/db' }, pool as never);

test('DbChangeWatch: the phase row or its telemetry changing resets the known-quiet time', async () => {
  const row = { state: 'EXECUTING', reason: null as string | null, updated: 1000, est: 4 };
  const pool = fakePool(() => row);
  const start = Date.now();
  const watch = new DbChangeWatch(
    { backlog: fakeBacklog(pool) },
    { runId: 'r', phaseId: 'p' },
    {
      initial: {
        run_id: 'r',
        phase_id: 'p',
        state: 'EXECUTING',
        last_failure_reason: null,
        updated_at: new Date(1000),
      },
      before: { phase: 4, global: 104, byTable: {} },
    },
    start - 5000, // the try started 5 s ago
  );
  assert.equal(watch.quietSeconds(), 0, 'nothing known before the first read');
  await watch.check();
  assert.ok(watch.quietSeconds() >= 5, `unchanged for 5 s (${watch.quietSeconds()})`);

  row.updated = 2000; // updated_at moved
  await watch.check();
  assert.ok(watch.quietSeconds() < 1, 'a row change is a sign of life');

  const w2 = new DbChangeWatch(
    { backlog: fakeBacklog(pool) },
    { runId: 'r', phaseId: 'p' },
    {
      initial: {
        run_id: 'r',
        phase_id: 'p',
        state: 'EXECUTING',
        last_failure_reason: null,
        updated_at: new Date(2000),
      },
      before: { phase: 4, global: 104, byTable: {} },
    },
    start - 5000,
  );
  row.est = 5; // a telemetry row for the phase
  await w2.check();
  assert.ok(w2.quietSeconds() < 1, 'a telemetry row is a sign of life');

  // The database away: nothing learned; the known-quiet time does not grow.
  const w3 = new DbChangeWatch(
    { backlog: fakeBacklog(pool) },
    { runId: 'r', phaseId: 'p' },
    {
      initial: {
        run_id: 'r',
        phase_id: 'p',
        state: 'EXECUTING',
        last_failure_reason: null,
        updated_at: new Date(2000),
      },
      before: { phase: 5, global: 105, byTable: {} },
    },
    start - 5000,
  );
  pool.fail = true;
  await w3.check();
  assert.equal(w3.quietSeconds(), 0);
});

test('dbWatchIntervalMs: four reads per stall window, never slower than the heartbeat, at most 4/s', () => {
  assert.equal(dbWatchIntervalMs(5000, 3), 750);
  assert.equal(dbWatchIntervalMs(5000, 600), 5000);
  assert.equal(dbWatchIntervalMs(1000, 3), 750);
  assert.equal(dbWatchIntervalMs(5000, 0.5), 250);
});

// ---------------------------------------------------------------------------------------------
// How a stall is judged

test('a stall has its own fingerprint bucket; a plain timeout keeps TIMEOUT|timeout', () => {
  const base = {
    success: false,
    finalState: 'EXECUTING',
    returnCode: null,
    signal: 'SIGTERM',
    errorMessage: null,
  };
  assert.equal(computeFingerprint({ ...base, timedOut: true, stalled: true }), 'STALLED|stalled');
  assert.equal(computeFingerprint({ ...base, timedOut: true }), 'TIMEOUT|timeout');
  assert.match(
    computeFingerprint({ ...base, timedOut: true, stalled: true, errorMessage: 'phase stalled: x' })!,
    /^STALLED\|stalled\|/,
  );
});

test("zero-yield reason 'stalled' before 'timeout'; none when it produced telemetry", () => {
  const z = {
    events: 0,
    success: false,
    timedOut: true,
    llmBoundaryHit: false,
    returnCode: null,
    finalState: 'EXECUTING',
    lastFailureReason: null,
  };
  assert.equal(zeroYieldReason({ ...z, stalled: true }), 'stalled');
  assert.equal(zeroYieldReason(z), 'timeout');
  assert.equal(zeroYieldReason({ ...z, stalled: true, events: 2 }), null);
});

test('error messages: stalled, and a timeout after running past the base timeout', () => {
  const e = {
    success: false,
    finalState: 'EXECUTING',
    lastFailureReason: null,
    returnCode: null,
    signal: 'SIGTERM',
    timedOut: true,
    timeoutSeconds: 120,
    stdoutPath: '/l/out.txt',
    stderrPath: '/l/err.txt',
    stdoutBytes: 0,
    stderrBytes: 0,
  };
  assert.equal(
    buildErrorMessage({ ...e, stalled: true, stallSeconds: 3 }),
    'phase stalled: no output and no database change for 3s (no failure reason recorded; killed by SIGTERM; final state EXECUTING; stderr: /l/err.txt (empty); stdout: /l/out.txt (empty))',
  );
  assert.match(
    buildErrorMessage({ ...e, timeoutSeconds: 3, extendedToSeconds: 8 })!,
    /^phase timed out after 8s \(ran past its 3s timeout while writing output\) \(no failure reason/,
  );
  assert.match(buildErrorMessage(e)!, /^phase timed out after 120s \(no failure reason/);
});

const facts = (over: Partial<AttemptFacts> = {}): AttemptFacts => ({
  runId: 'r',
  phaseId: 'p',
  attempt: 1,
  timeoutSeconds: 120,
  stallSeconds: 3,
  initialState: 'FAILED',
  final: { state: 'EXECUTING', lastFailureReason: null },
  exit: {
    returnCode: null,
    signal: 'SIGTERM',
    timedOut: true,
    stalled: true,
    cancelled: false,
    durationSeconds: 3.3,
  },
  elapsedSeconds: 3.3,
  reconciled: false,
  spawnError: null,
  outputCapped: null,
  logs: {
    stdoutPath: '/o',
    stderrPath: '/e',
    stdoutExcerpt: '',
    stderrExcerpt: '',
    stdoutBytes: 0,
    stderrBytes: 0,
  },
  llmBoundaryHit: false,
  telemetryEvents: 0,
  telemetryGlobalDelta: 0,
  telemetryByTable: {},
  runCountsBefore: null,
  runCountsAfter: null,
  phaseChanged: false,
  interruptedTries: 0,
  processesReaped: 0,
  unjudged: null,
  startedAt: 't0',
  finishedAt: 't1',
  workerIdentity: 'w',
  baselineCommit: null,
  ...over,
});

test('a stalled outcome: a failed timeout that is stalled, judged into its own bucket', () => {
  const o = outcomeFromFacts(facts());
  assert.equal(o.stalled, true);
  assert.equal(o.timedOut, true);
  assert.equal(o.success, false);
  assert.match(o.errorMessage!, /^phase stalled: no output and no database change for 3s/);
  const v = judgeAttempt(o);
  assert.match(v.fingerprint!, /^STALLED\|stalled\|/);
  assert.equal(v.zeroYieldReason, 'stalled');
  assert.equal(v.category, 'timeout');
});

test('outcomes without a stall carry no stalled field (recorded histories and rows parse alike)', () => {
  const exit = {
    returnCode: null,
    signal: 'SIGTERM',
    timedOut: true,
    cancelled: false,
    durationSeconds: 120,
  };
  const o = outcomeFromFacts(facts({ exit }));
  assert.equal('stalled' in o, false);
  assert.match(judgeAttempt(o).fingerprint!, /^TIMEOUT\|timeout\|/);
  assert.equal(judgeAttempt(o).zeroYieldReason, 'timeout');
});

test('a stall counts as a timeout (maxTimeoutsPerRun) and is counted as stalled; the progress line says so', () => {
  const config = parseDrainInput({ maxTimeoutsPerRun: 2, stallSeconds: 3 });
  let s = newSessionState('s', T0, config);
  const stalled = outcomeFromFacts(facts());
  s = recordAttempt(s, stalled, judgeAttempt(stalled), config);
  assert.equal(s.timeouts, 1);
  assert.equal(s.stalled, 1);
  assert.equal(s.zeroYield.stalled, 1);
  assert.equal(s.recent[0].stalled, true);
  assert.deepEqual(resultLines(s.recent[0]).slice(0, 1), ['  [STALLED] Failed: EXECUTING']);
  const plain = outcomeFromFacts(
    facts({
      phaseId: 'p2',
      exit: { returnCode: null, signal: 'SIGTERM', timedOut: true, cancelled: false, durationSeconds: 120 },
    }),
  );
  s = recordAttempt(s, plain, judgeAttempt(plain), config);
  assert.equal(s.timeouts, 2);
  assert.equal(s.stalled, 1);
  assert.match(s.stoppedRuns.r, /2 timeouts \(limit: 2\)/);
});

test('the log trailer says how the clock stopped the executor', () => {
  const req = { timeoutSeconds: 3, stallSeconds: 5 };
  assert.equal(
    stopNote(req, { timedOut: true, stalled: true, extendedToSeconds: null }),
    'stalled: no output and no database change for 5s',
  );
  assert.equal(
    stopNote(req, { timedOut: true, stalled: false, extendedToSeconds: 8 }),
    'timed out after 8s (ran past its 3s timeout while writing output)',
  );
  assert.equal(
    stopNote(req, { timedOut: true, stalled: false, extendedToSeconds: null }),
    'timed out after 3s',
  );
  assert.equal(stopNote(req, { timedOut: false, stalled: false, extendedToSeconds: null }), null);
});
