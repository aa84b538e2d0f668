/**
 * Managed API servers (src/runtime/api-servers.ts) with real processes: one per slot on its own
 * port, answering before it is handed out, started again after it is killed, all stopped at
 * shutdown; a server that dies before answering is an error that shows its log. Per session:
 * two sessions never share a server, one session's health check never touches another's, a
 * session's server is stopped once idle and unused; contained and tagged like an executor, so
 * the servers of a worker killed with SIGKILL are reaped by the next worker on the host, and
 * those of a live worker are left alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  API_OWNER_VAR,
  API_SESSION_VAR,
  ApiServerPool,
  checkApiCommand,
} from '../../src/runtime/api-servers.js';
import { processesWithEnv, TAG_VAR } from '../../src/runtime/containment.js';
import { isProcessAlive, procCgroupV2, procEnvEntries, procStat } from '../../src/runtime/proc.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import type { SessionResult } from '../../src/domain/messages.js';

const SERVER = `${JSON.stringify(process.execPath)} -e "require('http').createServer((q, r) => r.end('ok ' + process.pid)).listen(Number(process.argv[1]), '127.0.0.1')" {port}`;

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

/** The environment of a live process, by name (empty when it is gone). */
function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(
    (procEnvEntries(pid) ?? [])
      .filter((e) => e.includes('='))
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
}

