// The runtime against the real binaries: Temporal dev server (persistence, search attributes,
// orphans, port conflicts), embedded Postgres persistence, startServices, the test server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DRAIN_SEARCH_ATTRIBUTE_FLAGS } from '../../src/domain/search-attributes.js';
import { BinaryNotFoundError, findTemporalCli, findTestServer } from '../../src/runtime/binaries.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { getFreePort } from '../../src/runtime/ports.js';
import { startEmbeddedPostgres } from '../../src/runtime/postgres.js';
import { startServices } from '../../src/runtime/services.js';
import { startTemporalDevServer, type TemporalServerHandle } from '../../src/runtime/temporal-server.js';
import { stopProcesses, waitProcessesGone } from '../../src/runtime/process-group.js';

const base = mkdtempSync(path.join(tmpdir(), 'drain-runtime-'));
chmodSync(base, 0o755); // embedded Postgres runs as the postgres user when we are root
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse())
    await Promise.resolve()
      .then(c)
      .catch(() => {});
  rmSync(base, { recursive: true, force: true });
});

let cli = '';
before(() => {
  try {
    cli = findTemporalCli();
  } catch (e) {
    if (!(e instanceof BinaryNotFoundError)) throw e;
    execFileSync(process.execPath, [path.join(projectRoot(), 'scripts', 'setup-tools.mjs')], {
      stdio: 'inherit',
    });
    cli = findTemporalCli();
  }
});

