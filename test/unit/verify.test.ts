/**
 * judgeCriteria (drain verify): a healthy session passes all six criteria; for each
 * criterion, a change that breaks exactly that criterion fails only it; N/A cases; and the
 * small pure helpers (final tries, duration stats, log paths, password check).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attemptSet,
  durationStats,
  exposesPassword,
  judgeCriteria,
  logPathFor,
  qfc,
  sumByTable,
  type TryFacts,
  type BaselineFacts,
  type LogHeadFacts,
  type VerifyFacts,
} from '../../src/domain/verify.js';

const S = 'batch-drain-20251228-060007';
const LOGS = `/ws/.autonomous_runs/batch_drain_sessions/${S}/logs`;
const HEADER = [
  'DATABASE_URL=postgres://postgres:***@127.0.0.1:55432/autopack',
  'AUTOPACK_API_URL=(not set)',
  `# autopack-drain session=${S}`,
];

/** Each attempt id its own 20 s slot of time: attempts of one run never overlap unless a test says so. */
const slotOf = (id: string) => [...id].reduce((n, c) => (n * 31 + c.charCodeAt(0)) % 100_000, 0);
const at = (ms: number) => new Date(ms).toISOString();

function attempt(id: string, over: Partial<TryFacts> = {}): TryFacts {
  const base = `${LOGS}/${id}`;
  const start = Date.parse('2025-12-28T06:00:07.000Z') + slotOf(id) * 20_000;
  return {
    id,
    execRunId: 'run-1',
    runId: 'run-a',
    phaseId: `p${id}`,
    attempt: 1,
    tryNo: 1,
    status: 'finished',
    initialState: 'FAILED',
    finalState: 'COMPLETE',
    success: true,
    returnCode: 0,
    signal: null,
    timedOut: false,
    durationSeconds: 12.5,
    stdoutPath: `${base}.stdout.txt`,
    stderrPath: `${base}.stderr.txt`,
    stdoutBytes: 200,
    stderrBytes: 0,
    stdoutSha256: null,
    stderrSha256: null,
    host: null,
    fenceAt: null,
    processEndedAt: null,
    errorMessage: null,
    lastFailureReason: null,
    baselineCommit: 'abc123',
    baselineStatus: 'ok',
    baselineSkip: true,
    baselineCaptureId: '7',
    runCountsBefore: { FAILED: 3, COMPLETE: 1 },
    runCountsAfter: { FAILED: 2, COMPLETE: 2 },
    telemetryByTable: { token_estimation_v2_events: 3, token_budget_escalation_events: 0 },
    phaseChanged: true,
    startedAt: at(start),
    finishedAt: at(start + 12_500),
    ...over,
  };
}

const failed = (over: Partial<TryFacts>): Partial<TryFacts> => ({
  finalState: 'FAILED',
  success: false,
  telemetryByTable: { token_estimation_v2_events: 0, token_budget_escalation_events: 0 },
  ...over,
});

/** Healthy: a success, a retried failure after an interrupted try, a crash, an escalation, a timeout. */
function healthyTries(): TryFacts[] {
  const a3err = `${LOGS}/3.stderr.txt`;
  return [
    attempt('1'),
    attempt('2', {
      phaseId: 'p2',
      status: 'interrupted',
      success: null,
      returnCode: null,
      durationSeconds: 4,
    }),
    attempt(
      '3',
      failed({
        phaseId: 'p2',
        tryNo: 2,
        initialState: null,
        runCountsBefore: null,
        returnCode: 1,
        lastFailureReason: 'patch apply failed',
        errorMessage: 'patch apply failed',
        durationSeconds: 30,
        stderrBytes: 40,
        stderrPath: a3err,
      }),
    ),
    attempt(
      '4',
      failed({
        runId: 'run-b',
        returnCode: 3,
        errorMessage: `executor exited with return code 3 and no failure reason recorded (final state FAILED; stderr: ${LOGS}/4.stderr.txt (12 bytes))`,
        stderrBytes: 12,
        durationSeconds: 2.25,
      }),
    ),
    attempt(
      '5',
      failed({
        runId: 'run-b',
        lastFailureReason: 'TOKEN_ESCALATION: output truncated',
        errorMessage: 'TOKEN_ESCALATION: output truncated [RETRYABLE: token budget escalation needed]',
        returnCode: 1,
        durationSeconds: 8,
        telemetryByTable: { token_estimation_v2_events: 1, token_budget_escalation_events: 2 },
      }),
    ),
    attempt(
      '6',
      failed({
        runId: 'run-b',
        returnCode: null,
        signal: 'SIGKILL',
        timedOut: true,
        errorMessage: `phase timed out after 4s (no failure reason recorded; killed by SIGKILL; final state EXECUTING; stderr: ${LOGS}/6.stderr.txt (empty); stdout: ${LOGS}/6.stdout.txt (30 bytes))`,
        durationSeconds: 5.1,
        stdoutBytes: 30,
      }),
    ),
  ];
}

