/**
 * Per-run exclusivity: two sessions started together never drain the same run at the same
 * time, and a lease left by a dead session expires on its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts, type AttemptRow } from '../../src/db/attempts.js';
import type { SessionResult } from '../../src/domain/messages.js';

describe('run leases', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('two sessions started together never hold the same run', async () => {
    const runs = ['lease-run-a', 'lease-run-b'];
    await seedPhases(
      env.pool,
      runs.flatMap((runId) =>
        [0, 1, 2].map((i) => ({
          runId,
          phaseId: `p${i}`,
          phaseIndex: i,
          sim: { scenario: 'complete', events: 1, seconds: 1 },
        })),
      ),
    );
    const start = (id: string) =>
      env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: id,
        args: [{ batchSize: 6, skipRunPrefixes: ['ghost-'] }],
      });
    const [h1, h2] = await Promise.all([start('lease-session-1'), start('lease-session-2')]);
    const [r1, r2] = (await Promise.all([h1.result(), h2.result()])) as SessionResult[];
    assert.equal(r1.processed + r2.processed, 6, 'each phase drained exactly once overall');
    const rows: AttemptRow[] = [
      ...(await listSessionAttempts(env.pool, h1.workflowId)),
      ...(await listSessionAttempts(env.pool, h2.workflowId)),
    ];
    for (const run of runs) {
      const spans = rows
        .filter((r) => r.run_id === run)
        .map((r) => ({
          s: r.session_id,
          from: new Date(r.started_at).getTime(),
          to: new Date(r.finished_at!).getTime(),
        }));
      for (const a of spans) {
        for (const b of spans) {
          if (a.s === b.s) continue;
          assert.ok(a.to <= b.from || b.to <= a.from, `${run}: ${a.s} and ${b.s} overlapped`);
        }
      }
    }
    const states = (await env.pool.query("SELECT DISTINCT state FROM phases WHERE run_id LIKE 'lease-run-%'"))
      .rows;
    assert.deepEqual(states, [{ state: 'COMPLETE' }]);
  });

  test('a lease held by a dead session expires and the run is drained after it', async () => {
    await seedPhases(env.pool, [
      { runId: 'ghost-held', phaseId: 'p0', sim: { scenario: 'complete', events: 1 } },
    ]);
    await env.pool.query(
      `INSERT INTO drain_leases (run_id, session_id, holder, expires_at)
       VALUES ('ghost-held', 'ghost-session', 'dead-worker', now() + interval '4 seconds')`,
    );
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'lease-waiter',
      args: [{ batchSize: 1, runId: 'ghost-held' }],
    });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.succeeded, 1, 'drained once the ghost lease expired');
    assert.ok(
      r.skipped.some(
        (s) => s.runId === 'ghost-held' && /being drained by session ghost-session/.test(s.reason),
      ),
      'the wait was reported with its reason',
    );
    const lease = await env.pool.query("SELECT * FROM drain_leases WHERE run_id = 'ghost-held'");
    assert.equal(lease.rowCount, 0, 'released after the phase');
  });
});
