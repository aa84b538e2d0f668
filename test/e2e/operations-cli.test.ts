/**
 * The operator commands through the real CLI (`node bin/drain.js …` subprocesses) against a
 * real Temporal dev server, embedded Postgres and a worker: schedules (create, trigger, a
 * skipped overlapping trigger, pause/unpause/delete), list, pause/resume/stop, cancel, watch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { alive, okDrain, runDrain } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { progressQuery, type Progress, type SessionResult } from '../../src/domain/messages.js';

const SCHED = 'ops-nightly';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const complete = (seconds: number, events = 1) => ({ scenario: 'complete', events, seconds });

interface ListRow {
  sessionId: string;
  status: string;
  stopReason: string | null;
  processed: number | null;
  runFilter: string | null;
  startTime: string;
}

describe('operator commands of the drain CLI', () => {
  let env: TestEnv;
  let scheduledSession = '';
  const drain = (line: string) => runDrain(env.temporal.address, line);
  const ok = (line: string) => okDrain(env.temporal.address, line);
  const progress = (id: string) => env.client.workflow.getHandle(id).query(progressQuery);
  const result = (id: string) => env.client.workflow.getHandle(id).result() as Promise<SessionResult>;
  const start = (id: string, input: object) =>
    env.client.workflow.start('batchDrain', { taskQueue: env.taskQueue, workflowId: id, args: [input] });
  const describeSchedule = async () => JSON.parse(await ok(`schedule describe ${SCHED} --json`));
  const attempts = async (id: string) =>
    (await env.pool.query('SELECT status, pid FROM drain_attempts WHERE session_id = $1', [id])).rows;

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, [
      { runId: 'sched-run', phaseId: 's1', sim: complete(15) },
      { runId: 'sched-run', phaseId: 's2', sim: complete(6) },
      ...[1, 2, 3, 4].map((i) => ({ runId: 'ctl-run', phaseId: `c${i}`, sim: complete(2) })),
      { runId: 'cancel-run', phaseId: 'k1', sim: { scenario: 'hang' } },
      { runId: 'watch-run', phaseId: 'w1', sim: complete(0.5, 2) },
      { runId: 'watch-run', phaseId: 'w2', sim: complete(0.5, 1) },
    ]);
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('usage errors exit 2; unknown sessions and schedules exit 1 naming them', async () => {
    const [cron, batch, tz, pause, trigger] = await Promise.all([
      drain('schedule create bad --cron "0 2 * *"'),
      drain('schedule create bad --cron "0 2 * * *" --batch-size 0'),
      drain('schedule create bad --cron "0 2 * * *" --timezone Mars/Olympus'),
      drain('pause no-such-session'),
      drain('schedule trigger no-such-schedule'),
    ]);
    assert.deepEqual([cron.code, batch.code, tz.code, pause.code, trigger.code], [2, 2, 2, 1, 1]);
    assert.match(cron.stderr, /--cron must have 5 fields/);
    assert.match(batch.stderr, /batchSize/);
    assert.match(tz.stderr, /Mars\/Olympus/);
    assert.match(pause.stderr, /no drain session "no-such-session"/);
    assert.match(trigger.stderr, /no schedule "no-such-schedule"/);
  });

  test('schedule create + trigger starts a session; a second trigger while it runs is skipped', async () => {
    const created = await ok(
      `schedule create ${SCHED} --cron "0 2 * * *" --timezone UTC --note "nightly drain" ` +
        `--task-queue ${env.taskQueue} --run-id sched-run --batch-size 1 --phase-timeout-seconds 60`,
    );
    assert.match(created, /Created schedule ops-nightly: cron "0 2 \* \* \*" in UTC/);
    assert.match(await ok(`schedule trigger ${SCHED}`), /started session batch-drain-ops-nightly-/);
    const d1 = await describeSchedule();
    assert.equal(d1.numActionsTaken, 1);
    scheduledSession = d1.recentActions[0].workflowId;
    assert.match(scheduledSession, /^batch-drain-ops-nightly-\d{4}-/);
    assert.deepEqual(d1.runningActions, [scheduledSession]);

    assert.match(await ok(`schedule trigger ${SCHED}`), /skipped/);
    const d2 = await describeSchedule();
    assert.equal(d2.numActionsTaken, 1, 'no second action');
    assert.equal(d2.numActionsSkippedOverlap, 1);
    assert.equal(d2.recentActions.length, 1);
    assert.equal(d2.overlap, 'SKIP');
    assert.equal(d2.note, 'nightly drain');
    assert.equal(d2.input.runId, 'sched-run');
    const text = await ok(`schedule describe ${SCHED}`);
    assert.match(text, /cron "0 2 \* \* \*" in UTC/);
    assert.match(text, new RegExp(`running: +${scheduledSession}`));
    const query = `WorkflowType = 'batchDrain' AND TemporalScheduledById = '${SCHED}'`;
    const count = async () => (await env.client.workflow.count(query)).count;
    assert.equal(await eventually(count, 10_000, 'the scheduled session in visibility'), 1);

    const r = await result(scheduledSession);
    assert.equal(r.status, 'completed');
    assert.equal(r.processed, 1);
    assert.equal(r.succeeded, 1);
  });

  test('schedule pause / unpause / list / delete', async () => {
    await ok(`schedule pause ${SCHED} --note maintenance`);
    let d = await describeSchedule();
    assert.equal(d.paused, true);
    assert.equal(d.note, 'maintenance');
    const listed = await eventually(
      async () => {
        const rows = JSON.parse(await ok('schedule list --json')) as {
          scheduleId: string;
          paused: boolean;
          last: string;
        }[];
        return rows.find((s) => s.scheduleId === SCHED && s.paused);
      },
      15_000,
      'the paused schedule in schedule list',
    );
    assert.equal(listed?.last, scheduledSession);
    await ok(`schedule unpause ${SCHED}`);
    d = await describeSchedule();
    assert.equal(d.paused, false);
    assert.match(await ok(`schedule delete ${SCHED}`), /Deleted schedule ops-nightly/);
    // Without an id, as in `drain schedule create --cron "0 2 * * *"`: the default id.
    await ok(`schedule create --cron "0 3 * * *" --paused --task-queue ${env.taskQueue} --batch-size 2`);
    assert.match(await ok('schedule describe batch-drain'), /cron "0 3 \* \* \*"/);
    await ok('schedule delete batch-drain');
    const gone = await drain(`schedule describe ${SCHED}`);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no schedule "ops-nightly"/);
  });

  test('pause waits after the current phase, resume continues, stop ends it normally', async () => {
    const id = 'ops-ctl';
    await start(id, { runId: 'ctl-run', batchSize: 10, phaseTimeoutSeconds: 60 });
    await eventually(async () => (await progress(id)).current, 20_000, 'the first phase');
    assert.match(await ok(`pause ${id} --reason e2e`), /current phase.*finishes/);
    const st = JSON.parse(await ok(`status ${id} --json`)) as Progress;
    assert.equal(st.paused, true);
    assert.equal(st.status, 'paused');
    const idle = async () => {
      const p = await progress(id);
      return p.processed === 1 && !p.current;
    };
    await eventually(idle, 20_000, 'the current phase to finish');
    await sleep(3000);
    assert.ok(await idle(), 'no new phase starts while paused');
    assert.equal((await attempts(id)).length, 1);
    const memo = (await env.client.workflow.getHandle(id).describe()).memo as { status?: string };
    assert.equal(memo.status, 'paused', 'the memo (Web UI, drain list) shows paused');

    await ok(`resume ${id}`);
    await eventually(async () => (await progress(id)).processed > 1, 20_000, 'a new phase after resume');
    assert.match(await ok(`stop ${id} --reason "maintenance window"`), /stop requested by operator/);
    const r = await result(id);
    assert.equal(r.status, 'completed');
    assert.equal(r.stopReason, 'stop requested by operator: maintenance window');
    assert.ok(r.processed >= 2 && r.processed < 4, `processed ${r.processed}`);
    assert.equal(r.succeeded, r.processed);
    const again = await drain(`pause ${id}`);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /session ops-ctl is not running \(status COMPLETED/);
  });

  test('cancel kills the executor and records the attempt as cancelled', async () => {
    const id = 'ops-cancel';
    // Heartbeats (which carry the cancellation to the activity) flush every 0.8 × heartbeat timeout.
    const input = { runId: 'cancel-run', batchSize: 1, killGraceSeconds: 1, heartbeatTimeoutSeconds: 3 };
    await start(id, input);
    const row = await eventually(async () => (await attempts(id)).find((a) => a.pid), 20_000, 'the executor');
    assert.match(await ok(`cancel ${id}`), /Cancellation requested/);
    const status = async () => (await env.client.workflow.getHandle(id).describe()).status.name;
    await eventually(async () => (await status()) === 'CANCELLED', 20_000, 'CANCELLED');
    // The workflow waits for the activity's cancellation: the row is final before the session closes.
    assert.deepEqual(
      (await attempts(id)).map((a) => a.status),
      ['cancelled'],
    );
    assert.equal(alive(row.pid), false, 'the executor is gone');
  });

  test('watch --plain prints progress lines until the session ends, then exits 0', async () => {
    const id = 'ops-watch';
    await start(id, { runId: 'watch-run', batchSize: 2, phaseTimeoutSeconds: 60 });
    const out = await ok(`watch ${id} --plain`);
    const lines = out.trim().split('\n');
    assert.match(lines[0], /^Watching session ops-watch/);
    const bars = lines.filter((l) => /\[[#-]+\] \d+\/2 {2}ok \d+ {2}fail \d+/.test(l));
    assert.ok(bars.length >= 2, `progress lines:\n${out}`);
    assert.match(bars.at(-1) ?? '', /\[#+\] 2\/2 {2}ok 2 {2}fail 0 {2}timeouts 0 {2}events 3 {2}done/);
    const end =
      /^Session ops-watch ended: COMPLETED .*processed 2\/2, ok 2, failed 0 .*stop reason: batch size/;
    assert.match(lines.at(-1) ?? '', end);
  });

  test('list shows the sessions newest first with their memo fields', async () => {
    const rows = (await eventually(
      async () => {
        const all = JSON.parse(await ok('list --json')) as ListRow[];
        const done = all.some((r) => r.sessionId === 'ops-watch' && r.status === 'COMPLETED');
        return all.length >= 4 && done ? all : null;
      },
      15_000,
      'the sessions in visibility',
    )) as ListRow[];
    const by = (id: string) => rows.find((r) => r.sessionId === id);
    assert.equal(by('ops-ctl')?.status, 'COMPLETED');
    assert.equal(by('ops-ctl')?.stopReason, 'stop requested by operator: maintenance window');
    assert.equal(by('ops-ctl')?.runFilter, 'ctl-run');
    assert.equal(by('ops-cancel')?.status, 'CANCELLED');
    assert.equal(by('ops-watch')?.processed, 2);
    assert.ok(by(scheduledSession), 'the scheduled session is listed');
    const starts = rows.map((r) => r.startTime);
    assert.deepEqual(starts, [...starts].sort().reverse(), 'newest first');
    assert.equal(JSON.parse(await ok('list --limit 1 --json')).length, 1);
    const text = await ok('list --all');
    assert.match(text, /^SESSION +STATUS +STARTED +CLOSED +PROCESSED +OK\/FAILED +RUN FILTER +STOP REASON/);
    assert.match(text, /ops-watch +COMPLETED .* 2\/2 +2\/0 +watch-run +batch size reached/);
  });
});
