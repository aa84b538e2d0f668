/**
 * `drain verify` end to end: real sessions (Temporal dev server, embedded Postgres, the
 * reference executor and small misbehaving executors), then the real CLI judging them from
 * their records, with no Temporal server reachable. A healthy session passes all six
 * criteria; sessions made to break exactly one criterion each fail only that one; an
 * unknown session exits 2.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { runOffline, type CliRun } from '../helpers/cli.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { AUTOPACK_WRITER_URL } from '../../harness/autopack-writer.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import { quoteArg } from '../../src/cli/env.js';
import type { DrainInput } from '../../src/domain/types.js';

const LEAK_PATTERN = `verify-e2e-api-server-${process.pid}`;

/** `drain verify …` with DATABASE_URL set and no reachable Temporal server. */
const verify = (env: TestEnv, args: string[]): Promise<CliRun> =>
  runOffline(env.databaseUrl, ['verify', ...args]);

interface JsonCriterion {
  id: number;
  status: string;
  evidence: Record<string, unknown>;
  problems: string[];
}

async function verifyJson(env: TestEnv, sessionId: string) {
  const r = await verify(env, [sessionId, '--json']);
  const j = JSON.parse(r.stdout) as { sessionId: string; verdict: string; criteria: JsonCriterion[] };
  return { code: r.code, ...j, failed: j.criteria.filter((c) => c.status === 'FAIL').map((c) => c.id) };
}

/**
 * A misbehaving executor: `silent` completes the phase (with one telemetry row) and prints
 * nothing; `noop` prints that it found nothing to do and exits 0 without touching the phase;
 * `leak` starts a detached "API server" that escapes containment and outlives it, then completes
 * the phase.
 */
function fakeExecutorSource(pidFile: string): string {
  return `import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
const [mode, runId, phaseId] = process.argv.slice(2);
if (mode === 'noop') {
  console.log('no executable phases found for run ' + runId);
  process.exit(0);
}
if (mode === 'leak') {
  // A server that deliberately escapes containment (drain's own executors are reaped with
  // everything they start): it leaves the try's cgroup for the root one and runs without the
  // environment (so without DRAIN_ATTEMPT_TAG), in a session of its own.
  const escape = "const fs=require('fs');try{const m=fs.readFileSync('/proc/self/mounts','utf8').split('\\\\n').find(l=>l.split(' ')[2]==='cgroup2');if(m)fs.writeFileSync(m.split(' ')[1]+'/cgroup.procs',String(process.pid))}catch{}fs.writeFileSync(process.argv[2],'escaped');setTimeout(()=>{},120000)";
  const escaped = ${JSON.stringify(pidFile)} + '.escaped';
  const server = spawn(process.execPath, ['-e', escape, ${JSON.stringify(LEAK_PATTERN)}, escaped], {
    detached: true,
    stdio: 'ignore',
    env: {},
  });
  writeFileSync(${JSON.stringify(pidFile)}, String(server.pid));
  server.unref();
  // Only once it is out of the try's cgroup: otherwise the end of this try reaps it first.
  for (const until = Date.now() + 15000; !existsSync(escaped) && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log('started an API server on an ephemeral port (pid ' + server.pid + ')');
}
const w = await import(${JSON.stringify(AUTOPACK_WRITER_URL)});
const db = await w.openSimDb(process.env.DATABASE_URL);
await w.setPhaseState(db, { runId, phaseId }, 'COMPLETE');
await w.insertEstimationEvent(db, { runId, phaseId }, {
  category: 'implementation', complexity: 'medium', deliverableCount: 1,
  predictedOutputTokens: 1000, actualOutputTokens: 900, success: true,
});
await w.closeSimDb(db);
`;
}

const ok = (runId: string, phaseId: string, sim: object): PhaseSeed => ({
  runId,
  phaseId,
  lastFailureReason: 'patch apply failed',
  sim,
});

const BACKLOG: PhaseSeed[] = [
  ok('v-healthy', 'h-complete', { scenario: 'complete', events: 3, seconds: 1.2 }),
  ok('v-healthy', 'h-fail', { scenario: 'fail', reason: 'patch apply failed: hunk #2 FAILED', events: 1 }),
  {
    runId: 'v-healthy',
    phaseId: 'h-crash',
    lastFailureReason: null,
    sim: { scenario: 'crash', exitCode: 3 },
  },
  ok('v-healthy', 'h-escalate', { scenario: 'escalate', escalations: 2, events: 1, seconds: 1.1 }),
  ok('v-healthy', 'h-complete-2', { scenario: 'complete', events: 2, seconds: 1.1 }),
  ok('v-silent', 's-1', {}),
  ok('v-unknown', 'u-1', { scenario: 'fail', reason: 'Unknown error' }),
  { runId: 'v-queued', phaseId: 'q-waiting', state: 'QUEUED', sim: { scenario: 'complete' } },
  ok('v-queued', 'q-retry', { scenario: 'complete', events: 1, seconds: 1.1 }),
  ok('v-noop', 'n-1', {}),
  ok('v-leak', 'l-1', {}),
  ok('v-escalation', 'e-1', { scenario: 'fail', reason: 'TOKEN_ESCALATION: output truncated at max_tokens' }),
];

