/**
 * Evidence that holds: a reused workflow id or a reset never touches an earlier session's rows,
 * logs or JSON; hostile session ids write nothing outside the session directory; a worker
 * pointed at another database refuses a session's activities. A finished try records its host
 * and its logs' sizes and sha256, and `drain verify` reports a log recorded on another host as
 * living there (with those), not as missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { findTemporalCli } from '../../src/runtime/binaries.js';
import { claimAttemptLogs, sessionsDir } from '../../activities/paths.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { verifySession } from '../../src/cli/verify-session.js';
import type { SessionResult } from '../../src/domain/messages.js';

const seeds = (run: string): PhaseSeed[] => [
  { runId: run, phaseId: 'ok', sim: { scenario: 'complete', events: 2, seconds: 0.1 } },
  { runId: run, phaseId: 'bad', lastFailureReason: 'patch apply failed', sim: { scenario: 'fail' } },
];

/** Every file under `dir` with the sha256 of its bytes. */
function fileHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

async function rowsOf(env: TestEnv, sessionId: string): Promise<string[]> {
  const r = await env.pool.query(
    'SELECT to_jsonb(a)::text AS j FROM drain_attempts a WHERE session_id = $1 ORDER BY id',
    [sessionId],
  );
  return r.rows.map((x) => x.j as string);
}

function temporal(env: TestEnv, args: string[]): string {
  return execFileSync(findTemporalCli(), [...args, '--address', env.temporal.address], { encoding: 'utf8' });
}

