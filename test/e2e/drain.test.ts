/**
 * A real drain end to end: Temporal dev server + embedded Postgres + the reference executor
 * as real subprocesses. Mixed scenarios; asserts DB states, drain_attempts rows, log files,
 * telemetry deltas, the session JSON, and that a hanging executor's whole group is killed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { WorkflowFailedError } from '@temporalio/client';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { findTemporalCli } from '../../src/runtime/binaries.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import type { SessionResult } from '../../src/domain/messages.js';

const RUN_A = 'e2e-run-a';
const RUN_B = 'e2e-run-b';
const phases: PhaseSeed[] = [
  {
    runId: RUN_A,
    phaseId: 'a1-complete',
    phaseIndex: 0,
    lastFailureReason: null,
    sim: { scenario: 'complete', events: 3, seconds: 0.3 },
  },
  {
    runId: RUN_A,
    phaseId: 'a2-fail',
    phaseIndex: 1,
    lastFailureReason: 'patch apply failed',
    sim: { scenario: 'fail', reason: 'patch apply failed: hunk #2 FAILED', events: 1 },
  },
  {
    runId: RUN_A,
    phaseId: 'a3 crash/odd "id"',
    phaseIndex: 2,
    lastFailureReason: null,
    sim: { scenario: 'crash', exitCode: 3 },
  },
  {
    runId: RUN_A,
    phaseId: 'a4-unicode',
    phaseIndex: 3,
    lastFailureReason: null,
    sim: { scenario: 'unicode', events: 2 },
  },
  {
    runId: RUN_B,
    phaseId: 'b1-stderr-exit0',
    phaseIndex: 0,
    lastFailureReason: null,
    sim: { scenario: 'stderr-exit0' },
  },
  {
    runId: RUN_B,
    phaseId: 'b2-hang',
    phaseIndex: 1,
    lastFailureReason: 'Phase timed out after 900s',
    sim: { scenario: 'hang-with-children' },
  },
  {
    runId: RUN_B,
    phaseId: 'b3-escalate',
    phaseIndex: 2,
    lastFailureReason: null,
    sim: { scenario: 'escalate', escalations: 2, events: 1 },
  },
  {
    runId: RUN_B,
    phaseId: 'b4-non-utf8',
    phaseIndex: 3,
    lastFailureReason: null,
    sim: { scenario: 'non-utf8' },
  },
];

const alive = isProcessAlive;

describe('a real drain session', () => {
  let env: TestEnv;
  let result: SessionResult;
  const sessionId = 'e2e-mixed-session';

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, phases);
    await env.startWorker();
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: sessionId,
      args: [{ batchSize: 20, phaseTimeoutSeconds: 4, killGraceSeconds: 1, maxAttemptsPerPhase: 1 }],
    });
    result = (await handle.result()) as SessionResult;
  });
  after(() => env?.teardown());

  test('drains every phase once and ends because nothing is left', () => {
    assert.equal(result.processed, phases.length);
    assert.equal(result.stopReason, 'no eligible phases left');
    assert.equal(result.succeeded, 2);
    assert.equal(result.timeouts, 1);
  });

  test('phases end in the states the executor left', async () => {
    const rows = (await env.pool.query('SELECT run_id, phase_id, state, last_failure_reason FROM phases'))
      .rows;
    const state = (id: string) => rows.find((r) => r.phase_id === id)?.state;
    assert.equal(state('a1-complete'), 'COMPLETE');
    assert.equal(state('a4-unicode'), 'COMPLETE');
    assert.equal(state('a2-fail'), 'FAILED');
    assert.equal(state('a3 crash/odd "id"'), 'FAILED');
    assert.equal(state('b1-stderr-exit0'), 'FAILED');
    assert.equal(state('b2-hang'), 'EXECUTING'); // killed mid-work
    assert.match(rows.find((r) => r.phase_id === 'b3-escalate')?.last_failure_reason, /TOKEN_ESCALATION/);
  });

  test('one drain_attempts row per attempt, with return code and duration', async () => {
    const attempts = await listSessionAttempts(env.pool, sessionId);
    assert.equal(attempts.length, phases.length);
    for (const a of attempts) {
      assert.equal(a.status, 'finished', `${a.phase_id} status`);
      assert.ok(a.duration_seconds! > 0, `${a.phase_id} has a duration`);
      assert.ok(a.fingerprint !== null || a.success, `${a.phase_id} failure has a fingerprint`);
      assert.ok(!/unknown error/i.test(a.error_message ?? ''), 'never "Unknown error"');
    }
    const by = (id: string) => attempts.find((a) => a.phase_id === id)!;
    assert.equal(by('a1-complete').return_code, 0);
    assert.equal(by('a2-fail').return_code, 1);
    assert.equal(by('a3 crash/odd "id"').return_code, 3);
    assert.match(by('a3 crash/odd "id"').error_message!, /return code 3/);
    assert.equal(by('b1-stderr-exit0').return_code, 0);
    assert.equal(by('b1-stderr-exit0').success, false);
    assert.match(by('b1-stderr-exit0').error_message!, /exited 0/);
    assert.equal(by('b2-hang').timed_out, true);
    assert.match(by('b2-hang').fingerprint!, /^TIMEOUT\|timeout/);
    assert.match(by('b3-escalate').error_message!, /\[RETRYABLE: token budget escalation needed\]/);
  });

  test('log files exist, start with the identity lines and hold the executor output', async () => {
    const attempts = await listSessionAttempts(env.pool, sessionId);
    for (const a of attempts) {
      for (const file of [a.stdout_path!, a.stderr_path!]) {
        assert.ok(existsSync(file), `${file} exists`);
        const text = readFileSync(file, 'utf8');
        const [l1, l2] = text.split('\n');
        assert.match(l1, /^DATABASE_URL=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/autopack$/);
        assert.match(l2, /^AUTOPACK_API_URL=/);
        assert.ok(!text.includes(new URL(env.databaseUrl).password), 'no password in logs');
      }
      assert.match(readFileSync(a.stdout_path!, 'utf8'), /\[sim\] draining/);
    }
    const uni = attempts.find((a) => a.phase_id === 'a4-unicode')!;
    assert.match(readFileSync(uni.stdout_path!, 'utf8'), /[^\x00-\x7f]/, 'non-ASCII output kept');
    const raw = readFileSync(attempts.find((a) => a.phase_id === 'b4-non-utf8')!.stdout_path!);
    assert.ok(
      raw.includes(Buffer.from([0xff])) || raw.includes(Buffer.from([0xc3, 0x28])),
      'invalid UTF-8 bytes kept raw',
    );
  });

  test('telemetry deltas equal the rows the executor wrote', async () => {
    const attempts = await listSessionAttempts(env.pool, sessionId);
    for (const a of attempts) {
      const { rows } = await env.pool.query(
        `SELECT (SELECT count(*) FROM token_estimation_v2_events WHERE run_id = $1 AND phase_id = $2)
              + (SELECT count(*) FROM token_budget_escalation_events WHERE run_id = $1 AND phase_id = $2) AS n`,
        [a.run_id, a.phase_id],
      );
      assert.equal(a.telemetry_events, Number(rows[0].n), `${a.phase_id} telemetry`);
    }
    assert.equal(attempts.find((a) => a.phase_id === 'a1-complete')!.telemetry_events, 3);
    assert.equal(attempts.find((a) => a.phase_id === 'b3-escalate')!.telemetry_events, 3);
  });

  test('the hanging executor was killed at its timeout with its children and grandchildren', async () => {
    const a = (await listSessionAttempts(env.pool, sessionId)).find((x) => x.phase_id === 'b2-hang')!;
    const out = readFileSync(a.stdout_path!, 'utf8');
    const child = Number(/SIM_CHILD_PID=(\d+)/.exec(out)?.[1]);
    const grandchild = Number(/SIM_GRANDCHILD_PID=(\d+)/.exec(out)?.[1]);
    assert.ok(child > 0 && grandchild > 0, 'the executor reported its children');
    assert.equal(alive(child), false, 'child gone');
    assert.equal(alive(grandchild), false, 'grandchild gone');
    assert.ok(a.duration_seconds! >= 4, 'ran until the timeout');
  });

  test('the session JSON holds the original fields and parses', () => {
    assert.ok(result.sessionJson);
    const j = JSON.parse(readFileSync(result.sessionJson!, 'utf8'));
    assert.equal(j.session_id, sessionId);
    assert.equal(j.total_processed, phases.length);
    assert.equal(j.total_timeouts, 1);
    assert.equal(j.results.length, phases.length);
    assert.equal(typeof j.fingerprint_counts, 'object');
    assert.ok(Array.isArray(j.stopped_fingerprints) && Array.isArray(j.stopped_runs));
    for (const r of j.results) {
      assert.equal(typeof r.subprocess_returncode === 'number' || r.timed_out, true);
      assert.equal(typeof r.subprocess_duration_seconds, 'number');
      assert.ok(r.subprocess_stdout_path && r.subprocess_stderr_path);
    }
  });
});

describe('starting and validating', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, [
      { runId: 'cli-run', phaseId: 'p1', sim: { scenario: 'complete', events: 1 } },
      { runId: 'cli-run', phaseId: 'p2', sim: { scenario: 'complete', events: 1 } },
    ]);
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('a drain started with `temporal workflow start --input` completes', async () => {
    execFileSync(findTemporalCli(), [
      'workflow',
      'start',
      '--address',
      env.temporal.address,
      '--type',
      'batchDrain',
      '--task-queue',
      env.taskQueue,
      '--workflow-id',
      'cli-started',
      '--input',
      '{"batchSize": 2, "phaseTimeoutSeconds": 30}',
    ]);
    const r = (await env.client.workflow.getHandle('cli-started').result()) as SessionResult;
    assert.equal(r.processed, 2);
    assert.equal(r.succeeded, 2);
  });

  for (const [input, field] of [
    [{ batchSize: 'ten' }, 'batchSize'],
    [{ batchSize: 0 }, 'batchSize'],
    [{ phaseTimeoutSeconds: -5 }, 'phaseTimeoutSeconds'],
    [{ mode: 'everything' }, 'mode'],
    [{ bogusField: 1 }, 'bogusField'],
    [{ apiUrl: 'http://user:secret@api:8000' }, 'apiUrl'],
    [[1, 2], 'input'],
  ] as const) {
    test(`invalid input ${JSON.stringify(input)} fails at once naming ${field}`, async () => {
      const t0 = Date.now();
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: `bad-${field}-${Math.random().toString(36).slice(2, 6)}`,
        args: [input],
      });
      const err = await h.result().then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError, 'workflow failed');
      const cause = err.cause as { message: string; type?: string; nonRetryable?: boolean };
      assert.equal(cause.type, 'InvalidDrainInput');
      assert.ok(cause.message.includes(field), cause.message);
      assert.ok(!cause.message.includes('secret'), 'the secret is not echoed');
      assert.ok(Date.now() - t0 < 20_000, 'fails fast');
      const desc = await h.describe();
      assert.equal(desc.status.name, 'FAILED');
    });
  }

  test('eventually helper sanity', async () => {
    assert.equal(await eventually(() => 1), 1);
  });
});
