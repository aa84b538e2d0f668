/**
 * Infrastructure going away mid-session: the Temporal dev server restarted on the same db
 * file, and Postgres stopped for ~20 s. The session completes and no attempt is lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import type { SessionResult } from '../../src/domain/messages.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('infrastructure restarts mid-session', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('restarting the Temporal dev server (same db file): the session completes', async () => {
    const runId = 'restart-temporal';
    await seedPhases(
      env.pool,
      [1, 2, 3, 4].map((i) => ({
        runId,
        phaseId: `p${i}`,
        phaseIndex: i,
        sim: { scenario: 'complete', events: 1, seconds: 1.5 },
      })),
    );
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'session-restart-temporal',
      args: [{ batchSize: 4, runId }],
    });
    await eventually(
      async () => (await listSessionAttempts(env.pool, handle.workflowId)).length >= 1,
      30_000,
      'a first attempt',
    );
    await env.restartTemporal();
    const result = (await handle.result()) as SessionResult;
    assert.equal(result.processed, 4);
    assert.equal(result.succeeded, 4);
    const rows = await listSessionAttempts(env.pool, handle.workflowId);
    const finals = rows.filter((r) => r.status !== 'interrupted');
    assert.equal(finals.length, 4, 'one final record per phase');
    assert.equal(rows.filter((r) => r.status === 'running').length, 0);
  });

  test('stopping Postgres for ~20 s: the session completes, no attempt lost', async () => {
    const runId = 'stop-postgres';
    await seedPhases(
      env.pool,
      [1, 2, 3, 4].map((i) => ({
        runId,
        phaseId: `p${i}`,
        phaseIndex: i,
        sim: { scenario: 'complete', events: 2, seconds: 2 },
      })),
    );
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'session-stop-postgres',
      // Two tries only: a 20 s outage must not use up a drain's tries (it waits for the database).
      args: [{ batchSize: 8, runId, maxAttemptsPerPhase: 3, maxDrainTries: 2 }],
    });
    await eventually(
      async () => (await listSessionAttempts(env.pool, handle.workflowId)).length >= 1,
      30_000,
      'a first attempt',
    );
    await env.postgres.stop();
    await sleep(20_000);
    await env.postgres.start();
    const result = (await handle.result()) as SessionResult;
    const rows = await listSessionAttempts(env.pool, handle.workflowId);
    assert.equal(rows.filter((r) => r.status === 'running').length, 0, 'no try left running');
    assert.deepEqual(
      rows.filter((r) => r.status === 'abandoned').map((r) => r.phase_id),
      [],
      'no attempt abandoned because the database was away',
    );
    const finals = rows.filter((r) => r.status !== 'interrupted');
    assert.equal(finals.length, result.processed, 'every attempt of the session has its record');
    const states = (await env.pool.query('SELECT state FROM phases WHERE run_id = $1', [runId])).rows.map(
      (r) => r.state,
    );
    assert.deepEqual(states, ['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE'], 'the backlog was drained');
    assert.ok(result.processed >= 4 && result.processed <= 8, `processed ${result.processed}`);
  });
});