/** A drain_baseline_captures row of commit abc123. */
function capture(id: string, status: string, over: Partial<BaselineFacts> = {}): BaselineFacts {
  return {
    id,
    commitSha: 'abc123',
    sessionId: S,
    attempt: 1,
    status,
    exitCode: status === 'ok' ? 0 : status === 'failed' ? 3 : null,
    durationSeconds: 3,
    error: status === 'ok' ? null : `baseline command ${status}`,
    backfilled: false,
    startedAt: '2025-12-28T06:00:01.000Z',
    finishedAt: '2025-12-28T06:00:04.000Z',
    ...over,
  };
}

/** Every try's executor was told `skip` (null: not recorded) about capture `captureId`. */
const toldAll =
  (skip: boolean | null, captureId: string | null = null) =>
  (f: VerifyFacts) => {
    f.tries = f.tries.map((t) => ({ ...t, baselineSkip: skip, baselineCaptureId: captureId }));
  };

const okLog = (a: TryFacts): LogHeadFacts => ({
  stdoutPath: a.stdoutPath,
  stderrPath: a.stderrPath,
  stdoutExists: true,
  stderrExists: true,
  firstLines: [...HEADER, '[sim] draining'],
});

function healthy(): VerifyFacts {
  const tries = healthyTries();
  return {
    sessionId: S,
    session: {
      status: 'completed',
      startedAt: '2025-12-28T06:00:00.000Z',
      completedAt: '2025-12-28T06:10:00.000Z',
      workspace: '/ws',
      config: { skipRunsWithQueued: true, batchSize: 10, baselineCommand: 'make baseline' },
      apiProcessPattern: 'uvicorn',
      apiProcessesStart: 1,
      apiProcessesEnd: 1,
    },
    tries,
    logs: Object.fromEntries(tries.filter((t) => t.status !== 'interrupted').map((t) => [t.id, okLog(t)])),
    baselines: [capture('7', 'ok')],
    escalations: { '5': 2 },
  };
}

/** Facts with the try `id` changed. */
function withTry(id: string, over: Partial<TryFacts>): (f: VerifyFacts) => void {
  return (f) => {
    f.tries = f.tries.map((t) => (t.id === id ? { ...t, ...over } : t));
  };
}

const statuses = (f: VerifyFacts) => judgeCriteria(f).criteria.map((c) => c.status);
const failedIds = (f: VerifyFacts) =>
  judgeCriteria(f)
    .criteria.filter((c) => c.status === 'FAIL')
    .map((c) => c.id);

describe('a healthy session', () => {
  test('passes all six criteria, in the plan order, with no problems', () => {
    const r = judgeCriteria(healthy());
    assert.equal(r.verdict, 'PASS');
    assert.deepEqual(
      r.criteria.map((c) => [c.id, c.status, c.problems]),
      [1, 2, 3, 4, 5, 6].map((id) => [id, 'PASS', []]),
    );
    assert.deepEqual(
      r.criteria.map((c) => c.title),
      [
        'No Silent Failures',
        'No "Unknown error" without evidence',
        'Correct Phase Selection Safety',
        'Environment/Identity Consistency',
        'Throughput / Stability',
        'Telemetry Viability',
      ],
    );
  });

  test('evidence: counts of final tries, interrupted tries, retried phases, telemetry deltas', () => {
    const [c1, c2, c3, c4, c5, c6] = judgeCriteria(healthy()).criteria;
    assert.deepEqual(c1.evidence, {
      attempts: 5,
      with_return_code: 5,
      with_duration: 5,
      with_output: 5,
      missing_logs: 0,
      missing_log_files: [],
      logs_on_other_hosts: [],
      interrupted_tries: 1,
      running_tries: 0,
      lost: 0,
      abandoned: 0,
    });
    assert.deepEqual(c2.evidence, {
      unknown_error: 0,
      failures: 4,
      failures_without_reason: 2,
      without_reason_with_exit_and_log: 2,
    });
    assert.equal(c3.evidence.retried_phases, 5);
    assert.equal(c3.evidence.skip_runs_with_queued_overridden, false);
    assert.deepEqual((c3.evidence.retried as unknown[])[1], {
      run_id: 'run-a',
      phase_id: 'p2',
      attempt: 1,
      before: { queued: 0, failed: 3, complete: 1 }, // from try 1: try 2 recorded none
      after: { queued: 0, failed: 2, complete: 2 },
    });
    assert.deepEqual(c4.evidence.database_urls, ['postgres://postgres:***@127.0.0.1:55432/autopack']);
    assert.deepEqual(c4.evidence.api_urls, ['(not set)']);
    assert.equal(c4.evidence.with_identity_header, 5);
    assert.equal(c5.evidence.median_seconds, 8);
    assert.deepEqual(c5.evidence.baseline_captures, [
      {
        commit: 'abc123',
        captures: 1,
        captured_by_this_session: 1,
        duration_seconds: 3,
        by_status: { ok: 1 },
        good_capture: '7',
        told_to_skip: 5,
        rows: [
          {
            id: '7',
            attempt: 1,
            status: 'ok',
            session_id: S,
            exit_code: 0,
            duration_seconds: 3,
            error: null,
          },
        ],
      },
    ]);
    assert.deepEqual(c6.evidence.telemetry_delta, {
      token_estimation_v2_events: 3,
      token_budget_escalation_events: 0,
    });
    assert.deepEqual(c6.evidence.escalations, [{ run_id: 'run-b', phase_id: 'p5', attempt: 1, rows: 2 }]);
  });

  test('summaries are one short line each', () => {
    const r = judgeCriteria(healthy());
    assert.deepEqual(
      r.criteria.map((c) => c.summary),
      [
        '5 attempts, 5 with return code, 5 with duration, 5 with output, 0 missing logs, 1 interrupted try',
        '0 "Unknown error", 4 failures (2 without a DB reason, 2 of them with exit status and log path)',
        '5 FAILED phases retried, 0 in runs with QUEUED > 0; up to 1 try alive at once (1 slot), 0 overlaps within a run among 6 tries, interrupted ones included',
        '5/5 stdout logs begin with DATABASE_URL and AUTOPACK_API_URL (postgres://postgres:***@127.0.0.1:55432/autopack), 0 exit-0 attempts with the phase unchanged',
        'median 8s (min 2.25s, p90 30s, max 30s), 0 instant completions, API processes 1→1, baseline captures: abc123×1',
        '1 successful attempt: +3 token_estimation_v2_events, +0 token_budget_escalation_events; 1 escalation (2 rows)',
      ],
    );
  });
});

