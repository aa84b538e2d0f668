/**
 * `drain start` as operators use it: the DB identity banner (password redacted), refusing an
 * empty database, --wait with the summary and its exit codes, `drain summary`, a duplicate
 * session id refused, --resume, every original flag present, search attributes set.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runDrain } from '../helpers/cli.js';
import { projectRoot } from '../../src/runtime/paths.js';

const BIN = path.join(projectRoot(), 'bin', 'drain.js');
import { seedPhases } from '../../src/sim/seed.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';

const ORIGINAL_FLAGS = [
  '--batch-size',
  '--run-id',
  '--phase-timeout-seconds',
  '--max-total-minutes',
  '--max-timeouts-per-run',
  '--max-attempts-per-phase',
  '--max-fingerprint-repeats',
  '--skip-runs-with-queued',
  '--no-skip-runs-with-queued',
  '--dry-run',
  '--api-url',
  '--resume',
];

describe('drain start', () => {
  let env: TestEnv;
  let password: string;
  const start = (line: string, extra: NodeJS.ProcessEnv = {}) =>
    runDrain(env.temporal.address, `start --task-queue ${env.taskQueue} ${line}`, 120_000, {
      DATABASE_URL: env.databaseUrl,
      ...extra,
    });
  before(async () => {
    env = await startTestEnv();
    password = decodeURIComponent(new URL(env.databaseUrl).password);
    await seedPhases(env.pool, [
      { runId: 'cli-mixed', phaseId: 'ok', phaseIndex: 0, sim: { scenario: 'complete', events: 2 } },
      {
        runId: 'cli-mixed',
        phaseId: 'bad',
        phaseIndex: 1,
        sim: { scenario: 'fail', reason: 'patch apply failed' },
      },
      { runId: 'cli-good', phaseId: 'ok', phaseIndex: 0, sim: { scenario: 'complete', events: 1 } },
      { runId: 'cli-slow', phaseId: 'slow', phaseIndex: 0, sim: { scenario: 'complete', seconds: 8 } },
      { runId: 'cli-int', phaseId: 'slow', phaseIndex: 0, sim: { scenario: 'complete', seconds: 6 } },
    ]);
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('every flag of the original controller is there', async () => {
    const help = (await runDrain(env.temporal.address, 'start --help')).stdout;
    for (const f of ORIGINAL_FLAGS) assert.ok(help.includes(f), `${f} in drain start --help`);
  });

  test('--wait prints the banner, results and summary; exits 1 when a phase failed', async () => {
    const r = await start('--run-id cli-mixed --wait --session-id cli-mixed-1 --max-attempts-per-phase 1');
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /Database: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/autopack — \d+ runs, \d+ phases/,
    );
    assert.match(r.stdout, /\[OK\]/);
    assert.match(r.stdout, /\[FAIL\]/);
    assert.match(r.stdout, /BATCH DRAIN SUMMARY/);
    assert.match(r.stdout, /Success Rate: 50\.0%/);
    assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), 'password never printed');
    const summary = await runDrain(env.temporal.address, 'summary cli-mixed-1');
    assert.equal(summary.code, 0, summary.stderr);
    assert.match(summary.stdout, /Session ID: cli-mixed-1/);
    assert.match(summary.stdout, /cli-mixed: 1\/2 succeeded/);
  });

  test('--wait exits 0 when every phase succeeded; the session is findable by search attribute', async () => {
    const r = await start('--run-id cli-good --wait --json --session-id cli-good-1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).succeeded, 1);
    const found = await eventually(
      async () => {
        for await (const w of env.client.workflow.list({
          query: "DrainStatus = 'completed' AND DrainRunFilter = 'cli-good'",
        })) {
          if (w.workflowId === 'cli-good-1') return true;
        }
        return false;
      },
      20_000,
      'the session in visibility',
    );
    assert.ok(found);
  });

  test('Ctrl-C on --wait exits 130 and leaves the session running', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'start',
        '--task-queue',
        env.taskQueue,
        '--run-id',
        'cli-int',
        '--session-id',
        'cli-int-1',
        '--wait',
      ],
      { env: { ...process.env, DATABASE_URL: env.databaseUrl, TEMPORAL_ADDRESS: env.temporal.address } },
    );
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    await eventually(() => out.includes('Draining: cli-int / slow'), 30_000, 'the drain to start');
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('close', r));
    assert.equal(code, 130, out);
    assert.match(out, /the session goes on in Temporal/);
    const r = (await env.client.workflow.getHandle('cli-int-1').result()) as { succeeded: number };
    assert.equal(r.succeeded, 1, 'the session itself finished');
  });

  test('a running session id is refused; --resume attaches to it', async () => {
    const first = await start('--run-id cli-slow --session-id cli-slow-1');
    assert.equal(first.code, 0, first.stderr);
    const dup = await start('--run-id cli-slow --session-id cli-slow-1');
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /session cli-slow-1 is already running/);
    const resumed = await start('--resume --wait');
    assert.match(resumed.stdout, /Attached to running session cli-slow-1/);
    assert.equal(resumed.code, 0, resumed.stderr);
  });

  test('an empty database is refused unless --allow-empty-db', async () => {
    await env.pool.query('CREATE DATABASE emptydb');
    const url = env.databaseUrl.replace(/\/autopack$/, '/emptydb');
    const pool = createPool(url, 1);
    await migrate(pool);
    await pool.end();
    const refused = await start('--session-id empty-1', { DATABASE_URL: url });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /has no phases/);
    assert.ok(!refused.stderr.includes(password));
    const allowed = await start('--session-id empty-2 --allow-empty-db --batch-size 1', {
      DATABASE_URL: url,
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /Started session empty-2/);
  });
});