describe('records belong to one execution chain', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('a reused workflow id is refused and leaves the first session byte-identical', async () => {
    const id = 'reused-id-1';
    await seedPhases(env.pool, seeds('reuse-run'));
    const input = JSON.stringify({ batchSize: 2, runId: 'reuse-run' });
    const start = () =>
      temporal(env, [
        'workflow',
        'start',
        '--type',
        'batchDrain',
        '--task-queue',
        env.taskQueue,
        '--workflow-id',
        id,
        '--input',
        input,
      ]);
    start();
    const first = (await env.client.workflow.getHandle(id).result()) as SessionResult;
    assert.equal(first.processed, 2);
    const rows = await rowsOf(env, id);
    const files = fileHashes(sessionsDir(env.workspace));
    assert.ok(
      Object.keys(files).some((f) => f.endsWith('.stdout.txt')),
      'the first session wrote logs',
    );

    await seedPhases(env.pool, seeds('reuse-run')); // drainable again: a clobbering session would run
    start(); // the Temporal CLI allows reusing a closed workflow id by default
    const err = await env.client.workflow
      .getHandle(id)
      .result()
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkflowFailedError, 'the second session fails');
    const cause = (err as WorkflowFailedError).cause as { type?: string; message: string };
    assert.equal(cause.type, 'SessionIdReused');
    assert.match(cause.message, /already used by an earlier session/);
    assert.match(cause.message, /started 20\d\d-/);
    assert.deepEqual(await rowsOf(env, id), rows, 'rows unchanged');
    assert.deepEqual(fileHashes(sessionsDir(env.workspace)), files, 'logs and session JSON unchanged');
  });

  test('a reset continues the session: rows and logs of its own; the earlier ones stay byte-identical', async () => {
    const id = 'reset-session-1';
    await seedPhases(env.pool, seeds('reset-run'));
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [{ batchSize: 2, runId: 'reset-run', maxAttemptsPerPhase: 2 }],
    });
    await handle.result();
    const rows = await rowsOf(env, id);
    const logDir = path.join(sessionsDir(env.workspace), id, 'logs');
    const logs = fileHashes(logDir);
    await seedPhases(env.pool, seeds('reset-run'));
    temporal(env, [
      'workflow',
      'reset',
      '--workflow-id',
      id,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'test reset',
    ]);
    const reset = env.client.workflow.getHandle(id); // the newest run: the reset one
    const r = (await reset.result()) as SessionResult;
    // The attempts made before the reset happened (their executors ran): they count. The phase
    // that completed is done; the one that failed gets its second attempt.
    assert.equal(r.processed, 1, 'the reset run drained what the records left to drain');
    const after = await rowsOf(env, id);
    assert.deepEqual(after.slice(0, rows.length), rows, 'the earlier rows are unchanged');
    const added = after.slice(rows.length).map((j) => JSON.parse(j));
    assert.deepEqual(
      added.map((a) => [a.phase_id, a.attempt]),
      [['bad', 2]],
      'the reset run wrote a row of its own, numbered after the earlier attempts',
    );
    assert.notEqual(added[0].exec_run_id, JSON.parse(rows[0]).exec_run_id, 'scheduled by the reset run');
    const logsAfter = fileHashes(logDir);
    for (const [f, h] of Object.entries(logs)) assert.equal(logsAfter[f], h, `${f} unchanged`);
    const newFiles = Object.keys(logsAfter).filter((f) => !(f in logs));
    assert.deepEqual(
      newFiles.sort(),
      ['reset-run__bad__a2.exit.json', 'reset-run__bad__a2.stderr.txt', 'reset-run__bad__a2.stdout.txt'],
      'new log files beside the old',
    );
  });

  test("a finished try records its host and its logs' sizes and sha256, matching the files", async () => {
    const id = 'log-digests-1';
    await seedPhases(env.pool, seeds('digest-run'));
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [{ batchSize: 2, runId: 'digest-run' }],
    });
    assert.equal(((await h.result()) as SessionResult).processed, 2);
    const { rows } = await env.pool.query(
      `SELECT phase_id, status, host, stdout_path, stderr_path, stdout_bytes::int AS stdout_bytes,
              stderr_bytes::int AS stderr_bytes, stdout_sha256, stderr_sha256
       FROM drain_attempts WHERE session_id = $1 ORDER BY id`,
      [id],
    );
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.status, 'finished');
      assert.equal(r.host, hostname());
      for (const s of ['stdout', 'stderr']) {
        const bytes = readFileSync(r[`${s}_path`]);
        const at = `${r.phase_id} ${s}`;
        assert.equal(r[`${s}_sha256`], createHash('sha256').update(bytes).digest('hex'), at);
        // The size is the executor's own output: the file less our header and trailer.
        const text = bytes.toString('latin1');
        const header = text.indexOf('# ---\n') + '# ---\n'.length;
        const trailer = text.lastIndexOf('\n# --- ');
        assert.ok(header > 0 && trailer >= header, at);
        assert.match(text.slice(trailer), /^\n# --- .*after [\d.]+s\n$/, at);
        assert.equal(r[`${s}_bytes`], trailer - header, at);
      }
    }
    assert.ok(rows.some((r) => r.stdout_bytes > 0));

    // The same rows as if they had run on another host: their logs are reported there.
    const sha = rows[0].stdout_sha256 as string;
    const gone = path.join(env.dir, 'elsewhere', 'digest-run__ok__a1.stdout.txt');
    await env.pool.query(
      `UPDATE drain_attempts SET host = 'elsewhere', stdout_path = $2 WHERE session_id = $1 AND phase_id = 'ok'`,
      [id, gone],
    );
    const there = (await verifySession(env.pool, id)).criteria[0];
    assert.equal(there.status, 'PASS', there.problems.join('\n'));
    assert.equal(there.evidence.missing_logs, 0);
    assert.deepEqual(there.evidence.logs_on_other_hosts, [
      `digest-run/ok attempt 1: stdout log on host elsewhere (${rows[0].stdout_bytes} bytes of output, sha256 ${sha.slice(0, 12)}…): ${gone}`,
    ]);
    // Recorded on this host and not here: missing.
    await env.pool.query(`UPDATE drain_attempts SET host = $2 WHERE session_id = $1 AND phase_id = 'ok'`, [
      id,
      hostname(),
    ]);
    const here = (await verifySession(env.pool, id)).criteria[0];
    assert.equal(here.status, 'FAIL');
    assert.deepEqual(here.problems, [`digest-run/ok attempt 1: stdout log missing: ${gone}`]);
    assert.deepEqual(here.evidence.logs_on_other_hosts, []);
  });

  test('a log file name that is taken is never reopened: the next try takes a name of its own', async () => {
    const ref = {
      workspace: env.workspace,
      sessionId: 'claim-1',
      runId: 'r',
      phaseId: 'p',
      attempt: 1,
      tryNo: 1,
    };
    const first = await claimAttemptLogs({ ...ref, execRunId: 'run-one' }, 'HEADER ONE\n');
    const again = await claimAttemptLogs({ ...ref, execRunId: 'run-two' }, 'HEADER TWO\n');
    assert.notEqual(again.stdout, first.stdout);
    assert.match(path.basename(again.stdout), /\.rrun-two\.stdout\.txt$/);
    assert.equal(readFileSync(first.stdout, 'utf8'), 'HEADER ONE\n', 'the first file is untouched');
    assert.equal(readFileSync(again.stderr, 'utf8'), 'HEADER TWO\n');
  });

  test('hostile session ids write nothing outside the sessions directory', async () => {
    await seedPhases(env.pool, seeds('hostile-run'));
    const marker = `drain-escape-${process.pid}`;
    const ids = [
      `../../../../../../tmp/${marker}`,
      'a/b/../../c',
      '..',
      'x'.repeat(200),
      'sched:2026-01-01T02:00:00Z',
    ];
    for (const id of ids) {
      await seedPhases(env.pool, seeds('hostile-run'));
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: id,
        args: [{ batchSize: 1, runId: 'hostile-run' }],
      });
      const r = (await h.result()) as SessionResult;
      assert.equal(r.processed, 1, id);
      assert.ok(
        r.sessionJson && path.dirname(r.sessionJson) === sessionsDir(env.workspace),
        r.sessionJson ?? '',
      );
    }
    assert.equal(existsSync(`/tmp/${marker}`), false);
    assert.equal(existsSync(`/tmp/${marker}.json`), false);
    const top = readdirSync(sessionsDir(env.workspace));
    for (const name of top) assert.doesNotMatch(name, /^\.\.?$|\//);
    assert.deepEqual(readdirSync(path.join(env.workspace, '.autonomous_runs')), ['batch_drain_sessions']);
  });

  test('an id that cannot be made safe is refused at once, naming the problem', async () => {
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'y'.repeat(300),
      args: [{}],
    });
    const err = await h.result().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as { type?: string; message: string };
    assert.equal(cause.type, 'InvalidSessionId');
    assert.match(cause.message, /at most 200 characters/);
  });
});