// Each change must fail exactly the criteria listed (the others stay PASS or N/A).
const breaking: Array<[name: string, change: (f: VerifyFacts) => void, failing: number[], problem: RegExp]> =
  [
    [
      '1: the executor wrote nothing to stdout or stderr',
      withTry('1', { stdoutBytes: 0, stderrBytes: 0 }),
      [1],
      /run-a\/p1 attempt 1: the executor wrote nothing/,
    ],
    [
      '1: output sizes not recorded',
      withTry('1', { stdoutBytes: null, stderrBytes: null }),
      [1],
      /output size not recorded/,
    ],
    [
      '1: the stderr log is missing on disk',
      (f) => (f.logs['4'] = { ...f.logs['4'], stderrExists: false }),
      [1],
      /stderr log missing: .*4\.stderr\.txt/,
    ],
    [
      '1: a success without return code or signal',
      withTry('1', { returnCode: null }),
      [1],
      /no return code, signal, timeout or cancellation/,
    ],
    [
      '1: a try still running although the session completed',
      (f) =>
        f.tries.push(attempt('9', { phaseId: 'p9', status: 'running', success: null, returnCode: null })),
      [1],
      /run-a\/p9 attempt 1: still 'running' but the session is completed/,
    ],
    [
      '1: an attempt with only interrupted tries in a completed session',
      (f) => f.tries.push(attempt('9', { phaseId: 'p9', status: 'interrupted', success: null })),
      [1],
      /only interrupted tries, no outcome recorded/,
    ],
    [
      '1+5: an attempt without a duration',
      withTry('4', { durationSeconds: null }),
      [1, 5],
      /run-b\/p4 attempt 1: no duration recorded/,
    ],
    [
      '1+4: the stdout log is missing (no identity header to check)',
      (f) => (f.logs['1'] = { ...f.logs['1'], stdoutExists: false, firstLines: [] }),
      [1, 4],
      /stdout log missing/,
    ],
    [
      '2: "Unknown error" as the recorded message',
      withTry('3', { errorMessage: 'Unknown error', lastFailureReason: 'Unknown error' }),
      [2],
      /"Unknown error" recorded/,
    ],
    [
      '2: "unknown ERROR" only in the failure reason (case-insensitive)',
      withTry('3', { lastFailureReason: 'executor: unknown ERROR' }),
      [2],
      /"Unknown error" recorded/,
    ],
    [
      '2: a failure without a DB reason whose message names no log',
      withTry('4', { errorMessage: 'executor exited with return code 3' }),
      [2],
      /failed without a DB reason and its error message lacks a log path/,
    ],
    [
      '2: a failure without a DB reason and without a return code (blank reason counts as none)',
      withTry('4', { returnCode: null, lastFailureReason: '  ', stderrBytes: 12 }),
      [1, 2],
      /lacks a return code/,
    ],
    [
      '3: a FAILED phase retried in a run with QUEUED phases',
      withTry('1', { runCountsBefore: { QUEUED: 2, FAILED: 3 } }),
      [3],
      /FAILED phase retried in a run with 2 QUEUED phase\(s\)/,
    ],
    [
      '3: run counts at the start inherited from try 1 show QUEUED > 0',
      withTry('2', { runCountsBefore: { QUEUED: 1 } }),
      [3],
      /run-a\/p2 attempt 1 try 2: FAILED phase retried in a run with 1 QUEUED/,
    ],
    [
      '3: run counts at the end not recorded',
      withTry('3', { runCountsAfter: null }),
      [3],
      /phase counts at the end of the attempt were not recorded/,
    ],
    [
      '4: the stdout log does not begin with the identity lines',
      (f) => (f.logs['1'] = { ...f.logs['1'], firstLines: ['[sim] draining', ...HEADER] }),
      [4],
      /does not begin with DATABASE_URL=/,
    ],
    [
      '4: AUTOPACK_API_URL is not the second line',
      (f) => (f.logs['1'] = { ...f.logs['1'], firstLines: [HEADER[0], HEADER[2], HEADER[1]] }),
      [4],
      /second stdout line is not AUTOPACK_API_URL=/,
    ],
    [
      '4: a DATABASE_URL with its password in the log',
      (f) =>
        (f.logs['1'] = { ...f.logs['1'], firstLines: ['DATABASE_URL=postgres://u:hunter2@db/x', HEADER[1]] }),
      [4],
      /DATABASE_URL with an unredacted password/,
    ],
    [
      '4: exit 0 while the phase did not change (API/DB mismatch)',
      withTry('4', {
        returnCode: 0,
        phaseChanged: false,
        errorMessage: `executor exited 0 but the phase is FAILED (no failure reason recorded; stdout: ${LOGS}/4.stdout.txt (20 bytes))`,
      }),
      [4],
      /exited 0 but the phase did not change: possible API\/DB mismatch/,
    ],
    [
      '5: more API server processes at the end than at the start',
      (f) => (f.session!.apiProcessesEnd = 4),
      [5],
      /API server processes grew from 1 to 4 .*uvicorn.*leaked/,
    ],
    [
      '5: executors told to skip while the only capture failed',
      (f) => (f.baselines = [capture('7', 'failed')]),
      [5],
      /run-a\/p1 attempt 1: the executor was told AUTOPACK_SKIP_BASELINE=1 without a good baseline capture of abc123 \(captures: failed\)/,
    ],
    [
      '5: told to skip with a timed-out capture, a good one came later',
      (f) => (f.baselines = [capture('7', 'timeout'), capture('8', 'ok', { attempt: 2 })]),
      [5],
      /told AUTOPACK_SKIP_BASELINE=1 without a good baseline capture of abc123 \(captures: timeout, ok\)/,
    ],
    [
      '5: told to skip (not recorded) after a failed capture an older version cached',
      (f) => {
        toldAll(null)(f);
        f.baselines = [capture('7', 'failed', { backfilled: true })];
      },
      [5],
      /without a good baseline capture of abc123 \(captures: failed\)/,
    ],
    [
      '5: told to skip without any capture of the commit',
      (f) => (f.baselines = []),
      [5],
      /without a good baseline capture of abc123 \(captures: none\)/,
    ],
    [
      '6: a successful attempt without a telemetry delta',
      withTry('1', { telemetryByTable: null }),
      [6],
      /succeeded but its telemetry delta was not captured/,
    ],
    [
      '6: a token escalation without escalation rows',
      (f) => (f.escalations = {}),
      [6],
      /hit a token escalation but no token_budget_escalation_events rows/,
    ],
  ];

