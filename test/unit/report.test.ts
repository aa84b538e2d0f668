import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDrainInput } from '../../src/domain/input.js';
import { newSessionState } from '../../src/domain/session-state.js';

import type { AttemptRow } from '../../src/db/attempts.js';
import type { SessionState } from '../../src/domain/session-state.js';
import type { DrainConfig } from '../../src/domain/types.js';
import {
  buildSessionJson,
  drainResultJson,
  formatPlan,
  formatSummary,
  snapshotOf,
  type DrainResultJson,
  type SessionJson,
} from '../../src/domain/report.js';

// ---------------------------------------------------------------------------------------
// Fixtures.

const CONFIG: DrainConfig = { ...parseDrainInput({}), continueAsNewAfterEvents: 10_000 };

function state(over: Partial<SessionState> = {}): SessionState {
  const fresh = newSessionState('batch-drain-20251228-060007', Date.parse('2025-12-28T06:00:07Z'), CONFIG);
  return { ...fresh, startedAt: '2025-12-28T06:00:07+00:00', ...over };
}

let nextId = 1;
function row(over: Partial<AttemptRow> = {}): AttemptRow {
  return {
    id: String(nextId++),
    session_id: 'batch-drain-20251228-060007',
    exec_run_id: 'run-1',
    run_id: 'run-a',
    phase_id: 'phase-1',
    attempt: 1,
    try: 1,
    status: 'finished',
    initial_state: 'FAILED',
    final_state: 'FAILED',
    success: false,
    return_code: 1,
    signal: null,
    timed_out: false,
    duration_seconds: 60,
    stdout_path: '/logs/a.stdout.txt',
    stderr_path: '/logs/a.stderr.txt',
    stdout_excerpt: '',
    stderr_excerpt: 'boom',
    stdout_bytes: '0',
    stderr_bytes: '4',
    error_message: 'CI collection/import error',
    last_failure_reason: 'CI collection/import error',
    fingerprint: 'FAILED|rc1|ci collection/import error',
    failure_category: 'collection',
    telemetry_events: 0,
    telemetry_global_delta: 0,
    yield_per_minute: null,
    llm_boundary_hit: false,
    zero_yield_reason: 'failed_before_llm',
    baseline_commit: null,
    worker_identity: 'worker@host',
    pid: 1234,
    started_at: new Date('2025-12-28T06:00:10Z'),
    finished_at: new Date('2025-12-28T06:01:10Z'),
    run_counts_before: null,
    run_counts_after: null,
    telemetry_by_table: null,
    phase_changed: null,
    interrupted_tries: 0,
    outcome: null,
    processes_reaped: null,
    phase_updated_before: null,
    tag: null,
    ...over,
  };
}

const ok = (over: Partial<AttemptRow>): AttemptRow =>
  row({
    success: true,
    final_state: 'COMPLETE',
    return_code: 0,
    error_message: null,
    fingerprint: null,
    zero_yield_reason: null,
    ...over,
  });
const timeout = (over: Partial<AttemptRow>): AttemptRow =>
  row({
    timed_out: true,
    return_code: null,
    signal: 'SIGKILL',
    zero_yield_reason: 'timeout',
    duration_seconds: 900,
    ...over,
  });

function build(
  over: Partial<SessionState>,
  attempts: AttemptRow[] = [],
  extra: Partial<Parameters<typeof buildSessionJson>[0]> = {},
): SessionJson {
  return buildSessionJson({
    snapshot: snapshotOf(state(over)),
    config: CONFIG,
    attempts,
    status: 'completed',
    completedAt: '2025-12-28T06:15:32+00:00',
    ...extra,
  });
}

/** The reference's example session: 10 processed, 3 ok, 7 failed, 2 timeouts, 27 events. */
function referenceSession(): SessionJson {
  const B = 'build130-schema-validation';
  const V4 = 'research-system-v4';
  const V6 = 'research-system-v6';
  const rows = [
    ok({ run_id: B, phase_id: 'p1', telemetry_events: 15, yield_per_minute: 3.75 }),
    ok({ run_id: B, phase_id: 'p2', telemetry_events: 7 }),
    row({ run_id: B, phase_id: 'p3' }),
    timeout({ run_id: V4, phase_id: 'a' }),
    timeout({ run_id: V4, phase_id: 'b' }),
    row({ run_id: V4, phase_id: 'c' }),
    row({ run_id: V4, phase_id: 'd' }),
    row({ run_id: V6, phase_id: 'x' }),
    ok({ run_id: V6, phase_id: 'y', telemetry_events: 5 }),
    row({ run_id: V6, phase_id: 'z' }),
  ];
  return build(
    {
      processed: 10,
      succeeded: 3,
      failed: 7,
      timeouts: 2,
      telemetryEvents: 27,
      drainSeconds: 661.2,
      fingerprintCounts: { f1: 3, f2: 3, f3: 1, f4: 1, f5: 2 },
      stoppedFingerprints: ['f1', 'f2'],
      stoppedRuns: { [V6]: 'fingerprint repeated 3x', [V4]: '' },
    },
    rows,
  );
}

