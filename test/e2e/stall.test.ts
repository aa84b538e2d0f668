/**
 * Progress-aware timeouts on real services (issue 10, item 3): --stall-seconds stops an executor
 * that writes nothing and changes nothing in the database; --max-phase-timeout-seconds lets one
 * that keeps writing output run past its base timeout, no further than the maximum. Custom
 * executors (small node scripts) stand in for the sim: silent, chatty, and busy in the database
 * only. Timings are compared with the executors' own lengths (60 s), not tightly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { runDrain } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts, type AttemptRow } from '../../src/db/attempts.js';
import { AUTOPACK_WRITER_URL } from '../../harness/autopack-writer.js';
import type { SessionResult } from '../../src/domain/messages.js';

/** The executors' own length: anything stopped well before it was stopped by us. */
const EXECUTOR_SECONDS = 60;

const SCRIPTS: Record<string, string> = {
  // Sleeps; writes nothing, changes nothing.
  'silent.mjs': `setTimeout(() => process.exit(0), ${EXECUTOR_SECONDS * 1000});\n`,
  // A line every 0.3 s for 60 s, then exit 0 (the phase never reaches COMPLETE).
  'chatty.mjs': [
    'let n = 0;',
    "setInterval(() => console.log('working, line ' + ++n), 300);",
    `setTimeout(() => process.exit(0), ${EXECUTOR_SECONDS * 1000});`,
    '',
  ].join('\n'),
  // Writes nothing, but touches its phase row every 0.5 s for 6 s, then completes it.
  'db-busy.mjs': [
    `const w = await import(${JSON.stringify(AUTOPACK_WRITER_URL)});`,
    'const [runId, phaseId] = process.argv.slice(2);',
    'const db = await w.openSimDb(process.env.DATABASE_URL);',
    'const until = Date.now() + 6000;',
    'while (Date.now() < until) {',
    "  await w.setPhaseState(db, { runId, phaseId }, 'EXECUTING');",
    '  await new Promise((r) => setTimeout(r, 500));',
    '}',
    "await w.setPhaseState(db, { runId, phaseId }, 'COMPLETE');",
    'await w.closeSimDb(db);',
    '',
  ].join('\n'),
  // Writes nothing and leaves its phase row alone, but adds a telemetry row every 0.5 s for 6 s
  // (no tokens recorded, so the phase row is not touched), then completes the phase.
  'telemetry-busy.mjs': [
    `const w = await import(${JSON.stringify(AUTOPACK_WRITER_URL)});`,
    'const [runId, phaseId] = process.argv.slice(2);',
    'const db = await w.openSimDb(process.env.DATABASE_URL);',
    'const until = Date.now() + 6000;',
    'for (let i = 1; Date.now() < until; i++) {',
    '  await w.insertEscalationEvent(db, { runId, phaseId }, { attemptIndex: i, baseValue: 4096, tokensUsed: null });',
    '  await new Promise((r) => setTimeout(r, 500));',
    '}',
    "await w.setPhaseState(db, { runId, phaseId }, 'COMPLETE');",
    'await w.closeSimDb(db);',
    '',
  ].join('\n'),
};