describe('a change that breaks one criterion fails only that one', () => {
  for (const [name, change, failing, problem] of breaking) {
    test(name, () => {
      const f = healthy();
      change(f);
      const r = judgeCriteria(f);
      assert.equal(r.verdict, 'FAIL');
      assert.deepEqual(failedIds(f), failing);
      const problems = r.criteria.flatMap((c) => c.problems);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `no problem matching ${problem}: ${problems.join('\n')}`,
      );
    });
  }
});

describe('parallel sessions (slots)', () => {
  /** The final tries of `healthy()` moved onto one clock: the try `id` runs from `from` s for `secs` s. */
  const timed = (f: VerifyFacts, id: string, from: number, secs: number) =>
    withTry(id, {
      startedAt: at(Date.parse('2025-12-28T07:00:00.000Z') + from * 1000),
      finishedAt: at(Date.parse('2025-12-28T07:00:00.000Z') + (from + secs) * 1000),
    })(f);

  test('attempts of different runs at once pass, with the peak and the slots as evidence', () => {
    const f = healthy();
    f.session!.config = { ...f.session!.config, concurrency: 3 };
    timed(f, '1', 0, 10); // run-a
    timed(f, '4', 2, 10); // run-b
    const c3 = judgeCriteria(f).criteria[2];
    assert.equal(c3.status, 'PASS', c3.problems.join('\n'));
    assert.equal(c3.evidence.concurrency, 3);
    assert.equal(c3.evidence.peak_parallel_attempts, 2);
    assert.deepEqual(c3.evidence.run_overlaps, []);
    assert.match(c3.summary, /up to 2 tries alive at once \(3 slots\), 0 overlaps within a run/);
  });

  test('two attempts of one run at once fail criterion 3 only, naming both', () => {
    const f = healthy();
    f.session!.config = { ...f.session!.config, concurrency: 2 };
    timed(f, '4', 0, 10);
    timed(f, '6', 9, 10); // both run-b
    const r = judgeCriteria(f);
    assert.deepEqual(failedIds(f), [3]);
    assert.deepEqual(r.criteria[2].problems, [
      'two tries of one run alive at once: run-b/p4 attempt 1 [finished, 2025-12-28T07:00:00.000Z → 2025-12-28T07:00:10.000Z] overlaps run-b/p6 attempt 1 [finished, 2025-12-28T07:00:09.000Z → 2025-12-28T07:00:19.000Z]',
    ]);
  });

  test('one attempt starting as the previous one of its run ends is no overlap', () => {
    const f = healthy();
    timed(f, '4', 0, 10);
    timed(f, '6', 10, 10);
    assert.deepEqual(failedIds(f), []);
    assert.equal(judgeCriteria(f).criteria[2].evidence.peak_parallel_attempts, 1);
  });
});

