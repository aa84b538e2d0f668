/**
 * Long sessions: continue-as-new keeps the whole state (300 instant phases), the total time
 * budget is workflow time (time-skipping test server), and a phase's timeout is capped to
 * what is left of the session's budget.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { eventually, startTestEnv, workflowBundle, type TestEnv } from '../helpers/env.js';
import { sessionJsonPath } from '../../activities/paths.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { findTestServer } from '../../src/runtime/binaries.js';
import { createDrainWorker } from '../../src/worker.js';
import { pauseSignal, resumeSignal, type SessionResult } from '../../src/domain/messages.js';
import { sessionRowsRead } from '../../activities/session-rows.js';
import { sessionJsonWritten } from '../../activities/session-json.js';
import { drainResultJson } from '../../src/domain/report-json.js';

describe('long sessions', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('continue-as-new at 300 phases keeps totals, fingerprints and stopped runs', async () => {
    const phases = Array.from({ length: 300 }, (_, i) => ({
      runId: `can-run-${i % 6}`,
      phaseId: `p${String(i).padStart(3, '0')}`,
      phaseIndex: i,
      lastFailureReason: 'deliverable missing: src/x.py',
    }));
    await seedPhases(env.pool, phases);
    const read0 = { ...sessionRowsRead };
    const written0 = { ...sessionJsonWritten };
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'can-300',
      // `true` exits 0 at once without completing the phase: an instant, repeatable failure.
      args: [
        {
          batchSize: 300,
          executor: 'true',
          continueAsNewAfterEvents: 1000,
          maxTimeoutsPerRun: 1,
          runId: null,
        },
      ],
    });
    const result = (await handle.result()) as SessionResult;
    assert.equal(result.processed, 300);
    assert.equal(result.failed, 300);
    const desc = await handle.describe();
    assert.notEqual(desc.runId, handle.firstExecutionRunId, 'the session continued as new');
    const json = JSON.parse(readFileSync(result.sessionJson!, 'utf8'));
    assert.ok(json.generation >= 2, `handed over ${json.generation} times`);
    assert.equal(json.total_processed, 300);
    assert.equal(json.results.length, 300);
    const counts = Object.values(json.fingerprint_counts) as number[];
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      300,
      'every fingerprint counted once',
    );
    assert.deepEqual(json.stopped_fingerprints, Object.keys(json.fingerprint_counts));
    assert.equal(json.sampled_runs.length, 6);
    assert.equal(json.deprioritized_runs.length, 6);
    const rows = await listSessionAttempts(env.pool, 'can-300');
    assert.equal(rows.length, 300);
    // The session JSON is written incrementally: its writes read the rows that changed, not
    // every row each time (which would be ~300 × 301 / 2 = 45150 rows), and the result is the
    // same as a rebuild from every row.
    const writes = sessionRowsRead.writes - read0.writes;
    const read = sessionRowsRead.rows - read0.rows;
    assert.ok(read <= 3 * rows.length, `${read} rows read by ${writes} session JSON writes`);
    // A running session's JSON is rewritten once the new results reach 1/16 of those it holds
    // (src/domain/json-cadence.ts): the bytes written stay a constant multiple of the final
    // file (about 17×), where a rewrite after every phase writes ~N/2 times it (here ~150×).
    const size = statSync(result.sessionJson!).size;
    const bytes = sessionJsonWritten.bytes - written0.bytes;
    const files = sessionJsonWritten.writes - written0.writes;
    assert.ok(bytes <= 25 * size, `${bytes} bytes written for a ${size}-byte session JSON (${files} writes)`);
    assert.ok(files >= 32 && files < 150, `${files} writes of the session JSON for 300 phases`);
    // known_failure (tokens spent on an already-stopped fingerprint, issue 18) is an annotation
    // from the session's stops, not a column of the row: compared apart.
    const plain = json.results.map(({ known_failure: _known, ...r }: Record<string, unknown>) => r);
    assert.deepEqual(plain, JSON.parse(JSON.stringify(rows.map(drainResultJson))));
    const known = json.results.filter((r: Record<string, unknown>) => r.known_failure);
    assert.ok(known.length > 0, 'attempts after a fingerprint was stopped are marked');
    for (const r of known) {
      assert.equal(r.known_failure, 'stopped');
      assert.equal(r.success, false);
      assert.ok(json.stopped_fingerprints.includes(r.failure_fingerprint), r.failure_fingerprint);
    }
  });

  // Issue 19: the running session JSON is rewritten off the phases' path. Its writer is held at
  // its lock here (another connection holds the file's advisory lock): the session's phases go
  // on meanwhile, and the file is complete once the session ends.
  test('phases go on while the running session JSON cannot be written; the final file has them all', async () => {
    const id = 'json-off-path';
    await seedPhases(
      env.pool,
      Array.from({ length: 6 }, (_, i) => ({ runId: 'json-bg-run', phaseId: `p${i}`, phaseIndex: i })),
    );
    const holder = await env.pool.connect();
    let held = true;
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT pg_advisory_xact_lock(hashtext('drain-session-json:' || $1))", [
        sessionJsonPath(env.workspace, id),
      ]);
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: id,
        args: [{ runId: 'json-bg-run', batchSize: 6, executor: 'true', maxAttemptsPerPhase: 1 }],
      });
      const finished = async () =>
        (await listSessionAttempts(env.pool, id)).filter((r) => r.status === 'finished').length;
      await eventually(async () => (await finished()) === 6, 60_000, 'all six phases to finish');
      assert.equal(existsSync(sessionJsonPath(env.workspace, id)), false, 'no JSON written yet');
      await holder.query('COMMIT');
      held = false;
      const result = (await h.result()) as SessionResult;
      const json = JSON.parse(readFileSync(result.sessionJson!, 'utf8'));
      assert.equal(json.results.length, 6);
      assert.equal(json.total_processed, 6);
    } finally {
      if (held) await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
  });

  test('a phase timeout is capped to the time left; the budget then ends the session', async () => {
    await seedPhases(env.pool, [
      { runId: 'budget-run', phaseId: 'hang', phaseIndex: 0, sim: { scenario: 'hang' } },
      { runId: 'budget-run', phaseId: 'hang-too', phaseIndex: 1, sim: { scenario: 'hang' } },
    ]);
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'budget-capped',
      args: [{ runId: 'budget-run', maxTotalMinutes: 0.1, phaseTimeoutSeconds: 900, killGraceSeconds: 1 }],
    });
    const r = (await h.result()) as SessionResult;
    assert.ok(r.processed >= 1);
    assert.equal(r.timeouts, r.processed, 'every phase ran into its (capped) timeout');
    assert.equal(r.stopReason, 'max total minutes reached (0.1)');
    const attempts = await listSessionAttempts(env.pool, 'budget-capped');
    const total = attempts.reduce((s, a) => s + a.duration_seconds!, 0);
    assert.ok(
      total < 6 + 2 * attempts.length,
      `phases stayed within the 6 s budget (+ kill grace): ${total}s`,
    );
    for (const a of attempts) assert.match(readFileSync(a.stdout_path!, 'utf8'), /timeout: [1-6]s/);
  });
});

describe('the time budget is workflow time', () => {
  let env: TestEnv;
  let ts: TestWorkflowEnvironment;
  before(async () => {
    env = await startTestEnv();
    ts = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: findTestServer() } },
    });
  });
  after(async () => {
    await ts?.teardown();
    await env?.teardown();
  });

  test('61 skipped minutes end a 60-minute session in seconds of wall time', async () => {
    await seedPhases(
      env.pool,
      [0, 1, 2].map((i) => ({
        runId: 'ts-run',
        phaseId: `p${i}`,
        phaseIndex: i,
        sim: { scenario: 'complete', seconds: 0.2 },
      })),
    );
    const worker = await createDrainWorker({
      temporalAddress: ts.address,
      namespace: 'default',
      taskQueue: 'ts-queue',
      databaseUrl: env.databaseUrl,
      workspace: env.workspace,
      executor: env.executor,
      workflowBundle: await workflowBundle(),
    });
    const running = worker.run();
    try {
      const wall = Date.now();
      const h = await ts.client.workflow.start('batchDrain', {
        taskQueue: 'ts-queue',
        workflowId: 'ts-budget',
        args: [{ runId: 'ts-run', maxTotalMinutes: 60, batchSize: 3 }],
      });
      await h.signal(pauseSignal);
      await ts.sleep('61 minutes');
      await h.signal(resumeSignal);
      const r = (await h.result()) as SessionResult;
      assert.equal(r.stopReason, 'max total minutes reached (60)');
      assert.ok(r.processed <= 1, `at most the phase in flight when paused (${r.processed})`);
      assert.ok(Date.now() - wall < 60_000, 'wall time is far below the budget');
    } finally {
      await worker.shutdown();
      await running.catch(() => {});
    }
  });
});