async function startDev(
  dbFile: string,
  port: number,
  uiPort: number | null,
  searchAttributes: string[],
): Promise<TemporalServerHandle> {
  const h = await startTemporalDevServer({
    binary: cli,
    dbFile,
    port,
    uiPort,
    logFile: path.join(base, 'temporal.log'),
    searchAttributes,
  });
  cleanups.push(() => h.stop());
  return h;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function customAttributes(address: string): Promise<Record<string, number>> {
  const conn = await Connection.connect({ address });
  try {
    const r = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
    return Object.fromEntries(Object.entries(r.customAttributes ?? {}).map(([k, v]) => [k, Number(v)]));
  } finally {
    await conn.close();
  }
}

test('dev server keeps workflows and search attributes across stop/start on one db file', async () => {
  const dbFile = path.join(base, 'persist', 'temporal.db');
  const [port, uiPort] = [await getFreePort(), await getFreePort()];
  const first = await startDev(dbFile, port, uiPort, DRAIN_SEARCH_ATTRIBUTE_FLAGS);
  assert.equal(first.address, `127.0.0.1:${port}`);
  assert.equal(first.uiUrl, `http://127.0.0.1:${uiPort}`);
  assert.ok(existsSync(`${dbFile}.pid`));
  const ui = await fetch(first.uiUrl!);
  assert.equal(ui.status, 200);
  await ui.body?.cancel();

  const conn = await Connection.connect({ address: first.address });
  const client = new Client({ connection: conn, namespace: first.namespace });
  const started = await client.workflow.start('noop', { taskQueue: 'runtime-e2e', workflowId: 'persist-me' });
  await conn.close();
  await first.stop();
  await first.stop(); // idempotent
  assert.equal(pidAlive(first.pid), false);
  assert.equal(existsSync(`${dbFile}.pid`), false);

  // Second start: same db; one extra attribute that only exists in this start's list.
  const second = await startDev(dbFile, port, null, [
    ...DRAIN_SEARCH_ATTRIBUTE_FLAGS,
    'DrainE2eExtra=Keyword',
  ]);
  assert.equal(second.uiUrl, null);
  const conn2 = await Connection.connect({ address: second.address });
  try {
    const d = await new Client({ connection: conn2 }).workflow.getHandle('persist-me').describe();
    assert.equal(d.runId, started.firstExecutionRunId);
    assert.equal(d.type, 'noop');
    assert.equal(d.status.name, 'RUNNING');
  } finally {
    await conn2.close();
  }
  const attrs = await customAttributes(second.address);
  // IndexedValueType: 2 = Keyword, 3 = Int
  assert.deepEqual(
    {
      DrainStatus: attrs.DrainStatus,
      DrainRunFilter: attrs.DrainRunFilter,
      DrainProcessed: attrs.DrainProcessed,
      DrainFailed: attrs.DrainFailed,
      DrainE2eExtra: attrs.DrainE2eExtra,
    },
    { DrainStatus: 2, DrainRunFilter: 2, DrainProcessed: 3, DrainFailed: 3, DrainE2eExtra: 2 },
  );
  await second.stop();
});

test('a port in use gives a clear error naming the port and the env var, and starts nothing', async () => {
  const blocker = net.createServer();
  const port = await getFreePort();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => blocker.close(r)));
  const dbFile = path.join(base, 'conflict', 'temporal.db');
  await assert.rejects(startDev(dbFile, port, null, []), (e: Error) => {
    assert.match(e.message, new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use`));
    assert.match(e.message, /DRAIN_TEMPORAL_PORT/);
    assert.match(e.message, /TEMPORAL_ADDRESS/);
    return true;
  });
  await assert.rejects(startDev(dbFile, await getFreePort(), port, []), /DRAIN_TEMPORAL_UI_PORT/);
  assert.equal(existsSync(`${dbFile}.pid`), false);
});

test('a dev server left running on the same db file (its starter was kill -9ed) is attached, never doubled or stopped; a stale pid file is cleaned', async () => {
  const dbFile = path.join(base, 'orphan', 'temporal.db');
  const port = await getFreePort();
  const first = await startDev(dbFile, port, null, []);
  // Simulate the orphan: a server started from another process, recorded only in the pid file.
  await first.stop();
  const log = openSync(path.join(base, 'orphan.log'), 'a');
  const orphan = spawn(
    cli,
    [
      'server',
      'start-dev',
      '--db-filename',
      dbFile,
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--headless',
    ],
    {
      stdio: ['ignore', log, log],
      detached: true,
    },
  );
  cleanups.push(() => pidAlive(orphan.pid!) && process.kill(orphan.pid!, 'SIGKILL'));
  writeFileSync(`${dbFile}.pid`, `${orphan.pid}\n`);
  const exited = new Promise((r) => orphan.once('exit', r));
  // Another port asked for: the running server's own address is used.
  const second = await startDev(dbFile, await getFreePort(), null, DRAIN_SEARCH_ATTRIBUTE_FLAGS);
  assert.equal(second.pid, orphan.pid);
  assert.equal(second.attached, true);
  assert.equal(second.owned, false);
  assert.equal(second.address, `127.0.0.1:${port}`);
  assert.ok('DrainStatus' in (await customAttributes(second.address)), 'search attributes ensured');
  await second.stop();
  assert.equal(pidAlive(orphan.pid!), true, 'an attached server is left running');

  process.kill(orphan.pid!, 'SIGKILL');
  await exited;
  assert.ok(existsSync(`${dbFile}.pid`), 'stale pid file (dead pid)');
  const third = await startDev(dbFile, port, null, []);
  assert.equal(third.attached, false);
  assert.notEqual(third.pid, orphan.pid);
  await third.stop();

  // A pid file whose pid now belongs to another program: cleaned, that program untouched.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  cleanups.push(() => other.kill('SIGKILL'));
  writeFileSync(`${dbFile}.pid`, `${other.pid}\n`);
  const fourth = await startDev(dbFile, port, null, []);
  assert.equal(fourth.attached, false);
  assert.equal(pidAlive(other.pid!), true);
  await fourth.stop();
  assert.equal(existsSync(`${dbFile}.pid`), false);
});

test('embedded Postgres keeps data across stop/start', async () => {
  const dataDir = path.join(base, 'pg');
  const port = await getFreePort();
  const h = await startEmbeddedPostgres({ dataDir, port });
  cleanups.push(() => h.stop());
  const q = async (url: string, sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await q(h.url, 'CREATE TABLE t (v text); INSERT INTO t VALUES ($$kept$$)');
  // A second start while it runs attaches (on its port), and its stop() leaves it running.
  const again = await startEmbeddedPostgres({ dataDir, port: await getFreePort() });
  assert.deepEqual([again.attached, again.owned, again.pid, again.url], [true, false, h.pid, h.url]);
  await again.stop();
  assert.deepEqual((await q(h.url, 'SELECT v FROM t')).rows, [{ v: 'kept' }]);
  await h.stop();
  const h2 = await startEmbeddedPostgres({ dataDir, port });
  cleanups.push(() => h2.stop());
  assert.equal(h2.url, h.url);
  assert.deepEqual((await q(h2.url, 'SELECT v FROM t')).rows, [{ v: 'kept' }]);
  await h2.stop();
});

test('startServices uses DATABASE_URL and TEMPORAL_ADDRESS without starting anything', async () => {
  const env = {
    DATABASE_URL: 'postgres://u:p@db.example:5432/x',
    TEMPORAL_ADDRESS: 'temporal.example:7233',
    TEMPORAL_NAMESPACE: 'prod',
    DRAIN_PG_PORT: 'bogus',
  };
  const s = await startServices({ env, stateDir: path.join(base, 'unused') });
  assert.equal(s.databaseUrl, env.DATABASE_URL);
  assert.equal(s.temporalAddress, env.TEMPORAL_ADDRESS);
  assert.equal(s.namespace, 'prod');
  assert.equal(s.uiUrl, null);
  assert.deepEqual(s.embedded, { postgres: false, temporal: false });
  assert.equal(s.postgres, undefined);
  assert.equal(s.temporal, undefined);
  assert.equal(existsSync(path.join(base, 'unused')), false);
  await s.stop();
  await s.stop();
});

test('startServices rejects a bad port variable, naming it', async () => {
  await assert.rejects(
    startServices({ env: { DRAIN_TEMPORAL_PORT: '70000', DATABASE_URL: 'postgres://x/y' } }),
    /DRAIN_TEMPORAL_PORT=70000 is not a valid port/,
  );
  await assert.rejects(
    startServices({ env: { DRAIN_PG_PORT: '12ab', TEMPORAL_ADDRESS: 'x:1' } }),
    /DRAIN_PG_PORT=12ab/,
  );
  await assert.rejects(
    startServices({ env: { DRAIN_TEMPORAL_UI_PORT: '0', DATABASE_URL: 'postgres://x/y' } }),
    /DRAIN_TEMPORAL_UI_PORT=0/,
  );
});

test('startServices embedded: Postgres and the dev server with the drain search attributes; stop() stops both', async () => {
  const [pgPort, tPort, uiPort] = [await getFreePort(), await getFreePort(), await getFreePort()];
  const env = {
    DRAIN_PG_PORT: String(pgPort),
    DRAIN_TEMPORAL_PORT: String(tPort),
    DRAIN_TEMPORAL_UI_PORT: String(uiPort),
    TEMPORAL_CLI_PATH: cli,
    PATH: process.env.PATH,
  };
  const lines: string[] = [];
  const s = await startServices({ env, stateDir: path.join(base, 'state'), log: (l) => lines.push(l) });
  cleanups.push(() => s.stop());
  assert.deepEqual(s.embedded, { postgres: true, temporal: true });
  assert.equal(s.temporalAddress, `127.0.0.1:${tPort}`);
  assert.equal(s.uiUrl, `http://127.0.0.1:${uiPort}`);
  assert.ok(existsSync(path.join(base, 'state', 'temporal.db')));
  const c = new pg.Client({ connectionString: s.databaseUrl });
  await c.connect();
  assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  await c.end();
  const attrs = await customAttributes(s.temporalAddress);
  for (const f of DRAIN_SEARCH_ATTRIBUTE_FLAGS) assert.ok(f.split('=')[0] in attrs, f);
  assert.ok(
    lines.some((l) => l.includes('Temporal dev server ready')),
    lines.join('\n'),
  );
  const tpid = s.temporal!.pid;
  await s.stop();
  await s.stop();
  assert.equal(pidAlive(tpid), false);
  await assert.rejects(Connection.connect({ address: s.temporalAddress, connectTimeout: 500 }));
});

test('the Java time-skipping test server binary starts', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: findTestServer() } },
  });
  try {
    assert.equal(env.supportsTimeSkipping, true);
    const t0 = await env.currentTimeMs();
    await env.sleep('1 day');
    assert.ok((await env.currentTimeMs()) - t0 >= 86_400_000);
  } finally {
    await env.teardown();
  }
});