describe("criterion 3: every try of a run, alive from its start to its executor's end", () => {
  const T0 = Date.parse('2025-12-28T08:00:00.000Z');
  const t = (s: number) => at(T0 + s * 1000);
  /** A try of run-o that ran from `from` s to `to` s (its row's end), over `o`. */
  const life = (id: string, from: number, to: number | null, o: Partial<TryFacts> = {}): TryFacts =>
    attempt(id, {
      runId: 'run-o',
      phaseId: 'po',
      startedAt: t(from),
      finishedAt: to === null ? null : t(to),
      durationSeconds: to === null ? null : to - from,
      ...o,
    });
  const interrupted = { status: 'interrupted', success: null, returnCode: null };
  const other = (
    sessionId: string,
    id: string,
    from: number,
    to: number | null,
    o: Partial<TryFacts> = {},
  ) => ({
    ...life(id, from, to, o),
    sessionId,
  });

  // name, this session's extra tries, other sessions' tries, now (s after T0), overlaps expected
  // (the tries named in the one problem), tries of this session checked.
  const cases: Array<
    [string, TryFacts[], Array<TryFacts & { sessionId: string }>, number, RegExp | null, number]
  > = [
    [
      'an interrupted try whose orphaned executor outlived its worker overlaps its retry: FAIL',
      [
        life('31', 0, 20, { ...interrupted, processEndedAt: t(60) }), // marked at 20 s, ended at 60 s
        life('32', 25, 70, { tryNo: 2 }),
      ],
      [],
      100,
      /^two tries of one run alive at once: run-o\/po attempt 1 \[interrupted, 2025-12-28T08:00:00\.000Z → 2025-12-28T08:01:00\.000Z\] overlaps run-o\/po attempt 1 try 2 \[finished, 2025-12-28T08:00:25\.000Z → 2025-12-28T08:01:10\.000Z\]$/,
      8,
    ],
    [
      "back to back: the retry starts as the interrupted try's executor ends: PASS, both checked",
      [life('31', 0, 20, { ...interrupted, processEndedAt: t(25) }), life('32', 25, 70, { tryNo: 2 })],
      [],
      100,
      null,
      8,
    ],
    [
      'an interrupted try proven over without a recorded end (fence + S), retried after: PASS',
      [life('31', 0, 36, interrupted), life('32', 37, 70, { tryNo: 2 })],
      [],
      100,
      null,
      8,
    ],
    [
      'a try still running counts to now: a later try of its run overlaps it: FAIL',
      [
        life('31', 0, null, { status: 'running', success: null, returnCode: null }),
        life('33', 50, 60, { phaseId: 'pq' }),
      ],
      [],
      100,
      /run-o\/po attempt 1 \[running, 2025-12-28T08:00:00\.000Z → still running\] overlaps run-o\/pq attempt 1/,
      8,
    ],
    [
      'a try still running whose executor end is recorded ends there: PASS',
      [
        life('31', 0, null, { status: 'running', success: null, returnCode: null, processEndedAt: t(40) }),
        life('33', 50, 60, { phaseId: 'pq' }),
      ],
      [],
      100,
      null,
      8,
    ],
    [
      "a reconciled try (its row carries the adopted try's start) ran no executor: PASS",
      [
        life('31', 0, 20, { ...interrupted, processEndedAt: t(30) }),
        life('32', 0, 40, { tryNo: 2, status: 'reconciled' }),
      ],
      [],
      100,
      null,
      7,
    ],
    [
      "another session's try on the same run alive at once: FAIL, naming its session",
      [life('31', 0, 30)],
      [other('other-session', '81', 20, 50)],
      100,
      /run-o\/po attempt 1 \[finished, .*\] overlaps run-o\/po attempt 1 of session other-session \[finished, /,
      7,
    ],
    [
      "another session's try on the same run still running (no end recorded): FAIL",
      [life('31', 50, 60)],
      [other('other-session', '81', 0, null, { status: 'running' })],
      100,
      /run-o\/po attempt 1 of session other-session \[running, .* → still running\] overlaps run-o\/po attempt 1 \[finished/,
      7,
    ],
    [
      "other sessions' tries overlapping only each other are not this session's problem: PASS",
      [life('31', 0, 10)],
      [other('s-x', '81', 20, 50), other('s-y', '82', 30, 60)],
      100,
      null,
      7,
    ],
    [
      "another session's lost try that never started (the lease was ours): PASS",
      [life('31', 0, 30)],
      [other('s-x', '81', 10, 11, { status: 'lost', success: null, returnCode: null })],
      100,
      null,
      7,
    ],
  ];
  for (const [name, tries, otherTries, nowS, problem, checked] of cases) {
    test(name, () => {
      const f = healthy();
      f.session!.status = 'running'; // a running try is no criterion-1 problem yet
      f.session!.completedAt = null;
      f.tries.push(...tries);
      for (const x of tries) if (!f.logs[x.id]) f.logs[x.id] = okLog(x);
      f.otherTries = otherTries;
      f.now = t(nowS);
      const r = judgeCriteria(f);
      const c3 = r.criteria[2];
      assert.deepEqual(failedIds(f), problem ? [3] : [], c3.problems.join('\n'));
      if (problem) {
        assert.equal(c3.problems.length, 1, c3.problems.join('\n'));
        assert.match(c3.problems[0], problem);
        assert.equal((c3.evidence.run_overlaps as string[]).length, 1);
      }
      assert.equal(c3.evidence.tries_checked, checked);
      assert.match(String(c3.evidence.overlap_scope), /interrupted ones included/);
    });
  }

  test('the tries counted to now are evidence', () => {
    const f = healthy();
    f.session!.status = 'running';
    f.tries.push(life('31', 0, null, { status: 'running', success: null, returnCode: null }));
    f.now = t(100);
    const c3 = judgeCriteria(f).criteria[2];
    assert.deepEqual(c3.evidence.counted_to_now, [
      'run-o/po attempt 1 [running, 2025-12-28T08:00:00.000Z → still running]',
    ]);
  });
});

describe('criterion 1: a log file on another host', () => {
  const SHA = 'ab'.repeat(32);
  /** Try 1's logs are not readable here; its row says it ran on `host`. */
  const away = (host: string | null) => (f: VerifyFacts) => {
    f.verifyHost = 'here';
    withTry('1', { host, stdoutSha256: SHA, stderrSha256: null })(f);
    f.logs['1'] = { ...f.logs['1'], stdoutExists: false, stderrExists: false, firstLines: [] };
  };

  test('recorded on host elsewhere and not readable here: reported there, with size and sha256', () => {
    const f = healthy();
    away('elsewhere')(f);
    const r = judgeCriteria(f);
    assert.deepEqual(failedIds(f), [], r.criteria.flatMap((c) => c.problems).join('\n'));
    const [c1, , , c4] = r.criteria;
    assert.equal(c1.evidence.missing_logs, 0);
    assert.deepEqual(c1.evidence.logs_on_other_hosts, [
      `run-a/p1 attempt 1: stdout log on host elsewhere (200 bytes of output, sha256 abababababab…): ${LOGS}/1.stdout.txt`,
      `run-a/p1 attempt 1: stderr log on host elsewhere (0 bytes of output, no sha256 recorded): ${LOGS}/1.stderr.txt`,
    ]);
    assert.match(c1.summary, /0 missing logs, 2 on other hosts/);
    assert.deepEqual(c4.evidence.not_checked_on_other_hosts, ['run-a/p1 attempt 1']);
    assert.match(c4.summary, /^4\/5 stdout logs begin .* \(1 on other hosts, not checked\)/);
  });

  const missingCases: Array<[string, string | null]> = [
    ['recorded on this host and not here: missing', 'here'],
    ['no host recorded (earlier releases): missing', null],
  ];
  for (const [name, host] of missingCases) {
    test(name, () => {
      const f = healthy();
      away(host)(f);
      const r = judgeCriteria(f);
      assert.deepEqual(failedIds(f), [1, 4]);
      assert.ok(
        r.criteria[0].problems.includes(`run-a/p1 attempt 1: stdout log missing: ${LOGS}/1.stdout.txt`),
      );
      assert.deepEqual(r.criteria[0].evidence.logs_on_other_hosts, []);
    });
  }

  test("a reconciled try adopts an earlier try's logs: they live on that try's host", () => {
    const f = healthy();
    f.verifyHost = 'here';
    // try '2' (interrupted, host elsewhere) wrote the logs that the reconciled try 2 adopted.
    const paths = { stdoutPath: `${LOGS}/2.stdout.txt`, stderrPath: `${LOGS}/2.stderr.txt` };
    withTry('2', { host: 'elsewhere', stdoutSha256: SHA, ...paths })(f);
    withTry('3', { host: 'here', status: 'reconciled', ...paths })(f);
    f.logs['3'] = { ...f.logs['3'], ...paths, stdoutExists: false, stderrExists: false, firstLines: [] };
    const c1 = judgeCriteria(f).criteria[0];
    assert.equal(c1.status, 'PASS', c1.problems.join('\n'));
    assert.match(
      (c1.evidence.logs_on_other_hosts as string[])[0],
      /^run-a\/p2 attempt 1 try 2: stdout log on host elsewhere \(200 bytes of output, sha256 abababababab…\)/,
    );
  });

  test('a finished try with the same file name as an earlier try on another host: its own host', () => {
    const f = healthy();
    f.verifyHost = 'here';
    const paths = { stdoutPath: `${LOGS}/2.stdout.txt`, stderrPath: `${LOGS}/2.stderr.txt` };
    withTry('2', { host: 'elsewhere', ...paths })(f);
    withTry('3', { host: 'here', ...paths })(f);
    f.logs['3'] = { ...f.logs['3'], ...paths, stdoutExists: false, stderrExists: false, firstLines: [] };
    assert.deepEqual(failedIds(f), [1, 4]);
    assert.deepEqual(judgeCriteria(f).criteria[0].evidence.logs_on_other_hosts, []);
  });
});

describe('N/A and overrides', () => {
  const cases: Array<[name: string, change: (f: VerifyFacts) => void, expect: string[]]> = [
    [
      'a session without attempts: everything N/A, verdict PASS',
      (f) => {
        f.tries = [];
        f.logs = {};
        f.escalations = {};
      },
      ['N/A', 'N/A', 'N/A', 'N/A', 'N/A', 'N/A'],
    ],
    [
      'no FAILED phase retried (queued mode): criterion 3 N/A',
      (f) => (f.tries = f.tries.map((t) => ({ ...t, initialState: 'QUEUED' }))),
      ['PASS', 'PASS', 'N/A', 'PASS', 'PASS', 'PASS'],
    ],
    [
      'no successes and no escalation: criterion 6 N/A',
      (f) => {
        f.tries = f.tries.filter((t) => t.id === '4' || t.id === '6');
        f.escalations = {};
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'N/A'],
    ],
    [
      'QUEUED > 0 at the start but the session overrode skipRunsWithQueued',
      (f) => {
        withTry('1', { runCountsBefore: { QUEUED: 2 } })(f);
        f.session!.config = { skipRunsWithQueued: false };
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      'API process counts not recorded: values n/a, still PASS',
      (f) => {
        f.session!.apiProcessesStart = null;
        f.session!.apiProcessesEnd = null;
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      'a running try while the session still runs is no problem',
      (f) => {
        f.session!.status = 'running';
        f.session!.completedAt = null;
        f.tries.push(attempt('9', { phaseId: 'p9', status: 'running', success: null, returnCode: null }));
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      'no drain_sessions row (older sessions): judged from the attempts',
      (f) => (f.session = null),
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      'an instant completion is listed, not failed',
      withTry('1', { durationSeconds: 0.2 }),
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      '5: failed captures, executors told nothing: PASS',
      (f) => {
        toldAll(false)(f);
        f.baselines = [capture('7', 'failed'), capture('8', 'timeout', { attempt: 2 })];
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      '5: skip not recorded, a failed capture of this version: not told (PASS)',
      (f) => {
        toldAll(null)(f);
        f.baselines = [capture('7', 'failed')];
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      '5: skip not recorded, a good capture: told, and rightly',
      (f) => {
        toldAll(null)(f);
        f.baselines = [capture('6', 'failed'), capture('7', 'ok', { attempt: 2, backfilled: true })];
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      '5: skip not recorded and no baselineCommand in the config: not told',
      (f) => {
        toldAll(null)(f);
        f.session!.config = { skipRunsWithQueued: true };
        f.baselines = [capture('7', 'failed', { backfilled: true })];
      },
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      '5: told to skip, the recorded capture is ok after earlier failures',
      (f) => (f.baselines = [capture('5', 'failed'), capture('6', 'interrupted'), capture('7', 'ok')]),
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
    [
      'exit 0 with phase_changed unknown (null) is not flagged',
      withTry('1', { phaseChanged: null }),
      ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
    ],
  ];
  for (const [name, change, expect] of cases) {
    test(name, () => {
      const f = healthy();
      change(f);
      assert.deepEqual(statuses(f), expect);
      assert.equal(judgeCriteria(f).verdict, 'PASS');
    });
  }

  test('criterion 5 summary: capture counts per commit, by status when one is not ok', () => {
    const f = healthy();
    toldAll(false)(f);
    f.baselines = [capture('5', 'failed'), capture('6', 'timeout'), capture('7', 'failed')];
    const c5 = judgeCriteria(f).criteria[4];
    assert.equal(c5.status, 'PASS');
    assert.match(c5.summary, /baseline captures: abc123×3 \(2 failed, 1 timeout\)$/);
    const [ev] = c5.evidence.baseline_captures as Array<Record<string, unknown>>;
    assert.deepEqual(ev.by_status, { failed: 2, timeout: 1 });
    assert.equal(ev.good_capture, null);
    assert.equal(ev.told_to_skip, 0);
  });

  test('instant completions and phase_changed unknown appear as evidence', () => {
    const f = healthy();
    withTry('1', { durationSeconds: 0.2, phaseChanged: null })(f);
    const [, , , c4, c5] = judgeCriteria(f).criteria;
    assert.deepEqual(c5.evidence.instant_completions, ['run-a/p1 attempt 1 (0.2s)']);
    assert.equal(c5.evidence.instant_threshold_seconds, 1);
    assert.equal(c4.evidence.phase_changed_unknown, 1);
  });
});

describe('helpers', () => {
  test('attemptSet: the final try of each attempt, interrupted and running tries counted', () => {
    const tries = [
      attempt('1', { phaseId: 'p', status: 'interrupted', initialState: 'FAILED' }),
      attempt('2', { phaseId: 'p', tryNo: 2, status: 'interrupted', initialState: 'EXECUTING' }),
      attempt('3', { phaseId: 'p', tryNo: 3, status: 'reconciled', initialState: null }),
      attempt('4', { phaseId: 'q', status: 'running' }),
      attempt('5', { phaseId: 'r', execRunId: 'run-2', status: 'cancelled' }),
      attempt('6', { phaseId: 'r', execRunId: 'run-1', status: 'finished' }),
    ];
    const set = attemptSet(tries);
    assert.deepEqual(
      set.finals.map((a) => [a.id, a.initialState]),
      [
        ['3', 'FAILED'],
        ['5', 'FAILED'],
        ['6', 'FAILED'],
      ],
    );
    assert.equal(set.interrupted, 2);
    assert.deepEqual(
      set.running.map((a) => a.id),
      ['4'],
    );
    assert.deepEqual(set.withoutOutcome, []);
  });

  const stats: Array<[number[], ReturnType<typeof durationStats>]> = [
    [[], { median: null, min: null, max: null, p90: null }],
    [[5], { median: 5, min: 5, max: 5, p90: 5 }],
    [[4, 1, 3, 2], { median: 2.5, min: 1, max: 4, p90: 4 }],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { median: 5.5, min: 1, max: 10, p90: 9 }],
    [[0.1234, 0.2], { median: 0.162, min: 0.123, max: 0.2, p90: 0.2 }],
  ];
  for (const [xs, expect] of stats) {
    test(`durationStats(${JSON.stringify(xs)})`, () => assert.deepEqual(durationStats(xs), expect));
  }

  const urls: Array<[string, boolean]> = [
    ['DATABASE_URL=postgres://postgres:***@127.0.0.1:5432/autopack', false],
    ['DATABASE_URL=postgres://postgres@127.0.0.1:5432/autopack', false],
    ['DATABASE_URL=postgresql:///autopack?host=/run/postgresql', false],
    ['DATABASE_URL=sqlite:///tmp/autopack.db', false],
    ['DATABASE_URL=postgres://postgres:s3cret@127.0.0.1:5432/autopack', true],
    ['DATABASE_URL=postgres://u@h/db?password=s3cret', true],
  ];
  for (const [line, exposed] of urls) {
    test(`exposesPassword(${line}) = ${exposed}`, () => assert.equal(exposesPassword(line), exposed));
  }

  const paths: Array<[string | null, string | null, string | null, string | null]> = [
    // stored, recorded workspace, --workspace, expected
    ['/ws/.autonomous_runs/x/a.stdout.txt', '/ws', null, '/ws/.autonomous_runs/x/a.stdout.txt'],
    ['/ws/.autonomous_runs/x/a.stdout.txt', '/ws/', '/moved', '/moved/.autonomous_runs/x/a.stdout.txt'],
    ['/old/.autonomous_runs/x/a.stdout.txt', null, '/moved/', '/moved/.autonomous_runs/x/a.stdout.txt'],
    ['/elsewhere/a.stdout.txt', '/ws', '/moved', '/elsewhere/a.stdout.txt'],
    ['logs/a.stdout.txt', '/ws', null, '/ws/logs/a.stdout.txt'],
    ['logs/a.stdout.txt', null, null, '/cwd/logs/a.stdout.txt'],
    ['logs/a.stdout.txt', '/ws', '/moved', '/moved/logs/a.stdout.txt'],
    [null, '/ws', null, null],
    ['  ', '/ws', null, null],
  ];
  for (const [stored, recorded, ws, expect] of paths) {
    test(`logPathFor(${stored}, recorded ${recorded}, --workspace ${ws})`, () =>
      assert.equal(logPathFor(stored, { recordedWorkspace: recorded, workspace: ws, base: '/cwd' }), expect));
  }

  test('qfc and sumByTable', () => {
    assert.equal(qfc(null), null);
    assert.deepEqual(qfc({ QUEUED: 2, EXECUTING: 1 }), { queued: 2, failed: 0, complete: 0 });
    assert.deepEqual(sumByTable([]), { token_estimation_v2_events: 0, token_budget_escalation_events: 0 });
    assert.deepEqual(
      sumByTable([
        { token_estimation_v2_events: 2, token_budget_escalation_events: 1 },
        { token_estimation_v2_events: 3, other_events: 4 },
      ]),
      { token_estimation_v2_events: 5, token_budget_escalation_events: 1, other_events: 4 },
    );
  });
});

// Lost and abandoned attempts are recorded, reported as evidence, and not judged.
const unjudgedCases: Array<[string, Partial<TryFacts>, 'lost' | 'abandoned']> = [
  [
    'a lost attempt (lease gone) without output',
    { status: 'lost', returnCode: null, stdoutBytes: 0, stderrBytes: 0 },
    'lost',
  ],
  [
    'an abandoned attempt without an exit status',
    { status: 'abandoned', returnCode: null, durationSeconds: null },
    'abandoned',
  ],
];
for (const [name, over, kind] of unjudgedCases) {
  test(`verify: ${name} is evidence, not a failure`, () => {
    const f = healthy();
    const extra = attempt('99', { phaseId: 'p-unjudged', ...over });
    f.tries = [...f.tries, extra];
    const r = judgeCriteria(f);
    assert.equal(r.verdict, 'PASS');
    const c1 = r.criteria[0];
    assert.equal((c1.evidence as Record<string, number>)[kind], 1);
    assert.match(c1.summary ?? JSON.stringify(c1), new RegExp(`1 ${kind}`));
  });
}
