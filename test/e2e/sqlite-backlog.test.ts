/**
 * What is particular to SQLite backlogs: two files never share our records (attempts, leases,
 * failure memory), a file replaced at the same path is another backlog, a session started on
 * one file is refused by a worker of another, DATABASE_URL_FILE is honoured and the executor
 * gets the absolute URL only (neither DATABASE_URL_FILE nor our records' URL), and the errors
 * an operator meets name the file and the fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { backlogUnderTest, type BacklogUnderTest } from '../helpers/backlogs.js';
import { runCli } from '../helpers/cli.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { recordsSchemaFor } from '../../src/db/stores.js';
import { quoteArg } from '../../src/cli/env.js';
import type { SessionResult } from '../../src/domain/messages.js';

const REASON = 'ModuleNotFoundError: No module named autopack.research';
const failing = (runId: string) =>
  [0, 1, 2].map((i) => ({
    runId,
    phaseId: `f${i}`,
    lastFailureReason: REASON,
    sim: { scenario: 'fail', reason: REASON },
  }));

describe('SQLite backlogs', () => {
  let env: TestEnv;
  let a: BacklogUnderTest;
  let b: BacklogUnderTest;

  before(async () => {
    env = await startTestEnv();
    a = await backlogUnderTest(env, 'sqlite', 'ws-a');
    b = await backlogUnderTest(env, 'sqlite', 'ws-b');
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await env?.teardown();
  });

  test('two files keep separate records: identities, attempts, failure memory and leases', async () => {
    assert.notEqual(a.stores.database.id, b.stores.database.id);
    assert.equal(a.stores.database.name, a.file, 'named by its absolute path');
    await a.seed(failing('same-run'));
    await b.seed(failing('same-run'));
    const worker = await a.startWorker();
    const input = {
      runId: 'same-run',
      maxFingerprintRepeats: 2,
      maxAttemptsPerPhase: 1,
      killGraceSeconds: 1,
    };
    const r = (await (await a.start(input, 'iso-a')).result()) as SessionResult;
    await worker.shutdown();
    assert.ok(r.processed >= 2, JSON.stringify(r));
    assert.equal((await listSessionAttempts(a.records, 'iso-a')).length, r.processed);
    assert.equal((await listSessionAttempts(b.records, 'iso-a')).length, 0);
    assert.equal((await a.records.query('SELECT 1 FROM drain_memory_stops')).rowCount, 1);
    assert.equal((await b.records.query('SELECT 1 FROM drain_memory_stops')).rowCount, 0);
    await a.records.query(
      `INSERT INTO drain_leases (run_id, session_id, holder, acquired_at, expires_at) VALUES ('same-run', 'x', 'h', now(), now() + interval '1 hour')`,
    );
    assert.equal((await b.records.query(`SELECT 1 FROM drain_leases WHERE run_id = 'same-run'`)).rowCount, 0);
    await a.records.query(`DELETE FROM drain_leases WHERE session_id = 'x'`);
  });

  test('a file replaced at the same path is another backlog (file identity, not just the name)', () => {
    const before = recordsSchemaFor(b.file!).schema;
    const copy = `${b.file}.copy`;
    copyFileSync(b.file!, copy);
    renameSync(copy, b.file!);
    assert.notEqual(recordsSchemaFor(b.file!).schema, before);
    assert.equal(recordsSchemaFor(a.file!).schema, recordsSchemaFor(a.file!).schema);
  });

  test('drain start pins the session to its file: a worker of another file leaves its tasks alone', async () => {
    await a.seed([{ runId: 'pin-run', phaseId: 'p', sim: { scenario: 'complete' } }]);
    const bWorker = b.spawnWorker({}, ['--task-queue', 'pin-q']);
    const cliEnv = {
      DATABASE_URL: a.databaseUrl,
      DRAIN_RECORDS_URL: env.databaseUrl,
      TEMPORAL_ADDRESS: env.temporal.address,
    };
    const start = await runCli(
      [
        'start',
        '--run-id',
        'pin-run',
        '--batch-size',
        '1',
        '--task-queue',
        'pin-q',
        '--session-id',
        'pin-1',
        '--workspace',
        a.workspace,
      ],
      { env: cliEnv, cwd: a.workspace },
    );
    assert.equal(start.code, 0, start.stdout + start.stderr);
    assert.match(start.stdout, new RegExp(`Database: SQLite ${a.file} — \\d+ runs`));
    const handle = env.client.workflow.getHandle('pin-1');
    await eventually(
      async () =>
        ((await handle.describe()).raw.pendingActivities ?? []).some((p) =>
          /WrongDatabase|leaving the task/.test(p.lastFailure?.message ?? ''),
        ),
      30_000,
      'the other file’s worker to refuse the task',
    );
    assert.equal((await listSessionAttempts(b.records, 'pin-1')).length, 0);
    bWorker.kill('SIGTERM'); // else it may take the retries too, each one backing off longer
    const aWorker = a.spawnWorker({}, ['--task-queue', 'pin-q']);
    const r = (await handle.result()) as SessionResult;
    assert.equal(r.succeeded, 1);
    aWorker.kill('SIGTERM');
  });

  test('DATABASE_URL_FILE is honoured; the executor gets the absolute URL, not the file or our records URL', async () => {
    await a.seed([{ runId: 'file-run', phaseId: 'p', sim: { scenario: 'complete', events: 1 } }]);
    const urlFile = path.join(env.dir, 'db-url');
    writeFileSync(urlFile, 'sqlite:///autopack.db\n');
    const seen = path.join(env.dir, 'executor-env.txt');
    const executor = `sh -c ${quoteArg(`printf '%s|%s|%s\\n' "$DATABASE_URL" "\${DATABASE_URL_FILE-unset}" "\${DRAIN_RECORDS_URL-unset}" >> ${seen}; exec ${env.executor.replace('{run_id}', '"$0"').replace('{phase_id}', '"$1"')}`)} {run_id} {phase_id}`;
    const w = a.spawnWorker(
      {
        DATABASE_URL: 'postgres://wrong@127.0.0.1:1/nope',
        DATABASE_URL_FILE: urlFile,
        DRAIN_EXECUTOR: executor,
      },
      ['--task-queue', 'file-q'],
    );
    const h = await (
      await import('../../src/client.js')
    ).startDrain(
      env.client,
      { runId: 'file-run', batchSize: 1, workspace: a.workspace },
      { sessionId: 'file-1', taskQueue: 'file-q' },
    );
    const r = (await h.result()) as SessionResult;
    w.kill('SIGTERM');
    assert.equal(r.succeeded, 1, JSON.stringify(r));
    assert.equal(readFileSync(seen, 'utf8').trim(), `sqlite:///${a.file}|unset|unset`);
    assert.match(
      (w as { output?: string }).output ?? '',
      new RegExp(`backlog file: +${a.file} \\(SQLite\\)`),
    );
  });

  test('clear errors: a missing file, a Windows path on Linux, an unsupported URL', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [
        ['verify', 'x'],
        { DATABASE_URL: 'sqlite:///missing.db' },
        /the SQLite backlog .*missing\.db does not exist/,
      ],
      [
        ['worker'],
        { DATABASE_URL: 'sqlite:///C:/dev/autopack.db' },
        /C:\/dev\/autopack\.db is a Windows path: run the worker in WSL2/,
      ],
      [
        ['verify', 'x'],
        { DATABASE_URL: 'mysql://root:hunter2@db/x' },
        /unsupported database URL \(a mysql: URL\)/,
      ],
      [
        ['verify', 'x'],
        { DATABASE_URL: 'sqlite:///x.db?mode=ro' },
        /options \(\?mode=ro\) are not supported/,
      ],
    ];
    for (const [args, extra, want] of cases) {
      const r = await runCli(args, {
        env: { DRAIN_RECORDS_URL: env.databaseUrl, TEMPORAL_ADDRESS: env.temporal.address, ...extra },
        cwd: a.workspace,
        timeoutMs: 30_000,
      });
      assert.notEqual(r.code, 0, `${args.join(' ')} with ${JSON.stringify(extra)}`);
      assert.match(r.stderr, want);
      assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
    }
  });
});