describe('stopProcesses: the one "signal, wait, kill" of the runtime', () => {
  /** A node process running `code`, once it has run it (it says so on stdout). */
  const spawnNode = async (code: string) => {
    const c = spawn(process.execPath, ['-e', `${code}; process.stdout.write('ready')`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve, reject) => {
      c.stdout.once('data', () => resolve());
      c.once('exit', () => reject(new Error(`exited before it was ready: ${code}`)));
    });
    return c;
  };
  test('a process that ends on SIGTERM is gone within the grace; one that ignores it is killed', async () => {
    // Each has run its code (the handler installed) before it is signalled: no fixed wait.
    const polite = await spawnNode('setInterval(() => {}, 1000)');
    const stubborn = await spawnNode("process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)");
    const gotSignal = (c: typeof polite) =>
      new Promise<string | null>((r) => c.on('exit', (_code, sig) => r(sig)));
    const [politeSig, stubbornSig] = [gotSignal(polite), gotSignal(stubborn)];
    assert.equal(await stopProcesses([polite.pid!, stubborn.pid!], 500), true);
    assert.equal(await politeSig, 'SIGTERM');
    assert.equal(await stubbornSig, 'SIGKILL');
    assert.equal(await waitProcessesGone([polite.pid!, stubborn.pid!], 0), true);
  });
});