describe('drain verify', () => {
  let env: TestEnv;
  let fake: (mode: string) => string;
  const pidFile = () => path.join(env.dir, 'leaked-server.pid');

  async function session(id: string, runId: string, input: DrainInput = {}): Promise<void> {
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [{ batchSize: 10, runId, phaseTimeoutSeconds: 30, maxAttemptsPerPhase: 1, ...input }],
    });
    await handle.result();
  }

  before(async () => {
    env = await startTestEnv();
    const script = path.join(env.dir, 'fake-executor.mjs');
    await writeFile(script, fakeExecutorSource(pidFile()));
    fake = (mode) => `${quoteArg(process.execPath)} ${quoteArg(script)} ${mode} {run_id} {phase_id}`;
    const git = (...a: string[]) => execFileSync('git', a, { cwd: env.workspace, stdio: 'ignore' });
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'base');
    await seedPhases(env.pool, BACKLOG);
    await env.startWorker();
    await session('verify-healthy', 'v-healthy', {
      baselineCommand: `${quoteArg(process.execPath)} -e "console.log('baseline ok')"`,
    });
    await session('verify-silent', 'v-silent', { executor: fake('silent') });
    await session('verify-unknown', 'v-unknown');
    await session('verify-queued', 'v-queued', { skipRunsWithQueued: false });
    await session('verify-noop', 'v-noop', { executor: fake('noop') });
    await session('verify-leak', 'v-leak', { executor: fake('leak'), apiProcessPattern: LEAK_PATTERN });
    await session('verify-escalation', 'v-escalation');
  });

  after(async () => {
    try {
      const pid = Number(readFileSync(pidFile(), 'utf8'));
      if (pid > 0 && isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      /* no leaked server */
    }
    await env?.teardown();
  });

  test('a healthy session: every criterion PASS, exit 0', async () => {
    const r = await verify(env, ['verify-healthy']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'Session verify-healthy');
    for (const id of [1, 2, 3, 4, 5, 6]) {
      assert.ok(
        lines.some((l) => l.startsWith(`[PASS] ${id}. `)),
        `criterion ${id} not PASS:\n${r.stdout}`,
      );
    }
    assert.equal(lines.filter((l) => l.startsWith('    - ')).length, 0, r.stdout);
    assert.equal(lines.at(-1), 'Verdict: PASS (6/6 criteria)');
  });

  test('the healthy session as JSON: the evidence the criteria were judged on', async () => {
    const j = await verifyJson(env, 'verify-healthy');
    assert.equal(j.code, 0);
    assert.equal(j.verdict, 'PASS');
    assert.deepEqual(
      j.criteria.map((c) => [c.id, c.status]),
      [1, 2, 3, 4, 5, 6].map((id) => [id, 'PASS']),
    );
    const [c1, c2, c3, c4, c5, c6] = j.criteria;
    assert.equal(c1.evidence.attempts, 5);
    assert.equal(c1.evidence.with_return_code, 5);
    assert.equal(c1.evidence.with_output, 5);
    assert.equal(c1.evidence.missing_logs, 0);
    assert.equal(c2.evidence.unknown_error, 0);
    assert.equal(c2.evidence.failures, 3);
    assert.equal(c2.evidence.failures_without_reason, 1); // the crash
    assert.equal(c2.evidence.without_reason_with_exit_and_log, 1);
    assert.equal(c3.evidence.retried_phases, 5);
    assert.equal(c3.evidence.in_runs_with_queued, 0);
    assert.equal(c4.evidence.with_identity_header, 5);
    assert.deepEqual(c4.evidence.exit0_phase_unchanged, []);
    assert.doesNotMatch(JSON.stringify(c4.evidence.database_urls), new RegExp(env.databaseUrl.split(':')[2]));
    assert.equal((c5.evidence.baseline_captures as unknown[]).length, 1);
    assert.equal((c5.evidence.baseline_captures as Array<{ captures: number }>)[0].captures, 1);
    assert.equal(c5.evidence.api_processes_end, c5.evidence.api_processes_start);
    assert.deepEqual(c6.evidence.telemetry_delta, {
      token_estimation_v2_events: 5,
      token_budget_escalation_events: 0,
    });
    assert.deepEqual(
      (c6.evidence.escalations as Array<{ phase_id: string; rows: number }>).map((e) => [e.phase_id, e.rows]),
      [['h-escalate', 2]],
    );
  });

  test('the healthy session as the Markdown report block', async () => {
    const r = await verify(env, ['verify-healthy', '--format', 'md']);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '**Batch Drain Health Acceptance Criteria (must all pass)**');
    assert.ok(lines.includes('1. **No Silent Failures** — **PASS**'), r.stdout);
    assert.ok(lines.includes('6. **Telemetry Viability** — **PASS**'), r.stdout);
    assert.equal(lines.at(-2), 'Verdict: PASS (6/6 criteria)');
  });

  const broken: Array<[name: string, sessionId: string, criterion: number, problem: RegExp]> = [
    [
      '1: an executor that prints nothing',
      'verify-silent',
      1,
      /v-silent\/s-1 attempt 1: the executor wrote nothing/,
    ],
    ['2: a phase that failed with "Unknown error"', 'verify-unknown', 2, /"Unknown error" recorded/],
    [
      '4: an executor that exits 0 without changing the phase',
      'verify-noop',
      4,
      /v-noop\/n-1 attempt 1: exited 0 but the phase did not change: possible API\/DB mismatch/,
    ],
    [
      '5: an executor that leaves an API server behind',
      'verify-leak',
      5,
      /API server processes grew from 0 to 1 .*leaked/,
    ],
    [
      '6: a token escalation without escalation rows',
      'verify-escalation',
      6,
      /hit a token escalation but no token_budget_escalation_events rows/,
    ],
  ];
  for (const [name, sessionId, criterion, problem] of broken) {
    test(`${name}: exit 1, only criterion ${criterion} FAILs`, async () => {
      const j = await verifyJson(env, sessionId);
      assert.equal(j.code, 1);
      assert.equal(j.verdict, 'FAIL');
      assert.deepEqual(j.failed, [criterion], JSON.stringify(j.criteria, null, 2));
      const problems = j.criteria[criterion - 1].problems;
      assert.ok(
        problems.some((p) => problem.test(p)),
        problems.join('\n'),
      );
    });
  }

  test('3: QUEUED phases in the run are fine when the session overrode skipRunsWithQueued, a FAIL when not', async () => {
    const overridden = await verifyJson(env, 'verify-queued');
    assert.equal(overridden.code, 0, JSON.stringify(overridden.criteria, null, 2));
    const c3 = overridden.criteria[2];
    assert.equal(c3.status, 'PASS');
    assert.equal(c3.evidence.skip_runs_with_queued_overridden, true);
    assert.deepEqual(c3.evidence.retried, [
      {
        run_id: 'v-queued',
        phase_id: 'q-retry',
        attempt: 1,
        before: { queued: 1, failed: 1, complete: 0 },
        after: { queued: 1, failed: 0, complete: 1 },
      },
    ]);
    // The same records, had the session kept the default (skip runs with queued phases).
    await env.pool.query(
      `UPDATE drain_sessions SET config = config || '{"skipRunsWithQueued": true}'::jsonb WHERE session_id = $1`,
      ['verify-queued'],
    );
    const kept = await verifyJson(env, 'verify-queued');
    assert.equal(kept.code, 1);
    assert.deepEqual(kept.failed, [3]);
    assert.match(kept.criteria[2].problems.join('\n'), /FAILED phase retried in a run with 1 QUEUED phase/);
    const text = await verify(env, ['verify-queued']);
    assert.equal(text.code, 1);
    assert.equal(text.stdout.trim().split('\n').at(-1), 'Verdict: FAIL (criterion 3 failed)');
  });

  test('log files are looked for on disk: another --workspace has none (criteria 1 and 4 fail)', async () => {
    const j = await verify(env, ['verify-healthy', '--json', '--workspace', path.join(env.dir, 'elsewhere')]);
    assert.equal(j.code, 1);
    const r = JSON.parse(j.stdout) as { criteria: JsonCriterion[] };
    assert.deepEqual(
      r.criteria.filter((c) => c.status === 'FAIL').map((c) => c.id),
      [1, 4],
    );
    assert.equal(r.criteria[0].evidence.missing_logs, 10);
  });

  test('an unknown session: exit 2 with a clear message', async () => {
    const r = await verify(env, ['no-such-session']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /unknown session "no-such-session": .*no drain_sessions row and no drain_attempts rows/,
    );
  });
});
