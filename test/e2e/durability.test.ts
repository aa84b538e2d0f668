/**
 * Durable without edges: escaped processes are reaped, kills hit only our own processes, a lost
 * lease stops the executor and is recorded as lost, an attempt whose workers keep dying is
 * abandoned after maxDrainTries and the session goes on, heartbeat settings that cannot work
 * are refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { setPhaseCommand } from '../../harness/autopack-writer.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { endTry, taggedProcesses } from '../../src/runtime/containment.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import type { SessionResult } from '../../src/domain/messages.js';
import { formatSummary, type SessionJson } from '../../src/domain/report.js';

/** A shell executor (the template is split without a shell, so the script is a file). */
function script(env: TestEnv, name: string, body: string): string {
  const file = path.join(env.dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return `${file} {run_id} {phase_id}`;
}

/** Sets the executor's phase to `state`, through the one writer of Autopack's rows. */
const setPhase = setPhaseCommand;

describe('durable without edges', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
  });
  after(() => env?.teardown());

  test('a setsid grandchild that escapes the process group is reaped and counted', async () => {
    const worker = await env.startWorker();
    await seedPhases(env.pool, [{ runId: 'escape-run', phaseId: 'p1' }]);
    const executor = script(
      env,
      'escaper.sh',
      `setsid sh -c 'echo $$ > ${env.dir}/escapee.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &\nsleep 0.5\necho forked a setsid grandchild\n${setPhase('COMPLETE')}`,
    );
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'escape-1',
      args: [{ batchSize: 1, runId: 'escape-run', executor, killGraceSeconds: 1 }],
    });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.succeeded, 1);
    const { readFileSync } = await import('node:fs');
    const escapee = Number(readFileSync(path.join(env.dir, 'escapee.pid'), 'utf8'));
    assert.ok(escapee > 0);
    assert.equal(isProcessAlive(escapee), false, 'the setsid grandchild is gone');
    const [row] = await listSessionAttempts(env.pool, 'escape-1');
    assert.ok((row.processes_reaped ?? 0) >= 1, `processes_reaped ${row.processes_reaped}`);
    const json = JSON.parse(readFileSync(r.sessionJson!, 'utf8')) as SessionJson;
    assert.equal(
      json.total_processes_reaped,
      row.processes_reaped,
      'the session reports the leak it stopped',
    );
    assert.match(formatSummary(json), /Escaped processes reaped: \d+/);
    await worker.shutdown();
  });

  test('a recorded group that is not ours (recycled pid) is never killed', async () => {
    const stranger = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      await endTry({ pgid: stranger.pid!, tag: 'not-its-tag', cgroup: null, startedMs: Date.now() }, 200);
      assert.equal(isProcessAlive(stranger.pid!), true, 'a process without our tag survives');
      const tagged = spawn('sleep', ['300'], {
        detached: true,
        stdio: 'ignore',
        env: { ...process.env, DRAIN_ATTEMPT_TAG: 'tag-of-a-later-try' },
      });
      // A tag that only starts with the try's (another try's tag, or the value cut short) is not it.
      const lookalike = spawn('sleep', ['300'], {
        detached: true,
        stdio: 'ignore',
        env: { DRAIN_ATTEMPT_TAG: 'tag-of-a-later-try-2', X_DRAIN_ATTEMPT_TAG: 'tag-of-a-later-try' },
      });
      try {
        await eventually(
          () => taggedProcesses('tag-of-a-later-try-2').includes(lookalike.pid!),
          5000,
          'the lookalike to be seen',
        );
        assert.deepEqual(taggedProcesses('tag-of-a-later-try'), [tagged.pid!], 'only the exact tag matches');
      } finally {
        lookalike.kill('SIGKILL');
      }
      // Tagged, but it started before the try it would belong to: not ours either.
      await endTry(
        { pgid: tagged.pid!, tag: 'tag-of-a-later-try', cgroup: null, startedMs: Date.now() + 60_000 },
        200,
      );
      assert.equal(isProcessAlive(tagged.pid!), true, 'a process older than the try survives');
      await endTry(
        { pgid: tagged.pid!, tag: 'tag-of-a-later-try', cgroup: null, startedMs: Date.now() - 60_000 },
        200,
      );
      await eventually(() => !isProcessAlive(tagged.pid!), 5000, 'our own tagged process to be ended');
      assert.deepEqual(taggedProcesses('tag-of-a-later-try'), []);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  test('a lease taken away mid-drain stops the executor; the attempt is recorded lost', async () => {
    const worker = await env.startWorker();
    await seedPhases(env.pool, [
      { runId: 'lease-run', phaseId: 'slow', sim: { scenario: 'complete', seconds: 60 } },
      { runId: 'lease-run-2', phaseId: 'next', sim: { scenario: 'complete' } },
    ]);
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'lease-lost-1',
      args: [{ batchSize: 2, killGraceSeconds: 1 }],
    });
    await eventually(
      async () =>
        (await listSessionAttempts(env.pool, 'lease-lost-1')).find((a) => a.status === 'running' && a.pid),
      30_000,
      'the slow phase to start',
    );
    await env.pool.query(
      "UPDATE drain_leases SET session_id = 'another-session', expires_at = now() + interval '1 hour' WHERE run_id = 'lease-run'",
    );
    const r = (await h.result()) as SessionResult;
    const rows = await listSessionAttempts(env.pool, 'lease-lost-1');
    const slow = rows.find((a) => a.phase_id === 'slow')!;
    assert.equal(slow.status, 'lost');
    assert.match(slow.error_message ?? '', /lease lost/);
    assert.ok((slow.duration_seconds ?? 99) < 30, 'stopped long before its 60 s');
    assert.equal(rows.find((a) => a.phase_id === 'next')?.status, 'finished', 'the session went on');
    assert.equal(r.processed, 2);
    assert.equal(r.failed, 0, 'a lost attempt is not a failure of the phase');
    await worker.shutdown();
  });

  test('an attempt whose workers keep dying is abandoned after maxDrainTries; the session goes on', async () => {
    await seedPhases(env.pool, [
      { runId: 'doom-run', phaseId: 'kills-its-worker' },
      { runId: 'doom-run-2', phaseId: 'fine', sim: { scenario: 'complete' } },
    ]);
    // The executor kills the worker that runs it every time (its parent is the try's supervisor,
    // whose parent is the worker).
    const executor = script(
      env,
      'kill-worker.sh',
      `case "$2" in kills-its-worker) echo killing my worker; kill -9 $(cut -d' ' -f4 /proc/$PPID/stat); sleep 30;; *) exec node ${path.resolve('bin/drain-sim.js')} --run-id "$1" --phase-id "$2" --force;; esac`,
    );
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'abandon-1',
      args: [{ batchSize: 2, executor, maxDrainTries: 2, heartbeatTimeoutSeconds: 3, killGraceSeconds: 1 }],
    });
    const workers = [];
    let result: SessionResult | null = null;
    void h.result().then((x) => (result = x as SessionResult));
    for (let i = 0; i < 6 && !result; i++) {
      const w = env.spawnWorker();
      workers.push(w);
      await Promise.race([new Promise((res) => w.once('exit', res)), h.result().catch(() => {})]);
    }
    const r = (await h.result()) as SessionResult;
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    const rows = await listSessionAttempts(env.pool, 'abandon-1');
    const doomed = rows.filter((a) => a.phase_id === 'kills-its-worker').map((a) => `${a.try}:${a.status}`);
    assert.deepEqual(doomed, ['1:interrupted', '2:interrupted', '3:abandoned']);
    const abandoned = rows.find((a) => a.status === 'abandoned')!;
    assert.match(abandoned.error_message ?? '', /abandoned after 2 tries/);
    assert.equal(rows.find((a) => a.phase_id === 'fine')?.status, 'finished');
    assert.equal(r.processed, 2);
  });

  test('a heartbeat timeout the worker cannot meet is refused at start, naming both numbers', async () => {
    const w = env.spawnWorker({ DRAIN_HEARTBEAT_MS: '5000' });
    await seedPhases(env.pool, [{ runId: 'hb-run', phaseId: 'p' }]);
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'hb-refused',
      args: [{ batchSize: 1, runId: 'hb-run', heartbeatTimeoutSeconds: 5 }],
    });
    const err = await h.result().then(
      () => null,
      (e: unknown) => e,
    );
    w.kill('SIGKILL');
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /heartbeatTimeoutSeconds 5 cannot work.*every 5s.*at least 15s/);
  });

  test('--on-kill fail hands a timed-out phase back as FAILED with what happened; leave keeps it', async () => {
    const worker = await env.startWorker();
    await seedPhases(env.pool, [
      { runId: 'onkill-run', phaseId: 'hang-fail', sim: { scenario: 'hang' } },
      { runId: 'onkill-run-2', phaseId: 'hang-leave', sim: { scenario: 'hang' } },
    ]);
    const run = async (id: string, runId: string, onKill: 'fail' | 'leave') => {
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: id,
        // 8 s: the executor must have started (and set EXECUTING) before it times out on a busy machine
        args: [{ batchSize: 1, runId, phaseTimeoutSeconds: 8, killGraceSeconds: 1, onKill }],
      });
      return (await h.result()) as SessionResult;
    };
    await run('onkill-fail', 'onkill-run', 'fail');
    await run('onkill-leave', 'onkill-run-2', 'leave');
    const phase = async (id: string) =>
      (await env.pool.query('SELECT state, last_failure_reason FROM phases WHERE phase_id = $1', [id]))
        .rows[0];
    const failed = await phase('hang-fail');
    assert.equal(failed.state, 'FAILED');
    assert.match(
      failed.last_failure_reason,
      /^PHASE_TIMEOUT: stopped by autopack-drain after 8 s, session onkill-fail, attempt 1$/,
    );
    assert.equal((await phase('hang-leave')).state, 'EXECUTING');
    const [row] = await listSessionAttempts(env.pool, 'onkill-fail');
    assert.equal(row.final_state, 'EXECUTING', 'the attempt records what the executor left');
    assert.match(row.error_message ?? '', /handed back as FAILED/);
    await worker.shutdown();
  });
});
