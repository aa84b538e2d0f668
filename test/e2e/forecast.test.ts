/**
 * `drain forecast` and `drain analyze` through the real CLI on a seeded history (real
 * Postgres, real Temporal dev server and worker for the dry run): drain_attempts rows, phases,
 * runs and a failure-memory stop inserted with SQL, and every figure compared with one computed
 * by hand below. Also: `drain start --dry-run --wait` prints the forecast column.
 *
 * The history (J = judged, status finished/reconciled; N = not judged), times from T1 = now - 2 d,
 * T2 = now - 1 d, duration = finished - started:
 *   J1 s-old fc-old/o0   success  8 ev 180 s  unknown                 now - 10 d
 *   J2 s1    fc-alpha/a0 failed   0 ev  60 s  patch      fp P         T1
 *   J3 s1    fc-alpha/a1 success  6 ev 120 s  unknown                 T1 + 10 min
 *   J4 s1    fc-old/o1   failed   0 ev  30 s  collection fp C         T1 + 20 min
 *   J5 s1    fc-stop/s1  success  3 ev  60 s  unknown                 T1 + 30 min
 *   J6 s1    fc-stop/s0  failed   0 ev  90 s  other      fp B         T1 + 40 min
 *   J7 s2    fc-stop/s0  failed   0 ev  90 s  other      fp B (reconciled) T2
 *   J8 s2    fc-delta/d0 success  4 ev  60 s  unknown                 T2 + 10 min
 *   J9 s2    fc-queue/q0 success  6 ev 120 s  unknown                 T2 + 20 min
 *   N1 s2    fc-delta/d1 interrupted, no events, 45 s                 T2 + 30 min
 *   N2 s2    fc-old/o1   running                                      T2 + 40 min
 * Memory: fingerprint B stopped by s2 (no commit); fc-stop/s0's reason is unchanged since J7.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { runDrain, runOffline, type CliRun } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';

const S_OLD = 'fc-hist-old';
const S1 = 'fc-hist-1';
const S2 = 'fc-hist-2';
const FP_P = 'FAILED|rc1|patch apply failed';
const FP_C = 'FAILED|rc1|modulenotfounderror: no module named foo';
const FP_B = 'FAILED|rc2|boom';
const MIN = 60_000;
const DAY = 86_400_000;

interface Row {
  session: string;
  run: string;
  phase: string;
  status: string;
  success: boolean | null;
  events: number | null;
  seconds: number | null;
  category: string | null;
  fp: string | null;
  start: number;
}

function history(now: number): Row[] {
  const t1 = now - 2 * DAY;
  const t2 = now - DAY;
  const j = (
    session: string,
    run: string,
    phase: string,
    ok: boolean,
    events: number,
    seconds: number,
    category: string,
    fp: string | null,
    start: number,
    status = 'finished',
  ): Row => ({
    session,
    run,
    phase,
    status,
    success: ok,
    events,
    seconds,
    category,
    fp,
    start,
  });
  return [
    j(S_OLD, 'fc-old', 'o0', true, 8, 180, 'unknown', null, now - 10 * DAY),
    j(S1, 'fc-alpha', 'a0', false, 0, 60, 'patch', FP_P, t1),
    j(S1, 'fc-alpha', 'a1', true, 6, 120, 'unknown', null, t1 + 10 * MIN),
    j(S1, 'fc-old', 'o1', false, 0, 30, 'collection', FP_C, t1 + 20 * MIN),
    j(S1, 'fc-stop', 's1', true, 3, 60, 'unknown', null, t1 + 30 * MIN),
    j(S1, 'fc-stop', 's0', false, 0, 90, 'other', FP_B, t1 + 40 * MIN),
    j(S2, 'fc-stop', 's0', false, 0, 90, 'other', FP_B, t2, 'reconciled'),
    j(S2, 'fc-delta', 'd0', true, 4, 60, 'unknown', null, t2 + 10 * MIN),
    j(S2, 'fc-queue', 'q0', true, 6, 120, 'unknown', null, t2 + 20 * MIN),
    {
      session: S2,
      run: 'fc-delta',
      phase: 'd1',
      status: 'interrupted',
      success: null,
      events: null,
      seconds: 45,
      category: null,
      fp: null,
      start: t2 + 30 * MIN,
    },
    {
      session: S2,
      run: 'fc-old',
      phase: 'o1',
      status: 'running',
      success: null,
      events: null,
      seconds: null,
      category: null,
      fp: null,
      start: t2 + 40 * MIN,
    },
  ];
}

describe('drain forecast and drain analyze on a seeded history', () => {
  let env: TestEnv;
  const offline = (args: string[]): Promise<CliRun> => runOffline(env.databaseUrl, args, env.dir);
  const drain = (line: string) =>
    runDrain(env.temporal.address, `${line} --task-queue ${env.taskQueue}`, 120_000, {
      DATABASE_URL: env.databaseUrl,
    });
  const json = (r: CliRun) => {
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, [
      { runId: 'fc-old', phaseId: 'o0', state: 'COMPLETE' },
      { runId: 'fc-old', phaseId: 'o1', state: 'COMPLETE' },
      { runId: 'fc-alpha', phaseId: 'a0', lastFailureReason: 'patch apply failed' },
      { runId: 'fc-alpha', phaseId: 'a1', state: 'COMPLETE' },
      { runId: 'fc-alpha', phaseId: 'a2', lastFailureReason: 'manifest patch rejected' },
      { runId: 'fc-beta', phaseId: 'b0', lastFailureReason: 'ModuleNotFoundError: No module named foo' },
      { runId: 'fc-gamma', phaseId: 'g0', lastFailureReason: 'phase timed out after 900 s' },
      { runId: 'fc-delta', phaseId: 'd0', state: 'COMPLETE' },
      { runId: 'fc-delta', phaseId: 'd1', lastFailureReason: 'deliverable missing: report.md' },
      { runId: 'fc-stop', phaseId: 's0', lastFailureReason: 'boom' },
      { runId: 'fc-stop', phaseId: 's1', state: 'COMPLETE' },
      { runId: 'fc-queue', phaseId: 'q0', state: 'COMPLETE' },
      { runId: 'fc-queue', phaseId: 'q1', state: 'QUEUED' },
    ]);
    const now = Date.now();
    for (const r of history(now)) {
      const yieldPerMinute =
        r.events && r.seconds ? Math.round((r.events / r.seconds) * 60 * 100) / 100 : null;
      await env.pool.query(
        `INSERT INTO drain_attempts (session_id, run_id, phase_id, attempt, status, success, telemetry_events,
           duration_seconds, failure_category, fingerprint, yield_per_minute, started_at, finished_at,
           final_reason_md5)
         VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11,
           CASE WHEN $4 = 'running' THEN NULL ELSE $11::timestamptz + make_interval(secs => $7) END,
           (SELECT md5(last_failure_reason) FROM phases WHERE run_id = $2 AND phase_id = $3))`,
        [
          r.session,
          r.run,
          r.phase,
          r.status,
          r.success,
          r.events,
          r.seconds,
          r.category,
          r.fp,
          yieldPerMinute,
          new Date(r.start),
        ],
      );
    }
    await env.pool.query(
      `INSERT INTO drain_memory_stops (fingerprint, session_id, run_id, phase_id, commit_sha, repeats, stopped_at)
       VALUES ($1, $2, 'fc-stop', 's0', NULL, 3, $3)`,
      [FP_B, S2, new Date(now - DAY + 5 * MIN)],
    );
    await env.startWorker();
  });
  after(() => env?.teardown());

  // Pools: run fc-alpha J2+J3 (6 ev, 180 s: 3 ev, 1.5 min); fc-delta J8 (4 ev, 1 min);
  // No attempt of the seeded history has a token reading: every token figure is null (n/a).
  // category collection J4 (0 ev, 0.5 min); global J1..J9 (27 ev, 810 s: 3 ev, 1.5 min).
  const WANT_PHASES: Record<string, object> = {
    'fc-beta/b0': {
      category: 'collection',
      forecast: { source: 'category', basedOn: 1, events: 0, minutes: 0.5, tokens: null },
    },
    'fc-delta/d1': {
      category: 'deliverable',
      forecast: { source: 'run', basedOn: 1, events: 4, minutes: 1, tokens: null },
    },
    'fc-alpha/a0': {
      category: 'patch',
      forecast: { source: 'run', basedOn: 2, events: 3, minutes: 1.5, tokens: null },
    },
    'fc-alpha/a2': {
      category: 'patch',
      forecast: { source: 'run', basedOn: 2, events: 3, minutes: 1.5, tokens: null },
    },
    'fc-gamma/g0': {
      category: 'timeout',
      forecast: { source: 'global', basedOn: 9, events: 3, minutes: 1.5, tokens: null },
    },
  };

  test('drain forecast --json: per phase, batch and backtest equal the hand-computed figures', async () => {
    const out = json(await drain('forecast --skip-run-prefix fc-stop --json'));
    const got = Object.fromEntries(
      out.planned.map((p: { runId: string; phaseId: string; category: string; forecast: object }) => [
        `${p.runId}/${p.phaseId}`,
        { category: p.category, forecast: p.forecast },
      ]),
    );
    assert.deepEqual(got, WANT_PHASES);
    // 0 + 4 + 3 + 3 + 3 events; 0.5 + 1 + 1.5 + 1.5 + 1.5 min
    assert.deepEqual(out.batch, {
      phases: 5,
      forecast: 5,
      unknown: 0,
      events: 13,
      minutes: 6,
      // The seeded history has no token readings: n/a, never 0.
      tokens: null,
      tokensUnknown: 5,
      bySource: { run: 3, category: 1, global: 1, none: 0 },
    });
    // Backtest, each judged attempt from those finished before it started (forecast → actual):
    //   J1 none; J2 global{J1} 8 ev 3 min → 0, 1; J3 run{J2} 0, 1 → 6, 2; J4 run{J1} 8, 3 → 0, 0.5;
    //   J5 unknown{J1,J3} 7, 2.5 → 3, 1; J6 run{J5} 3, 1 → 0, 1.5; J7 run{J5,J6} 1.5, 1.25 → 0, 1.5;
    //   J8 unknown{J1,J3,J5} 17/3, 2 → 4, 1; J9 unknown{J1,J3,J5,J8} 5.25, 1.75 → 6, 2.
    // |err| events 8+6+8+4+3+1.5+5/3+0.75 = 32.917 → /8 = 4.115; minutes 2+1+2.5+1.5+0.5+0.25+1+0.25 = 9 → 1.125
    // actual 19/8 = 2.375 events, 10.5/8 = 1.3125 min; bias 19.417/8 = 2.427 events, 5/8 = 0.625 min
    assert.deepEqual(out.backtest, {
      window: 9,
      n: 8,
      maeEvents: 4.115,
      maeMinutes: 1.125,
      meanEvents: 2.375,
      meanMinutes: 1.313,
      biasEvents: 2.427,
      biasMinutes: 0.625,
      bySource: { run: 4, category: 3, global: 1, none: 1 },
      relativeErrorEvents: 1.732, // 4.1146 / 2.375
      relativeErrorMinutes: 0.857, // 1.125 / 1.3125
    });
    assert.ok(
      out.skipped.some((s: { runId: string }) => s.runId === 'fc-stop'),
      'fc-stop is skipped by its prefix',
    );
  });

  test('drain forecast (text) and drain start --dry-run --wait print the forecast column and the totals', async () => {
    for (const line of [
      'forecast --skip-run-prefix fc-stop',
      'start --dry-run --wait --skip-run-prefix fc-stop',
    ]) {
      const r = await drain(line);
      console.log(`$ drain ${line}\n${r.stdout}`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /#\s+run_id\s+phase_id\s+index\s+category\s+events\s+minutes\s+forecast from\n/);
      assert.match(r.stdout, /fc-alpha\s+a0\s+0\s+patch\s+3\.0\s+1\.50\s+run \(2 attempts\)\n/);
      assert.match(r.stdout, /fc-gamma\s+g0\s+0\s+timeout\s+3\.0\s+1\.50\s+global \(9 attempts\)\n/);
      assert.match(r.stdout, /fc-beta\s+b0\s+0\s+collection\s+0\.0\s+0\.50\s+category \(1 attempt\)\n/);
      assert.match(
        r.stdout,
        /Forecast for the batch: ~13\.0 telemetry events in ~6\.0 min of drain time \(3 from run history, 1 from category history, 1 from global history\)/,
      );
      assert.match(
        r.stdout,
        /Error of past forecasts \(backtest of the newest 9 judged attempts, 8 scored\): mean absolute error 4\.11 events per phase \(mean actual 2\.38, 173%\), 1\.13 min per phase \(mean actual 1\.31, 86%\)/,
      );
    }
  });

  test('drain analyze --json: the whole history', async () => {
    const a = json(await offline(['analyze', '--json', '--workspace', env.workspace]));
    assert.deepEqual(a.scope, { sessionId: null, since: null, commit: null });
    assert.equal(a.judgedAttempts, 9);
    assert.equal(a.attemptsWithTelemetry, 5); // J1 J3 J5 J8 J9
    assert.equal(a.telemetryShare, 0.556); // 5/9
    assert.equal(a.events, 27);
    assert.equal(a.minutes, 13.5); // 810 s
    // yields 0 0 0 0 2.67 3 3 3 4: median the 5th, P90 the ceil(8.1) = 9th
    assert.deepEqual(a.yieldPerMinute, { median: 2.67, p90: 4 });
    // J2 J4 J6 J7 N1 (N2 is running): 60 + 30 + 90 + 90 + 45 = 315 s
    assert.deepEqual(a.emptyAttempts, { tries: 5, minutes: 5.25 });
    assert.deepEqual(
      a.topFingerprints.map(
        (f: { fingerprint: string; attempts: number; runs: number; stoppedByMemory: boolean }) => [
          f.fingerprint,
          f.attempts,
          f.runs,
          f.stoppedByMemory,
        ],
      ),
      [
        [FP_B, 2, 1, true],
        [FP_C, 1, 1, false],
        [FP_P, 1, 1, false],
      ],
    );
    assert.equal(a.topFingerprints[0].stop.sessionId, S2);
    // fc-delta 4 ev / 1 min, fc-queue 6 / 2, fc-alpha 6 / 3; fc-stop's only open phase is
    // stopped by memory, fc-old has none open.
    assert.deepEqual(a.runsWorthAnotherDrain, [
      {
        runId: 'fc-delta',
        failed: 1,
        queued: 0,
        stoppedByMemory: 0,
        attempts: 1,
        events: 4,
        minutes: 1,
        yieldPerMinute: 4,
      },
      {
        runId: 'fc-queue',
        failed: 0,
        queued: 1,
        stoppedByMemory: 0,
        attempts: 1,
        events: 6,
        minutes: 2,
        yieldPerMinute: 3,
      },
      {
        runId: 'fc-alpha',
        failed: 2,
        queued: 0,
        stoppedByMemory: 0,
        attempts: 2,
        events: 6,
        minutes: 3,
        yieldPerMinute: 2,
      },
    ]);
    assert.equal(a.runsWorthAnotherDrainTotal, 3);
    const text = await offline(['analyze', '--workspace', env.workspace]);
    console.log(`$ drain analyze\n${text.stdout}`);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Runs worth another drain: 3\n {2}fc-delta: 4\.00 events\/min/m);
  });

  test('drain analyze --since 7d and a session: the scope narrows', async () => {
    const week = json(await offline(['analyze', '--since', '7d', '--json', '--workspace', env.workspace]));
    assert.equal(week.judgedAttempts, 8); // J1 is 10 days old
    assert.equal(week.telemetryShare, 0.5);
    assert.equal(week.minutes, 10.5); // 630 s
    // yields 0 0 0 0 3 3 3 4: median (0 + 3) / 2, P90 the 8th
    assert.deepEqual(week.yieldPerMinute, { median: 1.5, p90: 4 });

    const s2 = json(await offline(['analyze', S2, '--json', '--workspace', env.workspace]));
    assert.equal(s2.judgedAttempts, 3);
    assert.equal(s2.telemetryShare, 0.667);
    assert.deepEqual(s2.yieldPerMinute, { median: 3, p90: 4 });
    assert.deepEqual(s2.emptyAttempts, { tries: 2, minutes: 2.25 }); // J7 90 s + N1 45 s
    assert.deepEqual(
      s2.runsWorthAnotherDrain.map((r: { runId: string }) => r.runId),
      ['fc-delta', 'fc-queue'],
    );

    const text = await offline(['analyze', S2, '--workspace', env.workspace]);
    console.log(`$ drain analyze ${S2}\n${text.stdout}`);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Judged attempts: 3; with telemetry: 2 \(66\.7%\)/);
    assert.match(text.stdout, /stopped by memory \(session fc-hist-2/);

    const unknown = await offline(['analyze', 'no-such-session']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown session no-such-session/);
    const bad = await offline(['analyze', '--since', 'week']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since must be a whole number followed by d, h or m/);
  });
});