const REFERENCE_SUMMARY = `================================================================================
BATCH DRAIN SUMMARY
================================================================================
Session ID: batch-drain-20251228-060007
Started: 2025-12-28T06:00:07+00:00
Completed: 2025-12-28T06:15:32+00:00

Total Processed: 10
  [OK] Succeeded: 3
  [FAIL] Failed: 7
  [TIMEOUT] Timeouts: 2
Success Rate: 30.0%

Telemetry Collection:
  Total Events: 27
  Overall Yield: 2.45 events/minute

LLM Boundary Hits: 0

Stop Conditions:
  Stopped Runs: 2
    - research-system-v4
    - research-system-v6 — fingerprint repeated 3x
  Unique Fingerprints: 5
  Repeat Limit Hits: 2

Results by Run:
--------------------------------------------------------------------------------
  build130-schema-validation: 2/3 succeeded, 0 timeouts, 22 events
  research-system-v4 [STOPPED]: 0/4 succeeded, 2 timeouts, 0 events
  research-system-v6 [STOPPED]: 1/3 succeeded, 0 timeouts, 5 events`;

/** Deep-equal after a JSON round trip, and no lossy values anywhere. */
function assertPlainJson(j: unknown): void {
  const text = JSON.stringify(j);
  assert.deepStrictEqual(JSON.parse(text), j);
  const walk = (v: unknown): void => {
    if (typeof v === 'number') assert.ok(Number.isFinite(v), `non-finite number ${v}`);
    else if (v === undefined) assert.fail('undefined value');
    else if (v && typeof v === 'object') {
      assert.ok(Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype, `not plain: ${String(v)}`);
      for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
    }
  };
  walk(j);
}

// ---------------------------------------------------------------------------------------

describe('snapshotOf', () => {
  it('drops attempts, done and recent, keeps the rest', () => {
    const s = state({ attempts: { k: 1 }, done: ['k'], processed: 4 });
    const snap = snapshotOf(s);
    assert.ok(!('attempts' in snap) && !('done' in snap) && !('recent' in snap));
    assert.equal(snap.processed, 4);
    assert.equal(snap.sessionId, s.sessionId);
  });
});

