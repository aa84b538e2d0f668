/**
 * Failure memory across sessions, on a real Temporal dev server, a real Postgres and the
 * reference executor: a fingerprint one session stopped is not retried by the next until the
 * workspace commit changes, the phase's last_failure_reason changes, or an operator clears it
 * (`drain memory clear`); --ignore-memory takes a fresh look; --max-attempts-per-phase-total
 * caps a phase across sessions; --order yield puts runs with more telemetry per minute first.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { runDrain, runOffline } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import type { SessionResult } from '../../src/domain/messages.js';
import type { DrainInput } from '../../src/domain/types.js';

const REASON = 'pytest collection error: ImportError: cannot import name frobnicate';
const fail = { scenario: 'fail', reason: REASON, exitCode: 1 };

describe('failure memory across sessions', () => {
  let env: TestEnv;
  const git = (...a: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd: env.workspace })
      .toString()
      .trim();
  const drain = async (id: string, input: DrainInput) => {
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [input],
    });
    const r = (await h.result()) as SessionResult;
    const order = (await listSessionAttempts(env.pool, id)).map((a) => `${a.run_id}/${a.phase_id}`);
    return { r, order };
  };
  const memoryCli = (args: string[]) => runOffline(env.databaseUrl, ['memory', ...args], env.workspace);
  const mem = { runId: 'mem-run', maxFingerprintRepeats: 2, maxAttemptsPerPhase: 1, batchSize: 10 };
  const all = ['mem-run/m0', 'mem-run/m1', 'mem-run/m2', 'mem-run/m3'];

  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
    git('init', '-q');
    writeFileSync(path.join(env.workspace, 'README'), 'x');
    git('add', 'README');
    git('commit', '-qm', 'one');
    await seedPhases(
      env.pool,
      [0, 1, 2, 3].map((i) => ({
        runId: 'mem-run',
        phaseId: `m${i}`,
        phaseIndex: i,
        lastFailureReason: REASON,
        sim: fail,
      })),
    );
  });
  after(() => env?.teardown());

  test('a stopped fingerprint stays stopped in the next session, until the commit changes', async () => {
    const first = await drain('mem-1', mem);
    assert.deepEqual(first.order.sort(), all, 'the first session tries every phase');
    const stops = await env.pool.query(
      `SELECT fingerprint, session_id, commit_sha, repeats FROM drain_memory_stops`,
    );
    assert.equal(stops.rows.length, 1, JSON.stringify(stops.rows));
    const stop = stops.rows[0];
    assert.equal(stop.session_id, 'mem-1');
    assert.equal(stop.commit_sha, git('rev-parse', 'HEAD'));
    assert.equal(stop.repeats, 2);

    const second = await drain('mem-2', mem);
    assert.deepEqual(second.order, [], 'nothing is retried');
    assert.equal(second.r.stopReason, 'no eligible phases left');
    for (const s of second.r.skipped.filter((x) => x.runId === 'mem-run')) {
      assert.match(s.reason, /^fingerprint .+ stopped by session mem-1 at /);
      assert.ok(s.reason.includes(stop.fingerprint), s.reason);
    }
    assert.equal(second.r.skipped.filter((x) => x.runId === 'mem-run').length, 4);

    // a dry run from the CLI reports the same skips
    const dry = await runDrain(env.temporal.address, [
      'start',
      '--dry-run',
      '--wait',
      '--run-id',
      'mem-run',
      '--task-queue',
      env.taskQueue,
      '--allow-empty-db',
    ]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /\[SKIP\] mem-run\/m0: fingerprint .* stopped by session mem-1/);

    // memory list shows the stop in force on this commit
    const list = await memoryCli(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /IN FORCE\s+\S+\s+mem-1\s+/);
    const json = JSON.parse((await memoryCli(['list', '--json'])).stdout);
    assert.equal(json.commit, git('rev-parse', 'HEAD'));
    assert.equal(json.stops[0].fingerprint, stop.fingerprint);
    assert.equal(json.history.find((h: { runId: string }) => h.runId === 'mem-run').attempts, 4);

    git('commit', '-q', '--allow-empty', '-m', 'two');
    const third = await drain('mem-3', mem);
    assert.deepEqual(third.order.sort(), all, 'a new commit lifts the stop');
    assert.match((await memoryCli(['list'])).stdout, /OTHER COMMIT\s+\S+\s+mem-1/);
  });

  test('a changed last_failure_reason lifts the stop for that phase; clear and --ignore-memory for all', async () => {
    // mem-3 stopped the fingerprint again on the new commit
    await env.pool.query(
      `UPDATE phases SET last_failure_reason = 'a different failure now' WHERE run_id = 'mem-run' AND phase_id = 'm2'`,
    );
    const changed = await drain('mem-4', mem);
    assert.deepEqual(changed.order, ['mem-run/m2']);

    const ignoring = await drain('mem-5', { ...mem, ignoreMemory: true });
    assert.deepEqual(ignoring.order.sort(), all, '--ignore-memory looks again at everything');

    const fp = (await env.pool.query(`SELECT fingerprint FROM drain_memory_stops WHERE session_id = 'mem-3'`))
      .rows[0].fingerprint as string;
    const cleared = await memoryCli(['clear', fp]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /Cleared fingerprint/);
    const after = await drain('mem-6', mem);
    // mem-5 stopped it again (ignoring memory does not stop learning); the clear is newer than
    // that stop, so every phase is drained again.
    assert.deepEqual(after.order.sort(), all);
  });

  test('drain memory clear refuses what it cannot resolve', async () => {
    const none = await memoryCli(['clear', 'no-such-thing']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /nothing in memory matches "no-such-thing"/);
    const phase = await memoryCli(['clear', '--run', 'mem-run', 'no-such-phase']);
    assert.equal(phase.code, 2);
    assert.match(phase.stderr, /run mem-run has no phase no-such-phase/);
    const ok = await memoryCli(['clear', '--run', 'mem-run', 'm1']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Cleared phase mem-run \/ m1/);
  });

  test('--max-attempts-per-phase-total caps a phase across three sessions; a clear resets it', async () => {
    await seedPhases(env.pool, [
      {
        runId: 'cap-run',
        phaseId: 'c0',
        phaseIndex: 0,
        lastFailureReason: 'flaky',
        sim: { scenario: 'fail', reason: 'flaky thing' },
      },
    ]);
    const cap = { runId: 'cap-run', maxAttemptsPerPhaseTotal: 2, maxAttemptsPerPhase: 1 };
    assert.deepEqual((await drain('cap-1', cap)).order, ['cap-run/c0']);
    assert.deepEqual((await drain('cap-2', cap)).order, ['cap-run/c0']);
    const third = await drain('cap-3', cap);
    assert.deepEqual(third.order, []);
    assert.match(
      third.r.skipped.find((s) => s.phaseId === 'c0')!.reason,
      /^phase attempted 2 times across sessions \(limit: 2, --max-attempts-per-phase-total\)$/,
    );
    assert.equal((await memoryCli(['clear', 'cap-run'])).code, 0);
    assert.deepEqual((await drain('cap-4', cap)).order, ['cap-run/c0']);
  });

  test('--order yield: runs with more telemetry per minute first, runs without history before them', async () => {
    const ok = (events: number) => ({ scenario: 'complete', events });
    await seedPhases(env.pool, [
      { runId: 'y-low', phaseId: 'l0', phaseIndex: 0, lastFailureReason: 'x', sim: ok(1) },
      { runId: 'y-high', phaseId: 'h0', phaseIndex: 0, lastFailureReason: 'x', sim: ok(1) },
      { runId: 'y-new', phaseId: 'n0', phaseIndex: 0, lastFailureReason: 'x', sim: ok(1) },
    ]);
    // History: y-high produced 60 events per minute, y-low 1; y-new has none.
    await env.pool.query(
      `INSERT INTO drain_attempts (session_id, run_id, phase_id, attempt, status, success, telemetry_events,
                                   duration_seconds, started_at, finished_at)
       VALUES ('yield-history', 'y-high', 'old', 1, 'finished', true, 60, 60, now(), now()),
              ('yield-history', 'y-low', 'old', 1, 'finished', true, 1, 60, now(), now())`,
    );
    const prefixes = { skipRunPrefixes: ['mem-', 'cap-'] };
    const byDefault = await drain('yield-0', { ...prefixes, dryRun: true, batchSize: 3 });
    assert.deepEqual(
      byDefault.r.planned.map((p) => p.runId),
      ['y-low', 'y-high', 'y-new'],
      'the original order: failure rank, phase index, insertion',
    );
    const byYield = await drain('yield-1', { ...prefixes, dryRun: true, batchSize: 3, order: 'yield' });
    assert.deepEqual(
      byYield.r.planned.map((p) => p.runId),
      ['y-new', 'y-high', 'y-low'],
    );
  });
});
