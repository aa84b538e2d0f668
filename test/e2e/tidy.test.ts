/**
 * `drain tidy` through the real CLI against a real Temporal dev server, embedded Postgres and
 * the reference executor: one finished session, one session still running (a hanging phase),
 * a protected api_server.log and an old stray temp file. The dry run lists and removes
 * nothing; the real run removes exactly the finished session (and the stray temp file) and
 * leaves the running session's files and api_server.log byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { runDrain, type CliRun } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { sessionJsonPath, sessionLogsDir, sessionsDir } from '../../activities/paths.js';

const FINISHED = 'tidy-finished';
const RUNNING = 'tidy-running';
const OLD = new Date(Date.now() - 30 * 86_400_000);

/** Every file under `dir` (relative path → content and mtime), directories as `rel/`. */
async function snapshot(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(path.join(dir, rel))).sort()) {
    const r = path.join(rel, name);
    const st = await lstat(path.join(dir, r));
    if (st.isDirectory()) {
      out.set(`${r}/`, '');
      for (const [k, v] of await snapshot(dir, r)) out.set(k, v);
    } else out.set(r, `${st.mtimeMs} ${(await readFile(path.join(dir, r))).toString('base64')}`);
  }
  return out;
}

const only = (snap: Map<string, string>, keep: (rel: string) => boolean) =>
  new Map([...snap].filter(([k]) => keep(k)));