describe('drainResultJson', () => {
  it('has exactly the DrainResult fields plus ours', () => {
    assert.deepStrictEqual(Object.keys(drainResultJson(row())).sort(), [
      'attempt',
      'baseline_commit',
      'error_message',
      'failure_category',
      'failure_fingerprint',
      'final_state',
      'finished_at',
      'initial_state',
      'last_failure_reason',
      'llm_boundary_hit',
      'phase_id',
      'run_id',
      'signal',
      'status',
      'stderr_bytes',
      'stdout_bytes',
      'subprocess_duration_seconds',
      'subprocess_returncode',
      'subprocess_stderr_excerpt',
      'subprocess_stderr_path',
      'subprocess_stdout_excerpt',
      'subprocess_stdout_path',
      'success',
      'telemetry_events_collected',
      'telemetry_global_delta',
      'telemetry_yield_per_minute',
      'timed_out',
      'timestamp',
      'try',
      'worker_identity',
      'zero_yield_reason',
    ]);
  });

  const cases: { name: string; over: Record<string, unknown>; expect: Partial<DrainResultJson> }[] = [
    {
      name: 'bigint strings become numbers',
      over: { stdout_bytes: '9007199254740991', stderr_bytes: '12' },
      expect: { stdout_bytes: 9007199254740991, stderr_bytes: 12 },
    },
    {
      name: 'numeric strings from pg',
      over: { duration_seconds: '12.5', telemetry_events: '3', attempt: '2', try: '3', return_code: '-9' },
      expect: {
        subprocess_duration_seconds: 12.5,
        telemetry_events_collected: 3,
        attempt: 2,
        try: 3,
        subprocess_returncode: -9,
      },
    },
    {
      name: 'null stays null',
      over: {
        return_code: null,
        duration_seconds: null,
        stdout_bytes: null,
        telemetry_events: null,
        yield_per_minute: null,
      },
      expect: {
        subprocess_returncode: null,
        subprocess_duration_seconds: null,
        stdout_bytes: null,
        telemetry_events_collected: null,
        telemetry_yield_per_minute: null,
      },
    },
    {
      name: 'garbage and non-finite become null',
      over: {
        stdout_bytes: 'abc',
        duration_seconds: Number.NaN,
        yield_per_minute: Infinity,
        stderr_bytes: '',
      },
      expect: {
        stdout_bytes: null,
        subprocess_duration_seconds: null,
        telemetry_yield_per_minute: null,
        stderr_bytes: null,
      },
    },
    {
      name: 'dates become ISO, finished_at may be null',
      over: { started_at: new Date('2025-01-02T03:04:05.678Z'), finished_at: null },
      expect: { timestamp: '2025-01-02T03:04:05.678Z', finished_at: null },
    },
    {
      name: 'dates already serialised (activity payload) pass through',
      over: { started_at: '2025-01-02T03:04:05.000Z', finished_at: '2025-01-02T03:05:05.000Z' },
      expect: { timestamp: '2025-01-02T03:04:05.000Z', finished_at: '2025-01-02T03:05:05.000Z' },
    },
    {
      name: 'invalid date becomes null',
      over: { finished_at: new Date('nope') },
      expect: { finished_at: null },
    },
    {
      name: 'null booleans become false',
      over: { success: null, llm_boundary_hit: null },
      expect: { success: false, llm_boundary_hit: false },
    },
    {
      name: 'columns renamed',
      over: {
        fingerprint: 'fp',
        return_code: 143,
        stdout_path: '/o',
        stderr_excerpt: 'e',
        yield_per_minute: 3.75,
      },
      expect: {
        failure_fingerprint: 'fp',
        subprocess_returncode: 143,
        subprocess_stdout_path: '/o',
        subprocess_stderr_excerpt: 'e',
        telemetry_yield_per_minute: 3.75,
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = drainResultJson(row(c.over as Partial<AttemptRow>));
      for (const [k, v] of Object.entries(c.expect))
        assert.deepStrictEqual(r[k as keyof DrainResultJson], v, k);
      assertPlainJson(r);
    });
  }
});

