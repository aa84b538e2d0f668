/**
 * Slots (`concurrency`): several phases of one session drain at once on real services, never
 * two of one run; stop conditions apply between slots; pause, stop and cancel act on every
 * busy slot; the time budget caps each slot's timeout. One environment, short executors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { listSessionAttempts, type AttemptRow } from '../../src/db/attempts.js';
import { verifySession } from '../../src/cli/verify-session.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import { peakParallel, runOverlaps, spansOf } from '../../src/domain/overlap.js';
import { progressQuery, type Progress, type SessionResult } from '../../src/domain/messages.js';
import { linesSince } from '../../src/domain/progress-log.js';
import { historyCost } from '../../harness/history-payloads.js';
import type { SessionJson } from '../../src/domain/report.js';

const spans = (rows: AttemptRow[]) =>
  spansOf(rows, (r) => ({
    runId: r.run_id,
    from: r.started_at,
    to: r.finished_at,
    label: `${r.run_id}/${r.phase_id}#${r.attempt}`,
  }));
const busy = (p: Progress) => (p.slots ?? []).filter(Boolean);

describe('slots: several phases of one session at once', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  /** A fresh backlog of `runs` × `perRun` phases acting out `sim`. */
  async function backlog(runs: string[], perRun: number, sim: object, over: Partial<PhaseSeed> = {}) {
    await env.pool.query('TRUNCATE phases, runs CASCADE');
    const seeds = runs.flatMap((runId) =>
      Array.from({ length: perRun }, (_, i) => ({
        runId,
        phaseId: `${runId}-p${i}`,
        phaseIndex: i,
        sim,
        ...over,
      })),
    );
    await seedPhases(env.pool, seeds);
  }
  const start = (workflowId: string, input: object) =>
    env.client.workflow.start('batchDrain', { taskQueue: env.taskQueue, workflowId, args: [input] });
  const progress = (id: string) => env.client.workflow.getHandle(id).query(progressQuery);
  const sessionJson = (r: SessionResult) => JSON.parse(readFileSync(r.sessionJson!, 'utf8')) as SessionJson;

  test('concurrency 3 on 4 runs × 3 phases: parallel, never two phases of one run at once', async () => {
    const runs = ['ex-a', 'ex-b', 'ex-c', 'ex-d'];
    await backlog(runs, 3, { scenario: 'complete', events: 1, seconds: 0.8 });
    const h = await start('slots-exclusive', { batchSize: 12, concurrency: 3, maxAttemptsPerPhase: 1 });
    let mostBusy = 0;
    const watching = (async () => {
      for (;;) {
        const p = await progress(h.workflowId).catch(() => null);
        if (!p || p.status === 'completed') return;
        const held = busy(p).map((c) => c!.runId);
        assert.equal(new Set(held).size, held.length, `two slots on one run: ${held.join(', ')}`);
        assert.equal(p.slots?.length, 3);
        mostBusy = Math.max(mostBusy, held.length);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const r = (await h.result()) as SessionResult;
    await watching;
    assert.equal(r.processed, 12);
    assert.equal(r.succeeded, 12);
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    assert.equal(rows.length, 12);
    assert.deepEqual(runOverlaps(spans(rows)), [], 'no two attempts of one run overlapped');
    assert.ok(peakParallel(spans(rows)) >= 2, `attempts ran in parallel (peak ${peakParallel(spans(rows))})`);
    assert.ok(mostBusy >= 2, `progress showed several busy slots (${mostBusy})`);
    const done = await env.pool.query("SELECT count(*)::int AS n FROM phases WHERE state = 'COMPLETE'");
    assert.equal(done.rows[0].n, 12);
    const json = sessionJson(r);
    assert.equal(json.concurrency, 3);
    assert.ok((json.peak_parallel_attempts ?? 0) >= 2);
    assert.equal(json.results.length, 12, 'the last session JSON write has every attempt');
    assert.equal(json.total_processed, 12);
    const v = await verifySession(env.pool, h.workflowId);
    assert.equal(v.verdict, 'PASS', JSON.stringify(v.criteria.flatMap((c) => c.problems)));
    assert.deepEqual(v.criteria[2].evidence.run_overlaps, []);
    const leases = await env.pool.query('SELECT * FROM drain_leases');
    assert.equal(leases.rowCount, 0, 'every lease released');
    const lines = linesSince((await progress(h.workflowId)).log, 0).lines;
    assert.ok(
      lines.some((l) => /^\[slot [123]\] {3}\[OK\] Success: COMPLETE \(ex-[a-d] \/ ex-[a-d]-p\d\)$/.test(l)),
      lines.join('\n'),
    );
    // Selection and recording of concurrent slots are regular activities (history events), not
    // local activities (markers), whose resolutions a replay of concurrent slots may order
    // differently: the query above replayed the completed session.
    const events = (await h.fetchHistory()).events ?? [];
    const scheduled = (name: string) =>
      events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
    const localMarkers = events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    assert.equal(localMarkers.length, 0, 'no local activities with several slots');
    // Each phase recorded once: by finishPhase, or with the slot's next pick (finishPhaseAndPick).
    assert.equal(scheduled('finishPhase') + scheduled('finishPhaseAndPick'), 12);
    assert.ok(
      scheduled('finishPhaseAndPick') >= 1,
      'a slot recorded a phase and picked its next in one activity',
    );
    // Parallel picks (issue 19): slots select at once, not in turns — one workflow task
    // schedules several selections (in turns, the next is scheduled only after one completed);
    // each slot picks for itself, so at least one selection per phase.
    const selects = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'selectNextPhase',
    );
    const perTask = new Map<string, number>();
    for (const e of selects) {
      const task = String(e.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId);
      perTask.set(task, (perTask.get(task) ?? 0) + 1);
    }
    assert.ok(Math.max(...perTask.values()) >= 2, `selections per workflow task: ${[...perTask.values()]}`);
    assert.ok(selects.length + scheduled('finishPhaseAndPick') >= 12, `${selects.length} selections`);
  });

  test('two sessions with two slots each: no run drained by two slots or sessions at once', async () => {
    const runs = ['tw-a', 'tw-b', 'tw-c', 'tw-d'];
    await backlog(runs, 3, { scenario: 'complete', events: 1, seconds: 0.6 });
    const input = { batchSize: 12, concurrency: 2, maxAttemptsPerPhase: 1 };
    const [h1, h2] = await Promise.all([start('slots-two-1', input), start('slots-two-2', input)]);
    const [r1, r2] = (await Promise.all([h1.result(), h2.result()])) as SessionResult[];
    assert.equal(r1.succeeded + r2.succeeded, 12, 'each phase drained once overall');
    const rows = [
      ...(await listSessionAttempts(env.pool, h1.workflowId)),
      ...(await listSessionAttempts(env.pool, h2.workflowId)),
    ].filter((x) => x.status !== 'lost');
    assert.deepEqual(runOverlaps(spans(rows)), [], 'no run drained twice at once, across both sessions');
    assert.equal((await env.pool.query('SELECT * FROM drain_leases')).rowCount, 0);
  });

  test('continue-as-new with slots: every slot finishes its phase, the next run goes on', async () => {
    await backlog(['cn-a', 'cn-b', 'cn-c'], 12, { scenario: 'complete', events: 1, seconds: 0.2 });
    const h = await start('slots-continue', { batchSize: 36, concurrency: 3, continueAsNewAfterEvents: 200 });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 36);
    assert.equal(r.succeeded, 36);
    const cost = await historyCost(env.client, h.workflowId);
    assert.ok(cost.runs >= 2, `the session continued as new (${cost.runs} runs)`);
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    assert.equal(rows.length, 36);
    assert.deepEqual(runOverlaps(spans(rows)), []);
  });

  test('queued mode: each run drains its queued phases in order, one at a time', async () => {
    const runs = ['qu-a', 'qu-b', 'qu-c'];
    await backlog(runs, 3, { scenario: 'complete', events: 1, seconds: 0.5 }, { state: 'QUEUED' });
    const h = await start('slots-queued', { batchSize: 9, concurrency: 3, mode: 'queued' });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.succeeded, 9);
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    assert.deepEqual(runOverlaps(spans(rows)), []);
    for (const run of runs) {
      const order = rows
        .filter((x) => x.run_id === run)
        .sort((a, b) => +a.started_at - +b.started_at)
        .map((x) => x.phase_id);
      assert.deepEqual(
        order,
        [0, 1, 2].map((i) => `${run}-p${i}`),
        `${run} in phase order`,
      );
    }
  });

  test('a run stopped by one slot’s result is not picked by the next free slot', async () => {
    await env.pool.query('TRUNCATE phases, runs CASCADE');
    await seedPhases(env.pool, [
      ...[0, 1, 2].map((i) => ({
        runId: 'st-hang',
        phaseId: `h${i}`,
        phaseIndex: i,
        sim: { scenario: 'hang' },
      })),
      // Eight short phases keep the other slot busy past the timeout; the timeout is long enough
      // that a short phase on a loaded machine (supervisor and executor start-up) never meets it.
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({
        runId: 'st-ok',
        phaseId: `o${i}`,
        phaseIndex: i,
        lastFailureReason: 'patch apply failed',
        sim: { scenario: 'complete', events: 1, seconds: 0.6 },
      })),
    ]);
    const h = await start('slots-stopped-run', {
      batchSize: 20,
      concurrency: 2,
      maxTimeoutsPerRun: 1,
      phaseTimeoutSeconds: 5,
      killGraceSeconds: 1,
      maxAttemptsPerPhase: 1,
    });
    const r = (await h.result()) as SessionResult;
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    const hangRows = rows.filter((x) => x.run_id === 'st-hang');
    assert.equal(hangRows.length, 1, 'one timeout stopped the run: no second phase of it was drained');
    assert.equal(r.timeouts, 1, 'only the hanging phase timed out');
    assert.equal(rows.filter((x) => x.run_id === 'st-ok' && x.success).length, 8, 'the other slot went on');
    assert.ok(
      r.skipped.some((s) => s.runId === 'st-hang' && /has 1 timeouts/.test(s.reason)),
      JSON.stringify(r.skipped),
    );
    assert.deepEqual(runOverlaps(spans(rows)), []);
  });

  test('a session stop condition reached by one result: the free slot picks nothing more', async () => {
    await backlog(['zy-a', 'zy-b', 'zy-c'], 2, { scenario: 'fail', seconds: 0.8 });
    const h = await start('slots-zero-yield', { batchSize: 20, concurrency: 2, maxConsecutiveZeroYield: 2 });
    const r = (await h.result()) as SessionResult;
    assert.match(r.stopReason ?? '', /consecutive attempts with zero telemetry yield/);
    // Two results stop the session; at most the one other slot's phase was already under way.
    assert.ok(r.processed >= 2 && r.processed <= 3, `processed ${r.processed}`);
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    assert.equal(rows.length, r.processed);
  });

  test('pause, resume and stop with every slot busy', async () => {
    await backlog(['ps-a', 'ps-b', 'ps-c'], 3, { scenario: 'complete', events: 1, seconds: 2.5 });
    const h = await start('slots-pause-stop', { batchSize: 9, concurrency: 3 });
    await eventually(async () => busy(await progress(h.workflowId)).length === 3, 30_000, '3 busy slots');
    await h.signal('pause');
    const paused = await eventually(
      async () => {
        const p = await progress(h.workflowId);
        return p.processed === 3 && busy(p).length === 0 ? p : null;
      },
      30_000,
      'the 3 busy phases to finish',
    );
    assert.equal(paused!.status, 'paused');
    await new Promise((r) => setTimeout(r, 2000));
    const still = await progress(h.workflowId);
    assert.equal(still.processed, 3, 'no slot started a phase while paused');
    assert.equal(busy(still).length, 0);
    assert.equal((await listSessionAttempts(env.pool, h.workflowId)).length, 3);
    await h.signal('resume');
    await eventually(async () => busy(await progress(h.workflowId)).length === 3, 30_000, 'busy again');
    await h.signal('stop', 'enough');
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 6, 'the three phases under way when stopped were finished, no more');
    assert.equal(r.succeeded, 6);
    assert.equal(r.stopReason, 'stop requested by operator: enough');
  });

  test('cancel with every slot busy: all three attempts cancelled, executors gone, leases released', async () => {
    await backlog(['cx-a', 'cx-b', 'cx-c'], 1, { scenario: 'hang' });
    const h = await start('slots-cancel', { batchSize: 9, concurrency: 3, killGraceSeconds: 1 });
    await eventually(async () => busy(await progress(h.workflowId)).length === 3, 30_000, '3 busy slots');
    const pids = await eventually(
      async () => {
        const rows = await listSessionAttempts(env.pool, h.workflowId);
        const withPid = rows.filter((x) => x.pid);
        return withPid.length === 3 ? withPid.map((x) => x.pid!) : null;
      },
      30_000,
      'three executors started',
    );
    await new Promise((r) => setTimeout(r, 1500)); // a heartbeat, so the cancellation reaches them
    await h.cancel();
    await assert.rejects(h.result());
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    assert.deepEqual(
      rows.map((x) => x.status),
      ['cancelled', 'cancelled', 'cancelled'],
    );
    for (const pid of pids!) assert.equal(isProcessAlive(pid), false, `executor ${pid} is gone`);
    assert.equal((await env.pool.query('SELECT * FROM drain_leases')).rowCount, 0);
    const json = JSON.parse(
      readFileSync(`${env.workspace}/.autonomous_runs/batch_drain_sessions/slots-cancel.json`, 'utf8'),
    ) as SessionJson;
    assert.equal(json.status, 'cancelled');
    assert.equal(json.total_cancelled, 3);
  });

  test('maxTotalMinutes caps each slot’s phase timeout by the time left', async () => {
    await backlog(['bu-a', 'bu-b', 'bu-c', 'bu-d'], 1, { scenario: 'hang' });
    const budgetSeconds = 9;
    const h = await start('slots-budget', {
      batchSize: 9,
      concurrency: 2,
      phaseTimeoutSeconds: 600,
      maxTotalMinutes: budgetSeconds / 60,
      killGraceSeconds: 1,
    });
    const seen = await eventually(
      async () => {
        const p = await progress(h.workflowId);
        return busy(p).length === 2 ? p : null;
      },
      30_000,
      '2 busy slots',
    );
    const deadline = Date.parse(seen!.startedAt) + budgetSeconds * 1000;
    for (const c of busy(seen!)) {
      const left = (deadline - Date.parse(c!.startedAt)) / 1000;
      assert.ok(
        c!.timeoutSeconds <= Math.ceil(left),
        `slot timeout ${c!.timeoutSeconds}s within ${left}s left`,
      );
    }
    const r = (await h.result()) as SessionResult;
    assert.match(r.stopReason ?? '', /max total minutes reached/);
    // Each pick's timeout is what is left (at least 1 s): phases picked just before the deadline
    // get the 1 s minimum, so every phase ends within that of the deadline (plus kill grace).
    assert.ok(r.processed >= 2, `processed ${r.processed}`);
    assert.equal(r.timeouts, r.processed, 'every phase was stopped by its (capped) timeout');
    const rows = await listSessionAttempts(env.pool, h.workflowId);
    for (const row of rows) {
      assert.ok(
        row.finished_at!.getTime() <= deadline + 4000,
        `${row.run_id} ended near the deadline (${row.finished_at!.toISOString()})`,
      );
    }
  });
});