/** Live processes carrying the containment tag `tag`. */
const carrying = (tag: string) => processesWithEnv(TAG_VAR, { value: tag }).map((p) => p.pid);

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

  test('two sessions, one slot each: two servers; a health check of one never touches the other', async () => {
    const two = new ApiServerPool({ command: SERVER, cwd: dir, logDir: dir, log: (l) => lines.push(l) });
    try {
      const [x, y] = await Promise.all([two.serverFor(0, 'sess-x'), two.serverFor(0, 'sess-y')]);
      assert.notEqual(x.url, y.url, 'one port per session');
      assert.notEqual(x.pid, y.pid, 'one server per session');
      // Contained like an executor: its own group, a tag of its own, its owner and session.
      for (const [info, session] of [
        [x, 'sess-x'],
        [y, 'sess-y'],
      ] as const) {
        assert.equal(procStat(info.pid)?.pgrp, info.pid, 'its own process group');
        const env = environOf(info.pid);
        assert.match(env[TAG_VAR] ?? '', /^[0-9a-f]{16}$/);
        assert.equal(env[API_OWNER_VAR], String(process.pid));
        assert.equal(env[API_SESSION_VAR], session);
        assert.deepEqual(carrying(env[TAG_VAR]), [info.pid]);
      }
      assert.notEqual(environOf(x.pid)[TAG_VAR], environOf(y.pid)[TAG_VAR]);
      // Its own cgroup where the machine allows one (named by its tag).
      for (const s of two.list()) {
        if (!s.cgroup) continue;
        assert.equal(path.basename(s.cgroup), s.tag);
        const own = s.pid === null ? '' : (procCgroupV2(s.pid) ?? '');
        assert.ok(own.endsWith(`/autopack-drain/${s.tag}`), own);
      }
      // Session Y's server hangs: Y's next drain's health check stops it and starts another one.
      process.kill(y.pid, 'SIGSTOP');
      const y2 = await two.serverFor(0, 'sess-y');
      assert.notEqual(y2.pid, y.pid);
      assert.equal(y2.restarts, 1);
      assert.ok(
        lines.some((l) => l.includes(`sess-y slot 0: pid ${y.pid} does not answer`)),
        lines.join('\n'),
      );
      await eventually(() => !isProcessAlive(y.pid), 10_000, "the hung server's end");
      // Session X's server was never touched.
      assert.ok(isProcessAlive(x.pid));
      assert.equal(await get(x.url), `ok ${x.pid}`);
      assert.deepEqual(await two.serverFor(0, 'sess-x'), x);
      assert.equal(readFileSync(path.join(dir, 'sess-x', 'api_server.slot0.log'), 'utf8'), '');
    } finally {
      await two.stop();
    }
  });

  test("a session's server is stopped once idle and used by no process; a later drain gets a new one", async () => {
    const idle = new ApiServerPool({
      command: SERVER,
      cwd: dir,
      logDir: dir,
      idleStopMs: 300,
      log: (l) => lines.push(l),
    });
    try {
      const [a, b] = await Promise.all([idle.serverFor(0, 'idle-a'), idle.serverFor(0, 'idle-b')]);
      // An executor of session A still runs with A's URL: A's server stays.
      const user = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
        stdio: 'ignore',
        env: { ...process.env, AUTOPACK_API_URL: a.url },
      });
      try {
        await eventually(() => !isProcessAlive(b.pid), 10_000, "idle session B's server to stop");
        await new Promise((r) => setTimeout(r, 1000));
        assert.ok(isProcessAlive(a.pid), "session A's server stays while a process uses it");
        assert.equal(await get(a.url), `ok ${a.pid}`);
      } finally {
        user.kill('SIGKILL');
      }
      await eventually(() => !isProcessAlive(a.pid), 10_000, "session A's server to stop once unused");
      assert.deepEqual(
        idle.list().map((s) => s.session),
        [],
      );
      const again = await idle.serverFor(0, 'idle-a');
      assert.notEqual(again.pid, a.pid, 'a new server for the next drain of the session');
      assert.equal(await get(again.url), `ok ${again.pid}`);
    } finally {
      await idle.stop();
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

  test('two sessions with one slot each on one worker: two servers; a health-check restart for one never kills the other', async () => {
    // Phase y0 hangs its server (SIGSTOP): session Y's next drain finds it not answering.
    const script = askApiExecutor(
      'ask-api-two.mjs',
      [
        "if (process.argv[2] === 'y0') process.kill(Number(said.split(' ')[1]), 'SIGSTOP');",
        'await new Promise((r) => setTimeout(r, 1500));', // the sessions' drains overlap
      ].join('\n'),
    );
    await seedPhases(
      env.pool,
      ['x', 'y'].flatMap((s) =>
        [0, 1].map((i) => ({
          runId: `two-${s}`,
          phaseId: `${s}${i}`,
          phaseIndex: i,
          lastFailureReason: 'x',
        })),
      ),
    );
    const worker = await env.startWorker({ apiCommand: SERVER, executor: `node ${script} {phase_id}` });
    const [hx, hy] = await Promise.all(
      ['x', 'y'].map((s) =>
        env.client.workflow.start('batchDrain', {
          taskQueue: env.taskQueue,
          workflowId: `api-two-${s}`,
          args: [{ runId: `two-${s}`, batchSize: 2, maxAttemptsPerPhase: 1 }],
        }),
      ),
    );
    const [rx, ry] = (await Promise.all([hx.result(), hy.result()])) as SessionResult[];
    assert.deepEqual([rx.processed, ry.processed], [2, 2]);
    const servedTo = async (session: string) => {
      const rows = await listSessionAttempts(env.pool, session);
      return rows.map((a) => {
        const m = /api (\S+) said ok (\d+)/.exec(readFileSync(a.stdout_path!, 'utf8'));
        assert.ok(m, `${a.phase_id} reached an API server`);
        return { phase: a.phase_id, url: m[1], pid: Number(m[2]) };
      });
    };
    const [x0, x1] = await servedTo('api-two-x');
    const [y0, y1] = await servedTo('api-two-y');
    assert.deepEqual([x0.phase, x1.phase, y0.phase, y1.phase], ['x0', 'x1', 'y0', 'y1']);
    assert.notEqual(x0.url, y0.url, 'one port per session');
    assert.notEqual(x0.pid, y0.pid, 'one server per session');
    assert.notEqual(y1.pid, y0.pid, "session Y's hung server was started again");
    assert.deepEqual(x1, { ...x0, phase: 'x1' }, "session X kept its server through Y's restart");
    assert.ok(isProcessAlive(x0.pid), "session X's server still runs");
    await eventually(() => !isProcessAlive(y0.pid), 10_000, "session Y's hung server to be stopped");
    const jx = JSON.parse(readFileSync(rx.sessionJson!, 'utf8'));
    const jy = JSON.parse(readFileSync(ry.sessionJson!, 'utf8'));
    assert.deepEqual(jx.api_servers, {
      started: 1,
      restarted: 0,
      slots: [{ slot: 0, url: x0.url, pids: [x0.pid] }],
    });
    assert.deepEqual(jy.api_servers, {
      started: 2,
      restarted: 1,
      slots: [{ slot: 0, url: y0.url, pids: [y0.pid, y1.pid] }],
    });
    await worker.shutdown();
    for (const pid of [x0.pid, y1.pid]) assert.equal(isProcessAlive(pid), false, `pid ${pid} still alive`);
  });

  test("a worker killed with SIGKILL leaves its API servers; the next worker on the host reaps them, never a live worker's", async () => {
    // Each server starts a detached child of its own (a new session: out of its group), as a
    // server's workers may: it carries the server's tag.
    const serverWithChild = `${JSON.stringify(process.execPath)} -e "require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' }).unref(); require('http').createServer((q, r) => r.end('ok ' + process.pid)).listen(Number(process.argv[1]), '127.0.0.1')" {port}`;
    const script = askApiExecutor('ask-api-crash.mjs', '');
    await seedPhases(env.pool, [
      { runId: 'crash-k', phaseId: 'k0', phaseIndex: 0, lastFailureReason: 'x' },
      { runId: 'crash-l', phaseId: 'l0', phaseIndex: 0, lastFailureReason: 'x' },
    ]);
    const liveQueue = `${env.taskQueue}-live`;
    const workerEnv = { DRAIN_EXECUTOR: `node ${script} {phase_id}` };
    const killed = env.spawnWorker(workerEnv, ['--api-command', serverWithChild]);
    const live = env.spawnWorker(workerEnv, ['--api-command', serverWithChild, '--task-queue', liveQueue]);
    const serverOf = async (session: string, taskQueue: string) => {
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue,
        workflowId: session,
        args: [{ runId: session.replace('api-', ''), batchSize: 1, maxAttemptsPerPhase: 1 }],
      });
      const r = (await h.result()) as SessionResult;
      assert.equal(r.processed, 1);
      const json = JSON.parse(readFileSync(r.sessionJson!, 'utf8'));
      const pid = json.api_servers.slots[0].pids[0] as number;
      const tag = environOf(pid)[TAG_VAR];
      assert.ok(tag, `the API server ${pid} carries a containment tag`);
      await eventually(() => carrying(tag).length === 2, 10_000, "the server's detached child");
      return { pid, tag, url: json.api_servers.slots[0].url as string };
    };
    try {
      const [k, l] = await Promise.all([
        serverOf('api-crash-k', env.taskQueue),
        serverOf('api-crash-l', liveQueue),
      ]);
      assert.equal(environOf(k.pid)[API_OWNER_VAR], String(killed.pid));
      assert.equal(environOf(l.pid)[API_OWNER_VAR], String(live.pid));
      const leftBehind = carrying(k.tag);
      killed.kill('SIGKILL');
      await new Promise((r) => killed.once('exit', r));
      assert.ok(isProcessAlive(k.pid), 'a worker killed with SIGKILL leaves its API server running');
      assert.equal(leftBehind.filter(isProcessAlive).length, 2);
      // The next worker started on this host reaps them before it polls.
      const next = await env.startWorker({});
      try {
        for (const pid of leftBehind) assert.equal(isProcessAlive(pid), false, `pid ${pid} still alive`);
        assert.deepEqual(carrying(k.tag), [], "no process carries the dead worker's server tag");
        // The live worker's server and its child are left alone.
        assert.ok(isProcessAlive(l.pid));
        assert.equal(carrying(l.tag).length, 2);
        assert.equal(await get(l.url), `ok ${l.pid}`);
      } finally {
        await next.shutdown();
      }
      // Stopping the live worker stops its server, escapee included.
      live.kill('SIGTERM');
      await new Promise((r) => live.once('exit', r));
      await eventually(() => carrying(l.tag).length === 0, 10_000, "the live worker's server to stop");
    } finally {
      for (const w of [killed, live]) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    }
  });
});