describe('one database per session', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
  });
  after(() => env?.teardown());

  test('a worker pointed at another database refuses the session; the right worker drains it', async () => {
    await seedPhases(env.pool, seeds('pinned-run'));
    await env.pool.query('CREATE DATABASE other_backlog');
    const otherUrl = env.databaseUrl.replace(/\/[^/]*$/, '/other_backlog');
    const other = createPool(otherUrl, 2);
    await migrate(other);
    await seedPhases(other, seeds('pinned-run'));
    const otherId = (await other.query('SELECT database_id::text AS id FROM drain_database_identity')).rows[0]
      .id;
    await other.end();

    const right = await env.startWorker();
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'pinned-session',
      args: [{ batchSize: 2, runId: 'pinned-run', phaseTimeoutSeconds: 30 }],
    });
    await eventually(
      async () => (await h.query('progress')) && (await h.describe()).memo?.status === 'running',
    );
    await right.shutdown();
    const wrong = await env.startWorker({ databaseUrl: otherUrl });
    const failure = await eventually(
      async () => {
        const d = await h.describe();
        const pending = d.raw.pendingActivities?.[0];
        const message = pending?.lastFailure?.message ?? '';
        return /points at database/.test(message) ? message : null;
      },
      60_000,
      'a refused activity',
    );
    assert.match(failure ?? '', /other_backlog/);
    assert.match(failure ?? '', new RegExp(otherId));
    const rowsInOther = createPool(otherUrl, 1);
    const n = (await rowsInOther.query('SELECT count(*)::int AS n FROM drain_attempts')).rows[0].n;
    await rowsInOther.end();
    assert.equal(n, 0, 'nothing drained against the wrong database');
    await wrong.shutdown();
    await env.startWorker();
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 2);
  });
});