describe('buildSessionJson', () => {
  it('reference example totals', () => {
    const j = referenceSession();
    assert.equal(j.total_processed, 10);
    assert.equal(j.total_success, 3);
    assert.equal(j.total_failed, 7);
    assert.equal(j.total_timeouts, 2);
    assert.equal(j.total_telemetry_events, 27);
    assert.equal(j.overall_yield_per_minute, 2.45);
    assert.equal(j.batch_size, 10);
    assert.deepStrictEqual(j.stopped_runs, ['research-system-v4', 'research-system-v6']);
    assert.equal(j.results.length, 10);
    assertPlainJson(j);
  });

  it('empty session', () => {
    const j = build({}, [], { status: 'running', completedAt: null });
    assert.equal(j.total_processed, 0);
    assert.equal(j.overall_yield_per_minute, null);
    assert.equal(j.completed_at, null);
    assert.deepStrictEqual(j.results, []);
    assert.deepStrictEqual(j.interrupted_attempts, []);
    assert.deepStrictEqual(j.fingerprint_counts, {});
    assert.deepStrictEqual(j.stopped_runs, []);
    assert.deepStrictEqual(j.stopped_run_reasons, {});
    assert.equal(j.db, null);
    assert.ok(!('planned' in j));
    assert.deepStrictEqual(j.config, CONFIG);
    assertPlainJson(j);
  });

  it('zero events with drain time yields 0, not null', () => {
    assert.equal(build({ processed: 1, drainSeconds: 30 }).overall_yield_per_minute, 0);
  });

  it('set-like arrays are deduplicated; Sets and Maps never leak', () => {
    const snap = state({
      sampledRuns: ['r1', 'r2', 'r1'],
      promisingRuns: new Set(['r2', 'r2']) as unknown as string[],
      deprioritizedRuns: ['r1', 'r1'],
      stoppedFingerprints: ['f', 'f', 'g'],
    });
    const weirdConfig = {
      ...CONFIG,
      skipRunPrefixes: new Set(['x-']) as unknown as string[],
      extra: new Map([['k', 1]]),
    };
    const j = buildSessionJson({
      snapshot: snapshotOf(snap),
      config: weirdConfig,
      attempts: [],
      status: 'completed',
      completedAt: null,
    });
    assert.deepStrictEqual(j.sampled_runs, ['r1', 'r2']);
    assert.deepStrictEqual(j.promising_runs, ['r2']);
    assert.deepStrictEqual(j.deprioritized_runs, ['r1']);
    assert.deepStrictEqual(j.stopped_fingerprints, ['f', 'g']);
    assert.deepStrictEqual(j.config.skipRunPrefixes, ['x-']);
    assert.deepStrictEqual((j.config as unknown as Record<string, unknown>).extra, { k: 1 });
    assertPlainJson(j);
  });

  it('no lossy values: NaN, Infinity, undefined, bigint, Date are normalised', () => {
    const cfg = {
      ...CONFIG,
      maxTotalMinutes: Infinity,
      apiUrl: undefined,
      killGraceSeconds: Number.NaN,
      big: 12n,
      when: new Date(0),
    } as unknown as DrainConfig;
    const j = build(
      {
        drainSeconds: Number.NaN,
        telemetryEvents: Infinity,
        zeroYield: { timeout: Number.NaN, unknown: 2 },
        fingerprintCounts: { a: 1, b: Infinity },
      },
      [row({ duration_seconds: Infinity, stdout_bytes: '1e400' })],
      { config: cfg },
    );
    const out = j.config as unknown as Record<string, unknown>;
    assert.equal(out.maxTotalMinutes, null);
    assert.ok(!('apiUrl' in out));
    assert.equal(out.killGraceSeconds, null);
    assert.equal(out.big, 12);
    assert.equal(out.when, '1970-01-01T00:00:00.000Z');
    assert.equal(j.overall_yield_per_minute, null);
    assert.deepStrictEqual(j.zero_yield_reasons, { unknown: 2 });
    assert.deepStrictEqual(j.fingerprint_counts, { a: 1 });
    assert.equal(j.results[0].subprocess_duration_seconds, null);
    assert.equal(j.results[0].stdout_bytes, null);
    assertPlainJson(j);
  });

  it('interrupted and running tries are separated from results', () => {
    const rows = [
      row({ phase_id: 'p', try: 1, status: 'interrupted', error_message: 'worker died' }),
      row({ phase_id: 'p', try: 2, status: 'reconciled' }),
      row({ phase_id: 'q', status: 'cancelled' }),
      row({ phase_id: 'r', status: 'running', finished_at: null, success: null }),
    ];
    const j = build({}, rows, { status: 'running', completedAt: null });
    assert.deepStrictEqual(
      j.results.map((r) => [r.phase_id, r.try, r.status]),
      [
        ['p', 2, 'reconciled'],
        ['q', 1, 'cancelled'],
      ],
    );
    assert.deepStrictEqual(
      j.interrupted_attempts.map((r) => [r.phase_id, r.try]),
      [['p', 1]],
    );
    assert.deepStrictEqual(
      j.in_progress.map((r) => r.phase_id),
      ['r'],
    );
    assertPlainJson(j);
  });

  it('stopped runs: sorted ids plus reasons, odd keys stay data', () => {
    const j = build({
      stoppedRuns: { zeta: 'z', '10': 'ten', ['__proto__']: 'p', constructor: 'c' } as Record<string, string>,
    });
    assert.deepStrictEqual(j.stopped_runs, ['10', '__proto__', 'constructor', 'zeta']);
    assert.deepStrictEqual(Object.keys(j.stopped_run_reasons).sort(), [
      '10',
      '__proto__',
      'constructor',
      'zeta',
    ]);
    assert.equal(Object.getPrototypeOf(j.stopped_run_reasons), Object.prototype);
    assertPlainJson(j);
  });

  it('planned only when present; skipped and db identity carried', () => {
    const j = build(
      {
        planned: [{ runId: 'r', phaseId: 'p', phaseIndex: 3, category: 'patch' }],
        skipped: [{ runId: 'r', phaseId: 'q', reason: 'phase already attempted 2 times (limit: 2)' }],
      },
      [],
      { dbIdentity: { url: 'postgres://localhost/autopack', runs: 4, phases: 17 } },
    );
    assert.deepStrictEqual(j.planned, [{ run_id: 'r', phase_id: 'p', phase_index: 3, category: 'patch' }]);
    assert.deepStrictEqual(j.skipped, [
      { run_id: 'r', phase_id: 'q', reason: 'phase already attempted 2 times (limit: 2)' },
    ]);
    assert.deepStrictEqual(j.db, { url: 'postgres://localhost/autopack', runs: 4, phases: 17 });
    assertPlainJson(j);
  });
});

