/**
 * The original controller's progress lines, in order and as they happen, from
 * `drain start --wait` and `drain watch --log`; a phase that failed and then succeeded on a
 * retry does not make `--wait` exit 1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { runDrain } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';

/** Checks the line grammar: select, skips, draining, result, telemetry — per phase, in order. */
function checkOrder(out: string, expectedPhases: number): string[] {
  const progress = out.split(/^=+$/m)[0]; // the summary follows the progress lines
  const lines = progress
    .split('\n')
    .filter((l) =>
      /^\[\d+\/\d+\] |^ {2}\[SKIP\] |^ {2}Draining: |^ {2}\[(OK|FAIL|TIMEOUT|CANCELLED)\] |^ {4}(Error:|\[TELEMETRY\])/.test(
        l,
      ),
    );
  const drained: string[] = [];
  let i = 0;
  let selects = 0;
  while (i < lines.length) {
    assert.match(lines[i], /^\[(\d+)\/\d+\] Selecting next phase\.\.\.$/, `line ${i}: ${lines[i]}`);
    selects++;
    assert.equal(Number(/^\[(\d+)/.exec(lines[i])![1]), selects, 'selection numbers count up');
    i++;
    while (lines[i]?.startsWith('  [SKIP] ')) i++;
    if (i >= lines.length || lines[i].startsWith('[')) continue; // nothing left to pick
    const m = /^ {2}Draining: (.+) \/ (.+) \(index \d+\)$/.exec(lines[i]);
    assert.ok(m, `a Draining: line after the selection, got ${JSON.stringify(lines[i])}`);
    drained.push(`${m[1]}/${m[2]}`);
    i++;
    assert.match(
      lines[i],
      /^ {2}\[(OK\] Success|FAIL\] Failed|TIMEOUT\] Failed)/,
      `a result after Draining: ${lines[i]}`,
    );
    i++;
    if (lines[i]?.startsWith('    Error: ')) i++;
    assert.match(lines[i] ?? '', /^ {4}\[TELEMETRY\] \+\d+ events \(\d+\.\d\d\/min\)$/);
    i++;
  }
  assert.equal(drained.length, expectedPhases);
  return drained;
}

describe('progress lines', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('drain start --wait prints every phase in order; a failure fixed by a retry exits 0', async () => {
    await seedPhases(env.pool, [
      { runId: 'lines-a', phaseId: 'quick-1', sim: { scenario: 'complete', events: 1, seconds: 0.05 } },
      { runId: 'lines-a', phaseId: 'quick-2', sim: { scenario: 'complete', events: 3, seconds: 0.05 } },
      // fails on its first attempt (the scenario is switched below), succeeds on the retry
      {
        runId: 'lines-b',
        phaseId: 'flaky',
        lastFailureReason: 'patch apply failed',
        sim: { scenario: 'fail' },
      },
      { runId: 'lines-c', phaseId: 'skipped', state: 'QUEUED' },
      { runId: 'lines-c', phaseId: 'failed-behind-queued', lastFailureReason: 'x' },
    ]);
    // Flip the flaky phase to complete once its first attempt has run.
    const flip = (async () => {
      await eventually(
        async () =>
          (
            await env.pool.query(
              "SELECT 1 FROM drain_attempts WHERE phase_id = 'flaky' AND status = 'finished'",
            )
          ).rowCount,
        60_000,
      );
      await env.pool.query(
        `UPDATE phases SET scope = '{"sim": {"scenario": "complete", "events": 1}}' WHERE phase_id = 'flaky'`,
      );
    })();
    const r = await runDrain(
      env.temporal.address,
      `start --wait --task-queue ${env.taskQueue} --batch-size 10 --max-attempts-per-phase 2 --session-id lines-1`,
      120_000,
      { DATABASE_URL: env.databaseUrl },
    );
    await flip;
    const drained = checkOrder(r.stdout, 4);
    assert.deepEqual(drained.filter((d) => d === 'lines-b/flaky').length, 2, 'flaky drained twice');
    assert.match(r.stdout, /\[SKIP\] lines-c\/failed-behind-queued: run lines-c has 1 queued phase/);
    assert.match(r.stdout, /^Verdict: (PASS|FAIL) /m);
    assert.equal(r.code, 0, `exit 0: the only failure was fixed by its retry\n${r.stdout}\n${r.stderr}`);
  });

  test('drain watch --log follows a running session with the same lines', async () => {
    await seedPhases(env.pool, [
      { runId: 'watch-a', phaseId: 'w1', sim: { scenario: 'complete', events: 1, seconds: 1.5 } },
      { runId: 'watch-a', phaseId: 'w2', lastFailureReason: 'boom', sim: { scenario: 'fail', seconds: 1.5 } },
    ]);
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'lines-watch',
      args: [{ batchSize: 2, runId: 'watch-a' }],
    });
    const r = await runDrain(env.temporal.address, 'watch lines-watch --log', 60_000);
    await h.result();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(checkOrder(r.stdout, 2), ['watch-a/w1', 'watch-a/w2']);
    assert.match(r.stdout, /Session lines-watch ended: COMPLETED/);
  });
});
