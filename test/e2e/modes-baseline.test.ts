/**
 * Queued modes, the executor contract's environment, --api-url, and the T0 baseline captured
 * at most once per workspace commit across sessions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import type { SessionResult } from '../../src/domain/messages.js';

describe('modes, executor environment and baselines', () => {
  let env: TestEnv;
  const drain = async (id: string, input: object) => {
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [input],
    });
    const r = (await h.result()) as SessionResult;
    return { r, order: (await listSessionAttempts(env.pool, id)).map((a) => `${a.run_id}/${a.phase_id}`) };
  };
  const ok = { scenario: 'complete', events: 1 };
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('--mode queued drains the earliest queued phase of a run, one run at a time', async () => {
    await seedPhases(env.pool, [
      { runId: 'q1', phaseId: 'q1-b', phaseIndex: 1, state: 'QUEUED', sim: ok },
      { runId: 'q1', phaseId: 'q1-a', phaseIndex: 0, state: 'QUEUED', sim: ok },
      { runId: 'q1', phaseId: 'q1-failed', phaseIndex: 2, state: 'FAILED', sim: ok },
      { runId: 'q2', phaseId: 'q2-a', phaseIndex: 0, state: 'QUEUED', sim: ok },
    ]);
    const { r, order } = await drain('mode-queued', {
      mode: 'queued',
      batchSize: 10,
      skipRunPrefixes: ['qq'],
    });
    assert.deepEqual(order, ['q1/q1-a', 'q1/q1-b', 'q2/q2-a']);
    assert.equal(r.stopReason, 'no eligible phases left');
  });

  test('--mode queued-then-failed does the queued work first, then failed retries', async () => {
    await seedPhases(env.pool, [
      { runId: 'qq1', phaseId: 'failed-first-in-index', phaseIndex: 0, state: 'FAILED', sim: ok },
      { runId: 'qq1', phaseId: 'queued', phaseIndex: 1, state: 'QUEUED', sim: ok },
    ]);
    const { order } = await drain('mode-queued-then-failed', { mode: 'queued-then-failed', runId: 'qq1' });
    assert.deepEqual(order, ['qq1/queued', 'qq1/failed-first-in-index']);
  });

  test('the executor gets the contract environment; the baseline is captured once per commit', async () => {
    const ws = env.workspace;
    const git = (...a: string[]) =>
      execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd: ws });
    git('init', '-q');
    writeFileSync(path.join(ws, 'README'), 'x');
    git('add', 'README');
    git('commit', '-qm', 'init');
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ws }).toString().trim();
    const executor =
      "sh -c 'echo commit=$AUTOPACK_BASELINE_COMMIT baseline=${AUTOPACK_BASELINE_PATH:+set} skip=$AUTOPACK_SKIP_BASELINE " +
      'api=$AUTOPACK_API_URL utf8=$PYTHONUTF8 io=$PYTHONIOENCODING tel=$TELEMETRY_DB_ENABLED ' +
      "session=$DRAIN_SESSION_ID db=${DATABASE_URL:+set} args=$0/$1' {run_id} {phase_id}";
    const input = {
      executor,
      apiUrl: 'http://127.0.0.1:8999',
      baselineCommand: "sh -c 'echo captured >> baseline-count.txt; echo T0 baseline of {commit}'",
      runId: 'env-run',
      maxAttemptsPerPhase: 1,
    };
    await seedPhases(env.pool, [
      { runId: 'env-run', phaseId: 'p 1', phaseIndex: 0 },
      { runId: 'env-run', phaseId: 'p2', phaseIndex: 1 },
    ]);
    await drain('contract-env-1', input);
    await seedPhases(env.pool, [{ runId: 'env-run-2', phaseId: 'p3', phaseIndex: 0 }]);
    await drain('contract-env-2', { ...input, runId: 'env-run-2' });

    assert.equal(
      readFileSync(path.join(ws, 'baseline-count.txt'), 'utf8'),
      'captured\n',
      'captured once for two sessions',
    );
    const rows = (await env.pool.query('SELECT commit_sha, artifact_path FROM drain_baselines')).rows;
    assert.deepEqual(
      rows.map((b) => b.commit_sha),
      [sha],
    );
    assert.match(readFileSync(rows[0].artifact_path, 'utf8'), new RegExp(`T0 baseline of ${sha}`));
    const attempts = [
      ...(await listSessionAttempts(env.pool, 'contract-env-1')),
      ...(await listSessionAttempts(env.pool, 'contract-env-2')),
    ];
    assert.equal(attempts.length, 3);
    for (const a of attempts) {
      assert.equal(a.baseline_commit, sha);
      const out = readFileSync(a.stdout_path!, 'utf8');
      assert.match(out.split('\n')[1], /^AUTOPACK_API_URL=http:\/\/127\.0\.0\.1:8999$/);
      assert.match(
        out,
        new RegExp(
          `commit=${sha} baseline=set skip=1 api=http://127.0.0.1:8999 utf8=1 io=utf-8 tel=1 session=${a.session_id} db=set args=${a.run_id}/${a.phase_id}`,
        ),
      );
      assert.match(a.error_message!, /exited 0/, 'exit 0 without COMPLETE is a failure with the log path');
    }
  });

  test('endless output: the executor is stopped at the output cap with a clear error; the session goes on', async () => {
    await env.startWorker({ taskQueue: 'cap-queue', maxLogBytes: 1_000_000 });
    await seedPhases(env.pool, [
      { runId: 'cap-run', phaseId: 'flood', phaseIndex: 0, sim: { scenario: 'endless-output' } },
      { runId: 'cap-run', phaseId: 'after', phaseIndex: 1, sim: ok },
    ]);
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: 'cap-queue',
      workflowId: 'output-cap',
      args: [{ runId: 'cap-run', phaseTimeoutSeconds: 120, maxAttemptsPerPhase: 1 }],
    });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 2);
    assert.equal(r.succeeded, 1, 'the next phase still ran');
    const [flood] = (await listSessionAttempts(env.pool, 'output-cap')).filter((a) => a.phase_id === 'flood');
    assert.match(
      flood.error_message!,
      /executor output exceeded 1000000 bytes and the executor was stopped; see .*flood/,
    );
    assert.equal(flood.timed_out, false);
    assert.ok(flood.duration_seconds! < 60, 'stopped long before its timeout');
    const size = (await import('node:fs')).statSync(flood.stdout_path!).size;
    assert.ok(size < 200_000_000, `the log stayed bounded (${size} bytes)`);
    assert.match(
      readFileSync(flood.stdout_path!, 'utf8').slice(-2000),
      /output exceeded 1000000 bytes; the executor was stopped/,
    );
  });
});
