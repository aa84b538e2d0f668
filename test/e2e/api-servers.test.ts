/**
 * Managed API servers (src/runtime/api-servers.ts) with real processes: one per slot on its own
 * port, answering before it is handed out, started again after it is killed, all stopped at
 * shutdown; a server that dies before answering is an error that shows its log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiServerPool, checkApiCommand } from '../../src/runtime/api-servers.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import type { SessionResult } from '../../src/domain/messages.js';

const SERVER = `${JSON.stringify(process.execPath)} -e "require('http').createServer((q, r) => r.end('ok ' + process.pid)).listen(Number(process.argv[1]), '127.0.0.1')" {port}`;

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

describe('managed API servers', () => {
  let dir: string;
  let pool: ApiServerPool;
  const lines: string[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drain-api-'));
    pool = new ApiServerPool({ command: SERVER, cwd: dir, logDir: dir, log: (l) => lines.push(l) });
  });
  after(async () => {
    await pool?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('one server per slot, each on its own port, answering when handed out', async () => {
    const [a, b] = await Promise.all([pool.serverFor(0), pool.serverFor(1)]);
    assert.notEqual(a.url, b.url);
    assert.notEqual(a.pid, b.pid);
    assert.equal(await get(a.url), `ok ${a.pid}`);
    assert.equal(await get(b.url), `ok ${b.pid}`);
    const again = await pool.serverFor(0);
    assert.deepEqual(again, a, 'the same slot gets the same running server');
    assert.equal(a.starts, 1);
    assert.equal(a.restarts, 0);
  });

  test('a killed server is started again on the same port', async () => {
    const before = await pool.serverFor(0);
    process.kill(before.pid, 'SIGKILL');
    const after = await eventually(
      async () => {
        const s = await pool.serverFor(0);
        return s.pid !== before.pid ? s : null;
      },
      30_000,
      'a new server for slot 0',
    );
    assert.ok(after);
    assert.equal(after.url, before.url);
    assert.equal(after.restarts, 1);
    assert.equal(await get(after.url), `ok ${after.pid}`);
    assert.ok(
      lines.some((l) => new RegExp(`pid ${before.pid} (exited|does not answer)`).test(l)),
      lines.join('\n'),
    );
  });

  test('stop() stops every server', async () => {
    const pids = pool.list().map((s) => s.pid as number);
    assert.equal(pids.length, 2);
    await pool.stop();
    for (const pid of pids) assert.equal(isProcessAlive(pid), false, `pid ${pid} still alive`);
    await assert.rejects(pool.serverFor(0), /shutting down/);
  });

  test('a server that exits before answering is an error showing its log', async () => {
    const bad = new ApiServerPool({
      command: `${JSON.stringify(process.execPath)} -e "console.error('no config for port ' + process.argv[1]); process.exit(3)" {port}`,
      cwd: dir,
      logDir: dir,
    });
    try {
      await assert.rejects(bad.serverFor(0), /exited before it answered[\s\S]*no config for port \d+/);
    } finally {
      await bad.stop();
    }
  });

  test('the command must carry {port} and parse', () => {
    assert.throws(() => checkApiCommand('uvicorn app:main'), /must contain \{port\}/);
    assert.throws(() => checkApiCommand('uvicorn --port {port} {nope}'), /unknown placeholder \{nope\}/);
    checkApiCommand('uvicorn autopack.main:app --port {port}');
  });
});

describe('drains with managed API servers (drain worker --api-command)', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
  });
  after(() => env?.teardown());

  /** An executor script that asks its AUTOPACK_API_URL who answers, prints it, then runs `then`. */
  function askApiExecutor(name: string, then: string): string {
    const script = path.join(env.workspace, name);
    writeFileSync(
      script,
      [
        'const said = await (await fetch(process.env.AUTOPACK_API_URL)).text();',
        "console.log('api ' + process.env.AUTOPACK_API_URL + ' said ' + said);",
        then,
      ].join('\n'),
    );
    return script;
  }

  test("each drain gets its slot's server; a killed one is started again; shutdown stops it", async () => {
    // The executor asks its AUTOPACK_API_URL who answers; on phase p1 it kills that server.
    const script = askApiExecutor(
      'ask-api.mjs',
      "if (process.argv[2] === 'p1') process.kill(Number(said.split(' ')[1]), 'SIGKILL');",
    );
    await seedPhases(
      env.pool,
      ['p0', 'p1', 'p2'].map((p, i) => ({
        runId: 'api-run',
        phaseId: p,
        phaseIndex: i,
        lastFailureReason: 'x',
      })),
    );
    const worker = await env.startWorker({ apiCommand: SERVER, executor: `node ${script} {phase_id}` });
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'api-managed',
      args: [{ runId: 'api-run', batchSize: 3, maxAttemptsPerPhase: 1 }],
    });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 3);
    const rows = await listSessionAttempts(env.pool, 'api-managed');
    const said = rows.map((a) => /api (\S+) said ok (\d+)/.exec(readFileSync(a.stdout_path!, 'utf8')));
    assert.ok(said.every(Boolean), 'every executor reached an API server');
    const [p0, p1, p2] = said.map((m) => ({ url: m![1], pid: Number(m![2]) }));
    assert.equal(p0.url, p1.url);
    assert.equal(p0.pid, p1.pid, 'the same server for the same slot');
    assert.equal(p2.url, p0.url, 'restarted on the same port');
    assert.notEqual(p2.pid, p1.pid, 'the killed server was started again');
    const json = JSON.parse(readFileSync(r.sessionJson!, 'utf8'));
    assert.deepEqual(json.api_servers, {
      started: 2,
      restarted: 1,
      slots: [{ slot: 0, url: p0.url, pids: [p0.pid, p2.pid] }],
    });
    await worker.shutdown();
    assert.equal(isProcessAlive(p2.pid), false, 'shutdown stopped the API server');
  });

  test('with two slots each slot drains with its own server', async () => {
    const script = askApiExecutor('ask-api-slots.mjs', 'await new Promise((r) => setTimeout(r, 800));'); // both slots busy at once
    await seedPhases(
      env.pool,
      ['s-a', 's-b'].flatMap((run) =>
        [0, 1].map((i) => ({ runId: run, phaseId: `${run}-${i}`, phaseIndex: i, lastFailureReason: 'x' })),
      ),
    );
    const worker = await env.startWorker({ apiCommand: SERVER, executor: `node ${script} {phase_id}` });
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'api-managed-slots',
      args: [{ skipRunPrefixes: ['api-run'], batchSize: 4, concurrency: 2, maxAttemptsPerPhase: 1 }],
    });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 4);
    const json = JSON.parse(readFileSync(r.sessionJson!, 'utf8'));
    assert.equal(json.api_servers.slots.length, 2, JSON.stringify(json.api_servers));
    const [s0, s1] = json.api_servers.slots as Array<{ slot: number; url: string; pids: number[] }>;
    assert.deepEqual([s0.slot, s1.slot], [0, 1]);
    assert.notEqual(s0.url, s1.url, 'one server per slot, each on its own port');
    assert.deepEqual([s0.pids.length, s1.pids.length, json.api_servers.restarted], [1, 1, 0]);
    await worker.shutdown();
    for (const pid of [...s0.pids, ...s1.pids]) assert.equal(isProcessAlive(pid), false);
  });
});