describe('drain tidy', () => {
  let env: TestEnv;
  let root = '';
  let pgid = 0;
  /** Runs `fn` with the hanging executor stopped (SIGSTOP), so its log does not grow meanwhile. */
  const frozen = async <T>(fn: () => Promise<T>): Promise<T> => {
    process.kill(-pgid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(-pgid, 'SIGCONT');
    }
  };
  const tidy = (args: string, address = env.temporal.address): Promise<CliRun> =>
    runDrain(address, `tidy --workspace ${env.workspace} ${args}`);

  before(async () => {
    env = await startTestEnv();
    root = sessionsDir(env.workspace);
    await seedPhases(env.pool, [
      { runId: 'tidy-done-run', phaseId: 'd1', sim: { scenario: 'complete', seconds: 0.2 } },
      // the first phase completes (so the session has its JSON), the second one hangs
      { runId: 'tidy-hang-run', phaseId: 'h0', sim: { scenario: 'complete', seconds: 0.2 } },
      { runId: 'tidy-hang-run', phaseId: 'h1', sim: { scenario: 'hang' } },
    ]);
    await env.startWorker();
    const start = (id: string, input: object) =>
      env.client.workflow.start('batchDrain', { taskQueue: env.taskQueue, workflowId: id, args: [input] });
    await (await start(FINISHED, { runId: 'tidy-done-run', batchSize: 1 })).result();
    await start(RUNNING, { runId: 'tidy-hang-run', batchSize: 2, phaseTimeoutSeconds: 600 });
    const row = await eventually(
      async () => {
        const r = await env.pool.query<{ pgid: number | null; stdout_path: string | null }>(
          `SELECT pgid, stdout_path FROM drain_attempts
            WHERE session_id = $1 AND phase_id = 'h1' AND status = 'running'`,
          [RUNNING],
        );
        const a = r.rows[0];
        if (!a?.pgid || !a.stdout_path || !existsSync(sessionJsonPath(env.workspace, RUNNING))) return null;
        return (await readFile(a.stdout_path, 'utf8')).includes('still working') ? a : null;
      },
      30_000,
      'the hanging phase to run',
    );
    pgid = row!.pgid!;
    await writeFile(path.join(root, 'api_server.log'), 'INFO: Uvicorn running on http://127.0.0.1:8000\n');
    await writeFile(path.join(root, 'tidy-gone.json.4242.1700000000000.tmp'), '{"session_id": "tidy-go');
    for (const f of ['api_server.log', 'tidy-gone.json.4242.1700000000000.tmp'])
      await utimes(path.join(root, f), OLD, OLD);
  });
  after(async () => {
    if (pgid) process.kill(-pgid, 'SIGCONT');
    await env?.client.workflow
      .getHandle(RUNNING)
      .cancel()
      .catch(() => {});
    await env?.teardown();
  });

  test('refuses to remove anything when Temporal cannot be reached', () =>
    frozen(async () => {
      const before = await snapshot(root);
      const r = await tidy('--older-than 0d', '127.0.0.1:1');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /cannot ask Temporal \(127\.0\.0\.1:1, namespace default\) which sessions are running/,
      );
      assert.match(r.stderr, /nothing was removed; pass --assume-none-running/);
      const bad = await tidy('--older-than 2w');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--older-than must be a whole number followed by d, h or m/);
      assert.deepEqual(await snapshot(root), before);
    }));

  test('--older-than 14d --dry-run: only the old stray temp file would go', async () => {
    const r = await tidy('--older-than 14d --dry-run');
    console.log(`$ drain tidy --older-than 14d --dry-run\n${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), [
      `Dry run, nothing is removed: session files in ${root}`,
      `running sessions: ${RUNNING}`,
    ]);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('remove ')).map((l) => l.replace(/ \(.*\)$/, '')),
      [`remove ${path.join(root, 'tidy-gone.json.4242.1700000000000.tmp')}`],
    );
    assert.ok(lines.includes(`keep ${path.join(root, 'api_server.log')}: protected name api_server.log`));
    assert.match(
      lines.at(-1)!,
      /^total: would remove 1 path .*; would keep 5 paths \(2 of running sessions, 1 protected, 2 younger than 14d\)$/,
    );
  });

  test('--older-than 0d: the dry run lists, the real run removes exactly the finished session', async () => {
    await frozen(async () => {
      const before = await snapshot(root);
      const running = (k: string) => k.startsWith(`${RUNNING}/`) || k.startsWith(`${RUNNING}.json`);
      assert.ok([...before.keys()].filter(running).length >= 4, 'the running session has its JSON and logs');

      const dry = await tidy('--older-than 0d --dry-run');
      console.log(`$ drain tidy --older-than 0d --dry-run\n${dry.stdout}`);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(await snapshot(root), before, 'a dry run changes nothing');
      const p = (rel: string) => path.join(root, rel);
      const removes = [p(FINISHED), p(`${FINISHED}.json`), p('tidy-gone.json.4242.1700000000000.tmp')];
      const keeps = [
        `keep ${p('api_server.log')}: protected name api_server.log`,
        `keep ${p(RUNNING)}: running session ${RUNNING}`,
        `keep ${p(`${RUNNING}.json`)}: running session ${RUNNING}`,
      ];
      const body = dry.stdout.trim().split('\n').slice(2, -1);
      assert.deepEqual(body.filter((l) => l.startsWith('keep ')).sort(), keeps.sort());
      const removeLine = /^remove (.+) \((\d+[dhms](?: \d+[hms])?), (\d+ B|\d+\.\d [KMG]iB)\)$/;
      assert.ok(
        body.filter((l) => l.startsWith('remove ')).every((l) => removeLine.test(l)),
        body.join('\n'),
      );
      assert.deepEqual(
        body
          .filter((l) => l.startsWith('remove '))
          .map((l) => removeLine.exec(l)![1])
          .sort(),
        removes.sort(),
      );
      assert.match(
        dry.stdout,
        /total: would remove 3 paths \(from 1 session, 1 temp file, .+\); would keep 3 paths \(2 of running sessions, 1 protected\)\n$/,
      );

      const real = await tidy('--older-than 0d');
      console.log(`$ drain tidy --older-than 0d\n${real.stdout}`);
      assert.equal(real.code, 0, real.stderr);
      const noAge = (l: string) => l.replace(/ \(\d+[dhms][^,]*, /, ' (<age>, ');
      const pastTense = (l: string) =>
        l
          .replace(/^remove /, 'removed ')
          .replace(/^keep /, 'kept ')
          .replace(/^total: would remove (.*); would keep /, 'total: removed $1; kept ');
      assert.deepEqual(
        real.stdout.split('\n').slice(2).map(noAge),
        dry.stdout.split('\n').slice(2).map(pastTense).map(noAge),
        'the same lines in the past tense',
      );
      const after = await snapshot(root);
      const gone = [...before.keys()].filter((k) => !after.has(k));
      assert.ok(gone.length > 3, 'the finished session had a logs directory with files');
      assert.ok(
        gone.every((k) => k.startsWith(`${FINISHED}/`) || k === `${FINISHED}.json` || k.endsWith('.tmp')),
        gone.join('\n'),
      );
      assert.equal(existsSync(sessionLogsDir(env.workspace, FINISHED)), false);
      assert.equal(existsSync(sessionJsonPath(env.workspace, FINISHED)), false);
      assert.deepEqual(
        after,
        only(before, (k) => running(k) || k === 'api_server.log'),
        'the rest byte for byte',
      );
    });
    const d = await env.client.workflow.getHandle(RUNNING).describe();
    assert.equal(d.status.name, 'RUNNING', 'the running session goes on');
  });
});
