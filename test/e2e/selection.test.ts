/**
 * Selection parity with the original controller, against a real dev server and Postgres:
 * the exact pick order of a dry run over 34 phases in 6 runs (sample-first triage, failure
 * category, phase_index, insertion order; queued runs and skip prefixes passed over with
 * their reasons), and real drains in which each stop condition fires.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { projectRoot } from '../../src/runtime/paths.js';
import type { SessionResult } from '../../src/domain/messages.js';

const REASONS: Record<string, string | null> = {
  none: null,
  collection: 'CI collection/import error: ModuleNotFoundError',
  deliverable: 'deliverable missing: src/report.py',
  patch: 'patch apply failed: hunk #2',
  other: 'AssertionError: expected 3 got 4',
  timeout: 'Phase timed out after 900s',
};
const RUNS: Record<string, string[]> = {
  alpha: ['timeout', 'other', 'patch', 'none', 'collection', 'deliverable', 'none', 'patch'],
  bravo: ['collection', 'none', 'timeout', 'deliverable', 'other', 'patch', 'collection', 'none'],
  charlie: ['deliverable', 'deliverable', 'patch', 'other', 'timeout', 'other', 'collection'],
  delta: ['patch', 'other', 'timeout', 'timeout', 'other', 'patch', 'deliverable'],
};
const id = (run: string, i: number) => `${run}-${i}-${RUNS[run][i]}`;
const backlog: PhaseSeed[] = [
  ...Object.entries(RUNS).flatMap(([runId, cats]) =>
    cats.map((c, i) => ({ runId, phaseId: id(runId, i), phaseIndex: i, lastFailureReason: REASONS[c] })),
  ),
  { runId: 'echo', phaseId: 'echo-0', phaseIndex: 0, lastFailureReason: null },
  { runId: 'echo', phaseId: 'echo-1', phaseIndex: 1, lastFailureReason: REASONS.collection },
  { runId: 'echo', phaseId: 'echo-2', phaseIndex: 2, state: 'QUEUED' },
  { runId: 'skip-me-1', phaseId: 'skip-0', phaseIndex: 0, lastFailureReason: null },
];
// Derived by hand from the rules: first the best phase of each run not yet sampled, then
// (every planned phase counts as a success, so all runs are promising) category → index → id.
const EXPECTED_PLAN = [
  ['bravo', 1],
  ['alpha', 3],
  ['charlie', 6],
  ['delta', 6],
  ['alpha', 6],
  ['bravo', 7],
  ['bravo', 0],
  ['alpha', 4],
  ['bravo', 6],
  ['charlie', 0],
  ['charlie', 1],
  ['bravo', 3],
  ['alpha', 5],
  ['delta', 0],
  ['alpha', 2],
  ['charlie', 2],
  ['bravo', 5],
  ['delta', 5],
  ['alpha', 7],
  ['alpha', 1],
  ['delta', 1],
  ['charlie', 3],
  ['bravo', 4],
  ['delta', 4],
  ['charlie', 5],
  ['alpha', 0],
  ['bravo', 2],
  ['delta', 2],
  ['delta', 3],
  ['charlie', 4],
].map(([r, i]) => `${r}/${id(r as string, i as number)}`);

describe('selection order and skip reasons (dry run)', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, backlog);
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('`drain start --dry-run --json` plans exactly the expected order and changes nothing', async () => {
    const before = (
      await env.pool.query('SELECT run_id, phase_id, state, updated_at FROM phases ORDER BY id')
    ).rows;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(projectRoot(), 'bin', 'drain.js'),
        'start',
        '--dry-run',
        '--json',
        '--batch-size',
        '40',
        '--skip-run-prefix',
        'skip-me-',
        '--address',
        env.temporal.address,
        '--task-queue',
        env.taskQueue,
        '--session-id',
        'dry-run-order',
      ],
      { env: { ...process.env, DATABASE_URL: env.databaseUrl } },
    );
    const out = JSON.parse(stdout);
    const plan = out.planned.map((p: { runId: string; phaseId: string }) => `${p.runId}/${p.phaseId}`);
    assert.deepEqual(plan, EXPECTED_PLAN);
    assert.deepEqual(Object.keys(out.planned[0]).sort(), ['category', 'phaseId', 'phaseIndex', 'runId']);
    assert.equal(out.planned[0].category, 'unknown');
    assert.equal(out.planned.at(-1).category, 'timeout');
    const skips = new Map(
      out.skipped.map((s: { runId: string; phaseId: string; reason: string }) => [
        `${s.runId}/${s.phaseId}`,
        s.reason,
      ]),
    );
    assert.equal(skips.get('echo/echo-0'), 'run echo has 1 queued phase(s) (skip-runs-with-queued)');
    assert.equal(skips.get('echo/echo-1'), 'run echo has 1 queued phase(s) (skip-runs-with-queued)');
    assert.equal(skips.get('skip-me-1/skip-0'), 'run skip-me-1 matches skip-run-prefix skip-me-');
    const afterRows = (
      await env.pool.query('SELECT run_id, phase_id, state, updated_at FROM phases ORDER BY id')
    ).rows;
    assert.deepEqual(afterRows, before, 'no phase changed');
    assert.equal((await listSessionAttempts(env.pool, 'dry-run-order')).length, 0, 'no attempt rows');
  });
});

describe('stop conditions in real drains', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  const drain = async (sessionId: string, input: object) => {
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: sessionId,
      args: [input],
    });
    const r = (await h.result()) as SessionResult;
    const order = (await listSessionAttempts(env.pool, sessionId)).map((a) => `${a.run_id}/${a.phase_id}`);
    return { r, order, json: JSON.parse((await import('node:fs')).readFileSync(r.sessionJson!, 'utf8')) };
  };

  test('a repeating fingerprint is stopped and its run deprioritized', async () => {
    await seedPhases(env.pool, [
      ...[0, 1, 2, 3].map((i) => ({
        runId: 'fp',
        phaseId: `fp-${i}`,
        phaseIndex: i,
        lastFailureReason: 'patch apply failed',
        sim: { scenario: 'fail', reason: `patch apply failed at line ${10 + i}` },
      })),
      ...[0, 1].map((i) => ({
        runId: 'fp-ok',
        phaseId: `ok-${i}`,
        phaseIndex: i,
        lastFailureReason: REASONS.other,
        sim: { scenario: 'complete', events: 1 },
      })),
    ]);
    const { r, order, json } = await drain('stop-fingerprint', {
      skipRunPrefixes: ['x'],
      runId: null,
      batchSize: 6,
      maxFingerprintRepeats: 3,
      maxAttemptsPerPhase: 1,
    });
    assert.deepEqual(order, ['fp/fp-0', 'fp-ok/ok-0', 'fp-ok/ok-1', 'fp/fp-1', 'fp/fp-2', 'fp/fp-3']);
    assert.equal(r.processed, 6);
    const fp = 'FAILED|rc1|patch apply failed at line num';
    assert.equal(json.fingerprint_counts[fp], 4);
    assert.deepEqual(json.stopped_fingerprints, [fp]);
    assert.deepEqual(json.deprioritized_runs, ['fp']);
    assert.deepEqual(json.promising_runs, ['fp-ok']);
  });

  test('a run with maxTimeoutsPerRun timeouts is stopped; its other phases are passed over', async () => {
    await seedPhases(
      env.pool,
      [0, 1, 2].map((i) => ({ runId: 'to', phaseId: `to-${i}`, phaseIndex: i, sim: { scenario: 'hang' } })),
    );
    const { r, json } = await drain('stop-timeouts', {
      runId: 'to',
      phaseTimeoutSeconds: 2,
      killGraceSeconds: 1,
      maxTimeoutsPerRun: 2,
    });
    assert.equal(r.processed, 2);
    assert.equal(r.timeouts, 2);
    assert.equal(r.stopReason, 'no eligible phases left');
    assert.deepEqual(json.stopped_runs, ['to']);
    assert.ok(r.skipped.some((s) => s.phaseId === 'to-2' && s.reason === 'run to has 2 timeouts (limit: 2)'));
  });

  test('a phase is retried only after all others, and at most maxAttemptsPerPhase times', async () => {
    await seedPhases(env.pool, [
      { runId: 'att', phaseId: 'att-0', phaseIndex: 0, sim: { scenario: 'fail', reason: 'other failure' } },
      {
        runId: 'att',
        phaseId: 'att-1',
        phaseIndex: 1,
        sim: { scenario: 'fail', reason: 'different failure' },
      },
    ]);
    const { r, order } = await drain('stop-attempts', {
      runId: 'att',
      batchSize: 10,
      maxAttemptsPerPhase: 2,
    });
    assert.deepEqual(order, ['att/att-0', 'att/att-1', 'att/att-0', 'att/att-1']);
    assert.equal(r.processed, 4);
    assert.ok(
      r.skipped.some(
        (s) => s.phaseId === 'att-0' && s.reason === 'phase already attempted 2 times (limit: 2)',
      ),
    );
  });

  test('maxConsecutiveZeroYield ends the session', async () => {
    await seedPhases(
      env.pool,
      [0, 1, 2, 3, 4].map((i) => ({
        runId: 'zy',
        phaseId: `zy-${i}`,
        phaseIndex: i,
        sim: { scenario: 'fail', reason: `reason ${'abcde'[i]}` },
      })),
    );
    const { r, json } = await drain('stop-zero-yield', {
      runId: 'zy',
      batchSize: 10,
      maxConsecutiveZeroYield: 3,
    });
    assert.equal(r.processed, 3);
    assert.equal(r.stopReason, '3 consecutive attempts with zero telemetry yield (limit: 3)');
    assert.equal(json.consecutive_zero_yield, 3);
    assert.equal(json.zero_yield_reasons.failed_before_llm, 3);
  });
});
