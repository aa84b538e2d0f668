/**
 * `drain stranded` through the real CLI against real sessions (Temporal dev server, embedded
 * Postgres, the reference executor): a hanging phase that times out and one whose session is
 * cancelled both stay EXECUTING and are listed with their attempt and log paths; a phase that
 * failed normally is not. A phase with a try that may still be alive (its fence renewed within
 * S, no end recorded) is listed with that try and never with the hint to set it FAILED by hand.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { argv, runOffline, type CliRun } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import type { StrandedPhase } from '../../src/db/stranded.js';
import { STILL_RUNNING_HINT, STRANDED_HINT } from '../../src/cli/commands/stranded.js';

/** `drain stranded …` (the real CLI) with DATABASE_URL set and no reachable Temporal server. */
const runStranded = (databaseUrl: string, args: string): Promise<CliRun> =>
  runOffline(databaseUrl, ['stranded', ...argv(args)]);

const TIMED_OUT = 'stranded-timeout';
const CANCELLED = 'stranded-cancel';

describe('drain stranded', () => {
  let env: TestEnv;
  const stranded = (args = '') => runStranded(env.databaseUrl, args);
  const phaseState = async (runId: string) =>
    (await env.pool.query<{ state: string }>('SELECT state FROM phases WHERE run_id = $1', [runId])).rows[0]
      ?.state;

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, [
      { runId: 'strand-timeout-run', phaseId: 't1', sim: { scenario: 'hang' } },
      { runId: 'strand-cancel-run', phaseId: 'c1', sim: { scenario: 'hang' } },
      { runId: 'strand-fail-run', phaseId: 'f1', sim: { scenario: 'fail' } },
    ]);
    await env.startWorker();
    const start = (id: string, input: object) =>
      env.client.workflow.start('batchDrain', { taskQueue: env.taskQueue, workflowId: id, args: [input] });
    // 6 s, not 2: the reference executor needs ~2 s to start (tsx) on a loaded 2-core machine,
    // and a phase killed before it reached EXECUTING is (rightly) not stranded.
    const base = { batchSize: 1, phaseTimeoutSeconds: 6, killGraceSeconds: 1 };
    await (await start(TIMED_OUT, { ...base, runId: 'strand-timeout-run' })).result();
    await (await start('stranded-fail', { ...base, runId: 'strand-fail-run' })).result();
    const cancel = await start(CANCELLED, { ...base, runId: 'strand-cancel-run', phaseTimeoutSeconds: 600 });
    await eventually(
      async () => (await phaseState('strand-cancel-run')) === 'EXECUTING',
      30_000,
      'c1 to run',
    );
    await cancel.cancel();
    await cancel.result().catch(() => {});
    await eventually(
      async () =>
        (
          await env.pool.query(
            `SELECT 1 FROM drain_attempts WHERE session_id = $1 AND status = 'cancelled'`,
            [CANCELLED],
          )
        ).rowCount,
      30_000,
      'the cancelled attempt row',
    );
  });
  after(() => env?.teardown());

  test('the timed-out and the cancelled phase stay EXECUTING', async () => {
    assert.equal(await phaseState('strand-timeout-run'), 'EXECUTING');
    assert.equal(await phaseState('strand-cancel-run'), 'EXECUTING');
    assert.equal(await phaseState('strand-fail-run'), 'FAILED');
  });

  test('text: one block per stranded phase with its attempt, error and log paths, then the hint', async () => {
    const r = await stranded();
    console.log(`$ drain stranded\n${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const blocks = r.stdout.trim().split('\n\n');
    assert.equal(blocks.length, 4, r.stdout);
    assert.equal(
      blocks[0],
      '2 stranded phases (EXECUTING; the last drain attempt was timed out or stopped):',
    );
    assert.match(blocks[1], /^strand-cancel-run \/ c1 \(phase index 0\): EXECUTING/);
    assert.match(blocks[1], new RegExp(`session ${CANCELLED}, attempt 1, try 1, cancelled \\(`));
    assert.match(blocks[2], /^strand-timeout-run \/ t1 \(phase index 0\): EXECUTING/);
    assert.match(blocks[2], new RegExp(`session ${TIMED_OUT}, attempt 1, try 1, finished, timed out \\(`));
    assert.match(blocks[2], /\n {2}error: .*timed out/);
    assert.match(
      blocks[2],
      /\n {2}stdout: \/.*strand-timeout-run__t1__a1\.stdout\.txt\n {2}stderr: \/.*\.stderr\.txt$/,
    );
    assert.equal(
      blocks[3],
      'hand them back with `drain start --on-kill fail` next time, or set them FAILED yourself',
    );
  });

  test('--json and --run', async () => {
    const r = await stranded('--json --run strand-timeout-run');
    console.log(`$ drain stranded --json --run strand-timeout-run\n${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { stranded: StrandedPhase[] };
    assert.deepEqual(Object.keys(j), ['stranded']);
    assert.equal(j.stranded.length, 1);
    const [s] = j.stranded;
    assert.deepEqual(
      { runId: s.runId, phaseId: s.phaseId, phaseIndex: s.phaseIndex, phaseState: s.phaseState },
      { runId: 'strand-timeout-run', phaseId: 't1', phaseIndex: 0, phaseState: 'EXECUTING' },
    );
    assert.deepEqual(Object.keys(s.attempt).sort(), [
      'attempt',
      'errorMessage',
      'finishedAt',
      'id',
      'returnCode',
      'sessionId',
      'signal',
      'startedAt',
      'status',
      'stderrPath',
      'stdoutPath',
      'timedOut',
      'try',
    ]);
    assert.equal(s.attempt.sessionId, TIMED_OUT);
    assert.equal(s.attempt.timedOut, true);
    assert.ok(s.attempt.finishedAt && !Number.isNaN(Date.parse(s.attempt.finishedAt)));
    assert.ok(existsSync(s.attempt.stdoutPath!), s.attempt.stdoutPath!);
    assert.ok(existsSync(s.attempt.stderrPath!), s.attempt.stderrPath!);

    const none = await stranded('--run strand-fail-run');
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'No stranded phases.\n');
    const bad = await stranded('--run ""');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--run needs a run id/);
  });

  test('a try still alive on another host: named, and no hint to set the phase FAILED by hand', async () => {
    const run = 'strand-alive-run';
    await seedPhases(env.pool, [
      { runId: run, phaseId: 'a1', state: 'EXECUTING', sim: { scenario: 'hang' } },
    ]);
    // A try its retry marked interrupted while its supervisor (on host elsewhere) still renews
    // its fence: its executor may still be running there.
    const { rows } = await env.pool.query<{ id: string }>(
      `INSERT INTO drain_attempts (session_id, run_id, phase_id, attempt, try, status, host, started_at,
         finished_at, fence_at, error_message)
       VALUES ('stranded-alive', $1, 'a1', 1, 1, 'interrupted', 'elsewhere', now() - interval '30 seconds',
         now() - interval '2 seconds', now(), 'interrupted: retried as try 2')
       RETURNING id::text AS id`,
      [run],
    );
    const r = await stranded(`--run ${run}`);
    console.log(`$ drain stranded --run ${run}\n${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const blocks = r.stdout.trim().split('\n\n');
    assert.equal(blocks.length, 3, r.stdout);
    assert.match(
      blocks[1],
      /\n {2}a try is still running on host elsewhere \(fence renewed \d+s ago\): session stranded-alive, try 1$/,
    );
    assert.equal(blocks[2], STILL_RUNNING_HINT);
    assert.doesNotMatch(r.stdout, /set them FAILED yourself/);
    const j = JSON.parse((await stranded(`--json --run ${run}`)).stdout) as { stranded: StrandedPhase[] };
    assert.equal(j.stranded.length, 1);
    const alive = j.stranded[0].runningTry;
    assert.deepEqual(alive && { ...alive, fenceRenewedSecondsAgo: 0 }, {
      id: rows[0].id,
      sessionId: 'stranded-alive',
      try: 1,
      host: 'elsewhere',
      fenceRenewedSecondsAgo: 0,
    });
    assert.ok(alive!.fenceRenewedSecondsAgo < 16, JSON.stringify(alive));

    // Its executor's end recorded, or its fence older than S: over, and the usual hint again.
    for (const over of [`process_ended_at = now()`, `fence_at = now() - interval '1 hour'`]) {
      await env.pool.query(
        `UPDATE drain_attempts SET fence_at = now(), process_ended_at = NULL WHERE id = $1`,
        [rows[0].id],
      );
      await env.pool.query(`UPDATE drain_attempts SET ${over} WHERE id = $1`, [rows[0].id]);
      const o = await stranded(`--run ${run}`);
      assert.equal(o.code, 0, o.stderr);
      assert.doesNotMatch(o.stdout, /still running/, over);
      assert.equal(o.stdout.trim().split('\n\n').pop(), STRANDED_HINT, over);
      const oj = JSON.parse((await stranded(`--json --run ${run}`)).stdout) as { stranded: StrandedPhase[] };
      assert.equal(oj.stranded[0].runningTry, null, over);
    }
  });
});
