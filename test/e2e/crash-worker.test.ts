/**
 * kill -9 of the worker while an executor runs: a new worker finishes the session, the old
 * process group is gone, the phase is never drained twice at once, and every try keeps
 * its drain_attempts row and its logs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startTestEnv, eventually, heartbeatRecorded, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts, type AttemptRow } from '../../src/db/attempts.js';
import { isGroupAlive } from '../../src/runtime/process-group.js';
import type { SessionResult } from '../../src/domain/messages.js';

async function runningRow(env: TestEnv, sessionId: string): Promise<AttemptRow | undefined> {
  const rows = await listSessionAttempts(env.pool, sessionId);
  return rows.find((r) => r.status === 'running' && r.pid);
}

async function killWorkerMidDrain(env: TestEnv, sessionId: string, phaseSeconds: number) {
  await seedPhases(env.pool, [
    {
      runId: `run-${sessionId}`,
      phaseId: 'slow',
      sim: { scenario: 'complete', events: 4, seconds: phaseSeconds },
    },
  ]);
  const worker = env.spawnWorker();
  const handle = await env.client.workflow.start('batchDrain', {
    taskQueue: env.taskQueue,
    workflowId: sessionId,
    args: [
      {
        batchSize: 1,
        runId: `run-${sessionId}`,
        phaseTimeoutSeconds: 120,
        heartbeatTimeoutSeconds: 4,
        killGraceSeconds: 1,
      },
    ],
  });
  const row = await eventually(() => runningRow(env, sessionId), 60_000, 'the executor to start');
  const pgid = row!.pid!;
  assert.ok(isGroupAlive(pgid), 'executor running');
  await heartbeatRecorded(handle); // recovery reconciles from the heartbeat's details
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  // The executor's group outlives the killed worker: it is detached on purpose.
  const survived = isGroupAlive(pgid);
  const replacement = await env.startWorker();
  const result = (await handle.result()) as SessionResult;
  await replacement.shutdown(); // the next test's killable worker must be the only poller
  return { result, pgid, survived, attempts: await listSessionAttempts(env.pool, sessionId) };
}

function eventTimes(env: TestEnv, runId: string) {
  return env.pool
    .query<{ t: Date }>(
      'SELECT timestamp AS t FROM token_estimation_v2_events WHERE run_id = $1 ORDER BY event_id',
      [runId],
    )
    .then((r) => r.rows.map((x) => x.t.getTime()));
}

describe('worker killed with SIGKILL mid-drain', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
  });
  after(() => env?.teardown());

  test('the executor is still running: the retry kills the old group and drains again', async () => {
    const sessionId = 'kill9-redrain';
    const { result, pgid, survived, attempts } = await killWorkerMidDrain(env, sessionId, 12);
    assert.equal(survived, true, 'the executor outlived its worker');
    assert.equal(result.processed, 1);
    assert.equal(result.succeeded, 1);
    assert.equal(isGroupAlive(pgid), false, 'old process group gone');
    const tries = attempts.sort((a, b) => a.try - b.try);
    assert.deepEqual(
      tries.map((t) => [t.attempt, t.try, t.status]),
      [
        [1, 1, 'interrupted'],
        [1, 2, 'finished'],
      ],
    );
    for (const t of tries) assert.ok(existsSync(t.stdout_path!) && existsSync(t.stderr_path!), 'logs kept');
    assert.notEqual(tries[0].stdout_path, tries[1].stdout_path);
    assert.match(readFileSync(tries[0].stdout_path!, 'utf8'), /\[sim\] draining/);
    // Never twice at once: every telemetry row of the second run comes after the first run's.
    const times = await eventTimes(env, `run-${sessionId}`);
    const secondStart = new Date(tries[1].started_at).getTime();
    const before = times.filter((t) => t < secondStart);
    const afterStart = times.filter((t) => t >= secondStart);
    assert.equal(afterStart.length, 4, 'the second run wrote its 4 events');
    assert.ok(before.length < 4, 'the first run was cut short');
    // The old executor kept writing its own log after its worker died.
    assert.match(readFileSync(tries[0].stdout_path!, 'utf8'), /estimation sample 1\/4/);
  });

  test('the phase finished meanwhile: the retry records that outcome without running it again', async () => {
    const sessionId = 'kill9-reconcile';
    const { result, attempts } = await killWorkerMidDrain(env, sessionId, 2);
    assert.equal(result.processed, 1);
    assert.equal(result.succeeded, 1);
    const tries = attempts.sort((a, b) => a.try - b.try);
    assert.deepEqual(
      tries.map((t) => [t.try, t.status]),
      [
        [1, 'interrupted'],
        [2, 'reconciled'],
      ],
    );
    assert.equal(tries[1].stdout_path, tries[0].stdout_path, 'no new executor run, no new log');
    assert.equal(tries[1].final_state, 'COMPLETE');
    assert.equal(tries[1].telemetry_events, 4);
    assert.equal((await eventTimes(env, `run-${sessionId}`)).length, 4, 'executor ran once');
  });

  test('Ctrl-C on a worker kills its executor, marks the try interrupted, and another worker finishes', async () => {
    const sessionId = 'sigint-worker';
    await seedPhases(env.pool, [
      { runId: `run-${sessionId}`, phaseId: 'slow', sim: { scenario: 'complete', events: 2, seconds: 8 } },
    ]);
    const worker = env.spawnWorker();
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: sessionId,
      args: [{ batchSize: 1, runId: `run-${sessionId}`, heartbeatTimeoutSeconds: 4, killGraceSeconds: 1 }],
    });
    const row = await eventually(() => runningRow(env, sessionId), 60_000, 'the executor to start');
    worker.kill('SIGINT');
    const code = await new Promise((r) => worker.once('exit', (c) => r(c)));
    assert.equal(code, 0, 'the worker stopped cleanly');
    assert.equal(isGroupAlive(row!.pid!), false, 'its executor was killed with it');
    const replacement = await env.startWorker();
    const result = (await handle.result()) as SessionResult;
    await replacement.shutdown();
    assert.equal(result.succeeded, 1);
    const tries = (await listSessionAttempts(env.pool, sessionId)).sort((a, b) => a.try - b.try);
    assert.deepEqual(
      tries.map((t) => [t.try, t.status]),
      [
        [1, 'interrupted'],
        [2, 'finished'],
      ],
    );
  });

  test('a worker starting on this host stops an executor whose drain was retried elsewhere', async () => {
    const sessionId = 'reap-orphans';
    await seedPhases(env.pool, [
      { runId: `run-${sessionId}`, phaseId: 'long', sim: { scenario: 'complete', seconds: 60 } },
    ]);
    const worker = env.spawnWorker();
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: sessionId,
      // a long heartbeat timeout: the activity retry will not come during this test
      args: [{ batchSize: 1, runId: `run-${sessionId}`, heartbeatTimeoutSeconds: 300 }],
    });
    const row = await eventually(() => runningRow(env, sessionId), 60_000, 'the executor to start');
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    assert.equal(isGroupAlive(row!.pid!), true, 'orphaned executor still running');
    // What a retry on another host does (it cannot kill a process group on this host):
    await env.pool.query("UPDATE drain_attempts SET status = 'interrupted' WHERE session_id = $1", [
      sessionId,
    ]);
    const next = await env.startWorker();
    assert.equal(isGroupAlive(row!.pid!), false, 'reaped when a worker started on this host');
    await handle.terminate('test over');
    await next.shutdown();
  });
});