describe('progress-aware timeouts: --stall-seconds and --max-phase-timeout-seconds', () => {
  let env: TestEnv;
  const executor = (script: string) =>
    `${JSON.stringify(process.execPath)} ${path.join(env.dir, 'executors', script)} {run_id} {phase_id}`;
  /** One session draining one phase of its own run; its single attempt row. */
  const drainOnce = async (runId: string, input: object): Promise<{ r: SessionResult; a: AttemptRow }> => {
    await seedPhases(env.pool, [{ runId, phaseId: 'p1' }]);
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: `session-${runId}`,
      args: [{ runId, batchSize: 1, maxAttemptsPerPhase: 1, killGraceSeconds: 2, ...input }],
    });
    const r = (await h.result()) as SessionResult;
    const rows = await listSessionAttempts(env.pool, `session-${runId}`);
    assert.equal(rows.length, 1);
    return { r, a: rows[0] };
  };

  before(async () => {
    env = await startTestEnv();
    mkdirSync(path.join(env.dir, 'executors'));
    for (const [name, text] of Object.entries(SCRIPTS))
      writeFileSync(path.join(env.dir, 'executors', name), text);
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('a silent executor is stopped after --stall-seconds, long before its timeout, and recorded as stalled', async () => {
    await seedPhases(env.pool, [{ runId: 'stall-silent', phaseId: 'p1' }]);
    const run = await runDrain(
      env.temporal.address,
      [
        'start',
        '--wait',
        '--task-queue',
        env.taskQueue,
        '--session-id',
        'stall-silent-1',
        '--run-id',
        'stall-silent',
        '--batch-size',
        '1',
        '--max-attempts-per-phase',
        '1',
        '--phase-timeout-seconds',
        '120',
        '--stall-seconds',
        '3',
        '--kill-grace-seconds',
        '2',
        '--executor',
        executor('silent.mjs'),
      ],
      120_000,
      { DATABASE_URL: env.databaseUrl },
    );
    const out = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.code, 1, `the phase is still failed: exit 1\n${out}`);
    const [a] = await listSessionAttempts(env.pool, 'stall-silent-1');
    assert.equal(a.status, 'finished');
    assert.equal(a.success, false);
    assert.equal(a.timed_out, true, 'a stall is a timeout');
    assert.equal(a.outcome?.stalled, true);
    assert.ok(a.duration_seconds! >= 3, `ran at least the stall time (${a.duration_seconds}s)`);
    assert.ok(a.duration_seconds! < 30, `stopped long before its 120 s timeout (${a.duration_seconds}s)`);
    assert.match(a.fingerprint!, /^STALLED\|stalled\|phase stalled: no output and no database change/);
    assert.equal(a.zero_yield_reason, 'stalled');
    assert.equal(a.failure_category, 'timeout');
    assert.match(a.error_message!, /^phase stalled: no output and no database change for 3s \(/);
    assert.match(
      readFileSync(a.stdout_path!, 'utf8'),
      /\n# --- stalled: no output and no database change for 3s; exit code none \(signal SIGTERM\) after [\d.]+s\n$/,
    );
    // What the operator sees: the progress line, the error, the summary counters.
    assert.match(run.stdout, /^ {2}\[STALLED\] Failed: FAILED$/m);
    assert.match(run.stdout, /^ {4}Error: phase stalled: no output and no database change for 3s/m);
    assert.match(run.stdout, /^ {2}\[TIMEOUT\] Timeouts: 1$/m);
    assert.match(run.stdout, /^ {4}\[STALLED\] of them stalled: 1$/m);
    assert.match(run.stdout, /^ {2}stalled: 1$/m, 'zero-yield breakdown');
    const json = JSON.parse(
      readFileSync(
        path.join(env.workspace, '.autonomous_runs', 'batch_drain_sessions', 'stall-silent-1.json'),
        'utf8',
      ),
    ) as { total_stalled: number; total_timeouts: number; results: Array<{ stalled?: boolean }> };
    assert.equal(json.total_stalled, 1);
    assert.equal(json.total_timeouts, 1);
    assert.equal(json.results[0].stalled, true);
  });

  test('a chatty executor runs past its base timeout, up to the maximum and no further', async () => {
    const { r, a } = await drainOnce('stall-chatty-max', {
      executor: executor('chatty.mjs'),
      phaseTimeoutSeconds: 3,
      maxPhaseTimeoutSeconds: 8,
    });
    assert.equal(r.timeouts, 1);
    assert.equal(a.timed_out, true);
    assert.equal(a.outcome?.stalled, undefined, 'not stalled');
    assert.ok(a.duration_seconds! > 3, `ran past its 3 s timeout (${a.duration_seconds}s)`);
    assert.ok(a.duration_seconds! < 8 + 5, `stopped at about its 8 s maximum (${a.duration_seconds}s)`);
    assert.ok(a.duration_seconds! < EXECUTOR_SECONDS, 'stopped by us, not by its own end');
    assert.match(
      a.error_message!,
      /^phase timed out after 8s \(ran past its 3s timeout while writing output\)/,
    );
    assert.match(a.fingerprint!, /^TIMEOUT\|timeout\|/);
    assert.equal(a.zero_yield_reason, 'timeout');
    const lines = readFileSync(a.stdout_path!, 'utf8').match(/working, line \d+/g) ?? [];
    assert.ok(lines.length > 3 / 0.3, `it wrote past its base timeout (${lines.length} lines)`);
  });

  test('a chatty executor without --max-phase-timeout-seconds is stopped at its base timeout', async () => {
    const { a } = await drainOnce('stall-chatty-base', {
      executor: executor('chatty.mjs'),
      phaseTimeoutSeconds: 3,
      stallSeconds: 2, // it writes all the time: never stalled
    });
    assert.equal(a.timed_out, true);
    assert.equal(a.outcome?.stalled, undefined);
    assert.ok(a.duration_seconds! >= 3, `ran its 3 s (${a.duration_seconds}s)`);
    assert.ok(a.duration_seconds! < 3 + 5, `stopped at its base timeout (${a.duration_seconds}s)`);
    assert.match(a.error_message!, /^phase timed out after 3s \(no failure reason/);
  });

  test('an executor that writes nothing but keeps changing its phase row is not stalled', async () => {
    const { r, a } = await drainOnce('stall-db-busy', {
      executor: executor('db-busy.mjs'),
      phaseTimeoutSeconds: 60,
      stallSeconds: 3,
    });
    assert.equal(a.success, true, `completed: ${a.error_message}`);
    assert.equal(a.timed_out, false);
    assert.equal(a.outcome?.stalled, undefined);
    assert.equal(Number(a.stdout_bytes) + Number(a.stderr_bytes), 0, 'it wrote nothing');
    assert.ok(a.duration_seconds! >= 6, `it ran past the stall time (${a.duration_seconds}s)`);
    assert.equal(r.succeeded, 1);
  });

  test('an executor that writes nothing but keeps adding telemetry for its phase is not stalled', async () => {
    const { r, a } = await drainOnce('stall-telemetry-busy', {
      executor: executor('telemetry-busy.mjs'),
      phaseTimeoutSeconds: 60,
      stallSeconds: 3,
    });
    assert.equal(a.success, true, `completed: ${a.error_message}`);
    assert.equal(a.outcome?.stalled, undefined);
    assert.equal(Number(a.stdout_bytes) + Number(a.stderr_bytes), 0, 'it wrote nothing');
    assert.ok(a.duration_seconds! >= 6, `it ran past the stall time (${a.duration_seconds}s)`);
    assert.ok(a.telemetry_events! >= 10, `its telemetry was counted (${a.telemetry_events})`);
    assert.equal(r.succeeded, 1);
  });
});
