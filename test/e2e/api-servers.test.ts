/**
 * Managed API servers (src/runtime/api-servers.ts) with real processes: one per slot on its own
 * port, answering before it is handed out, started again after it is killed, all stopped at
 * shutdown; a server that dies before answering is an error that shows its log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiServerPool, checkApiCommand } from '../../src/runtime/api-servers.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import { eventually } from '../helpers/env.js';

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
      lines.some((l) => l.includes(`pid ${before.pid} exited`)),
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
