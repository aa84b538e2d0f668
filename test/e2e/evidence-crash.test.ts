/**
 * One session through a killed worker (reconciled try), a frozen worker whose try outlives its
 * retry (a stale try that must not overwrite the record), and a cancellation: the state's
 * counters agree with the drain_attempts rows, and the stale try's row keeps its mark.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { startTestEnv, eventually, heartbeatRecorded, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts, type AttemptRow } from '../../src/db/attempts.js';
import type { SessionJson } from '../../src/domain/report.js';

const RUN = 'crash-evidence-run';
const SESSION = 'crash-evidence-1';

async function rowOf(
  env: TestEnv,
  phaseId: string,
  tryNo: number,
  status = 'running',
): Promise<AttemptRow | undefined> {
  const rows = await listSessionAttempts(env.pool, SESSION);
  return rows.find(
    (r) =>
      r.phase_id === phaseId && r.try === tryNo && r.status === status && (status !== 'running' || r.pid),
  );
}

const exited = (c: ChildProcess) =>
  new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

describe('counters agree with the rows; a stale try cannot overwrite', () => {
  let env: TestEnv;
  let rows: AttemptRow[];
  let json: SessionJson;
  let staleTry: AttemptRow | undefined;
  let staleTrailer = false;

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, [
      { runId: RUN, phaseId: 'p1-reconcile', sim: { scenario: 'complete', events: 2, seconds: 4 } },
      { runId: RUN, phaseId: 'p2-stale', sim: { scenario: 'complete', events: 1, seconds: 15 } },
      { runId: RUN, phaseId: 'p3-cancel', sim: { scenario: 'hang' } },
    ]);
    const a = env.spawnWorker();
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: SESSION,
      args: [
        {
          batchSize: 3,
          runId: RUN,
          phaseTimeoutSeconds: 120,
          heartbeatTimeoutSeconds: 3,
          killGraceSeconds: 1,
        },
      ],
    });
    // 1. kill -9 while p1 runs; p1 completes unwatched; the next worker reconciles it.
    await eventually(() => rowOf(env, 'p1-reconcile', 1), 60_000, 'p1 to start');
    await heartbeatRecorded(handle); // recovery reconciles from the heartbeat's details
    a.kill('SIGKILL');
    await exited(a);
    await eventually(
      async () =>
        (await env.pool.query("SELECT 1 FROM phases WHERE phase_id = 'p1-reconcile' AND state = 'COMPLETE'"))
          .rowCount,
      30_000,
      'p1 to complete unwatched',
    );
    // One activity slot: a frozen worker then holds no activity poll the retry could land in.
    const a2 = env.spawnWorker({}, ['--max-concurrent', '1']);
    // 2. freeze the worker running p2; another worker retries; then let the frozen one go on.
    const p2 = await eventually(() => rowOf(env, 'p2-stale', 1), 60_000, 'p2 to start');
    a2.kill('SIGSTOP');
    const b = env.spawnWorker({}, ['--max-concurrent', '1']);
    await eventually(() => rowOf(env, 'p2-stale', 2), 60_000, 'p2 retried as try 2').catch(async (e) => {
      console.log(JSON.stringify(await listSessionAttempts(env.pool, SESSION), null, 1));
      console.log((b as unknown as { output: string }).output);
      console.log(JSON.stringify((await handle.describe()).raw.pendingActivities, null, 1));
      throw e;
    });
    a2.kill('SIGCONT');
    await eventually(
      () => existsSync(p2!.stdout_path!) && /# --- .*exit code/.test(readFileSync(p2!.stdout_path!, 'utf8')),
      30_000,
      'the stale try to reach its final write',
    );
    staleTrailer = true;
    await new Promise((r) => setTimeout(r, 2000)); // its row write follows the trailer
    staleTry = (await listSessionAttempts(env.pool, SESSION)).find(
      (r) => r.phase_id === 'p2-stale' && r.try === 1,
    );
    // 3. cancel while p3 hangs.
    await eventually(() => rowOf(env, 'p3-cancel', 1), 90_000, 'p3 to start');
    await handle.cancel();
    await handle.result().catch(() => {});
    rows = await listSessionAttempts(env.pool, SESSION);
    json = JSON.parse(
      readFileSync(`${env.workspace}/.autonomous_runs/batch_drain_sessions/${SESSION}.json`, 'utf8'),
    ) as SessionJson;
    for (const w of [a2, b]) w.kill('SIGKILL');
  });
  after(() => env?.teardown());

  test('the session went through a reconciled, an interrupted and a cancelled try', () => {
    const byStatus = (s: string) => rows.filter((r) => r.status === s).map((r) => `${r.phase_id}#${r.try}`);
    assert.deepEqual(byStatus('reconciled'), ['p1-reconcile#2']);
    assert.deepEqual(byStatus('interrupted').sort(), ['p1-reconcile#1', 'p2-stale#1']);
    assert.deepEqual(byStatus('cancelled'), ['p3-cancel#1']);
    assert.deepEqual(byStatus('finished'), ['p2-stale#2']);
    assert.deepEqual(byStatus('running'), []);
  });

  test("the stale try reached its final write and left the retry's mark in place", () => {
    assert.ok(staleTrailer);
    assert.equal(staleTry?.status, 'interrupted');
    assert.match(staleTry?.error_message ?? '', /retried as try 2/);
    assert.equal(staleTry?.outcome, null, 'no outcome recorded by the stale try');
  });

  test('the session JSON counters equal the counts of the rows', () => {
    const count = (pred: (r: AttemptRow) => boolean) => rows.filter(pred).length;
    assert.equal(json.status, 'cancelled');
    assert.equal(
      json.total_interrupted,
      count((r) => r.status === 'interrupted'),
    );
    assert.equal(
      json.total_cancelled,
      count((r) => r.status === 'cancelled'),
    );
    assert.equal(
      json.total_processed,
      count((r) => r.status === 'finished' || r.status === 'reconciled'),
    );
    assert.equal(
      json.total_success,
      count((r) => Boolean(r.success) && r.status !== 'cancelled'),
    );
    assert.equal(json.interrupted_attempts.length, json.total_interrupted);
    const events = rows.filter((r) => r.status === 'finished' || r.status === 'reconciled');
    assert.equal(
      json.total_telemetry_events,
      events.reduce((n, r) => n + (r.telemetry_events ?? 0), 0),
    );
  });
});