describe('formatSummary', () => {
  it("reproduces the reference's block", () => {
    assert.equal(formatSummary(referenceSession()), REFERENCE_SUMMARY);
  });

  it('empty session: n/a rate and yield, no runs', () => {
    const text = formatSummary(build({}, [], { status: 'running', completedAt: null }));
    const lines = text.split('\n');
    assert.ok(lines.includes('Completed: In progress'));
    assert.ok(lines.includes('Success Rate: n/a'));
    assert.ok(lines.includes('  Overall Yield: n/a'));
    assert.ok(lines.includes('  Stopped Runs: 0'));
    assert.ok(!text.includes('Zero-Yield Breakdown'));
    assert.equal(lines.at(-1), '-'.repeat(80));
    assert.equal(lines[0], '='.repeat(80));
  });

  it('zero-yield breakdown by count, boundary hits, stop reason, cancelled/interrupted counts', () => {
    const j = build(
      {
        processed: 3,
        succeeded: 1,
        failed: 2,
        cancelled: 1,
        llmBoundaryHits: 1,
        zeroYield: { timeout: 1, failed_before_llm: 2, unknown: 0 },
        stopReason: 'batch size reached',
      },
      [row({ status: 'interrupted' }), row({ phase_id: 'b' })],
      { status: 'cancelled' },
    );
    const text = formatSummary(j);
    assert.ok(
      text.includes(
        '\n\nZero-Yield Breakdown:\n  failed_before_llm: 2\n  timeout: 1\n\nLLM Boundary Hits: 1\n\nStop Conditions:',
      ),
    );
    assert.ok(text.includes('Completed: 2025-12-28T06:15:32+00:00 (cancelled)'));
    assert.ok(
      text.includes('  [CANCELLED] Cancelled: 1\n  [INTERRUPTED] Interrupted tries: 1\nSuccess Rate: 33.3%'),
    );
    assert.ok(text.includes('  Stop Reason: batch size reached\n'));
    assert.ok(text.endsWith('  run-a: 0/1 succeeded, 0 timeouts, 0 events'));
  });

  it('runs sorted by id with the stopped marker; odd unicode ids stay on one line', () => {
    const ids = [
      'zz',
      'émile',
      '日本語-run',
      'run\u{1F680}',
      'a\nb',
      'rtl\u202Eevil',
      'constructor',
      '__proto__',
      'B',
    ];
    const j = build(
      { stoppedRuns: { 'a\nb': 'multi\nline reason', constructor: '' } },
      ids.map((id) => ok({ run_id: id, telemetry_events: 1 })),
    );
    const text = formatSummary(j);
    const lines = text.split('\n');
    const runLines = lines.slice(lines.indexOf('-'.repeat(80)) + 1);
    assert.deepStrictEqual(runLines, [
      '  B: 1/1 succeeded, 0 timeouts, 1 events',
      '  __proto__: 1/1 succeeded, 0 timeouts, 1 events',
      '  a\\nb [STOPPED]: 1/1 succeeded, 0 timeouts, 1 events',
      '  constructor [STOPPED]: 1/1 succeeded, 0 timeouts, 1 events',
      '  rtl\\u202eevil: 1/1 succeeded, 0 timeouts, 1 events',
      '  run\u{1F680}: 1/1 succeeded, 0 timeouts, 1 events',
      '  zz: 1/1 succeeded, 0 timeouts, 1 events',
      '  émile: 1/1 succeeded, 0 timeouts, 1 events',
      '  日本語-run: 1/1 succeeded, 0 timeouts, 1 events',
    ]);
    assert.ok(lines.includes('    - a\\nb — multi\\nline reason'));
    assert.ok(lines.includes('    - constructor'));
  });
});

describe('formatPlan', () => {
  it('nothing planned', () => {
    assert.equal(formatPlan([]), 'nothing would be drained');
  });

  it('aligned table and count', () => {
    const text = formatPlan([
      { runId: 'build130', phaseId: 'schema', phaseIndex: 1, category: 'unknown' },
      { runId: 'r-日本', phaseId: 'p', phaseIndex: 12, category: 'timeout' },
    ]);
    assert.equal(
      text,
      [
        '  #  run_id    phase_id  index  category',
        '  -  --------  --------  -----  --------',
        '  1  build130  schema    1      unknown',
        '  2  r-日本      p         12     timeout',
        '2 phase(s) would be drained',
      ].join('\n'),
    );
  });
});
