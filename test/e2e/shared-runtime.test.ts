/**
 * One embedded runtime per state directory, shared: `drain` commands run while `drain dev` is
 * up use its Postgres and Temporal dev server and leave them running; concurrent starters on
 * one state directory run one postmaster; a stale postmaster.pid is recovered from. Everything
 * runs as real `node bin/drain.js …` subprocesses on a temp DRAIN_STATE_DIR with free ports.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Connection } from '@temporalio/client';
import { projectRoot } from '../../src/runtime/paths.js';
import { getFreePort } from '../../src/runtime/ports.js';
import { resolveDataDir } from '../../src/runtime/postgres.js';
import { isProcessAlive, procArgv, procPids, procStat } from '../../src/runtime/proc.js';
import { withStateLock } from '../../src/runtime/state-lock.js';

const BIN = path.join(projectRoot(), 'bin', 'drain.js');
const base = mkdtempSync(path.join(tmpdir(), 'drain-shared-'));
chmodSync(base, 0o755); // as root, Postgres runs as 'postgres' and must reach its data dir
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Servers a failed test left behind (they run detached from the CLI processes).
  for (const dir of readdirSync(base)) {
    const pid = postmasterPid(path.join(base, dir));
    if (pid) process.kill(pid, 'SIGQUIT');
    const tpid = temporalPid(path.join(base, dir));
    if (tpid) process.kill(tpid, 'SIGKILL');
  }
  await new Promise((r) => setTimeout(r, 500));
  rmSync(base, { recursive: true, force: true });
});

interface State {
  dir: string;
  env: NodeJS.ProcessEnv;
  pgPort: number;
  temporalPort: number;
}

async function freshState(name: string): Promise<State> {
  const dir = path.join(base, name);
  mkdirSync(dir);
  const [pgPort, temporalPort, uiPort] = [await getFreePort(), await getFreePort(), await getFreePort()];
  const env = {
    ...process.env,
    DRAIN_STATE_DIR: dir,
    DRAIN_PG_PORT: String(pgPort),
    DRAIN_TEMPORAL_PORT: String(temporalPort),
    DRAIN_TEMPORAL_UI_PORT: String(uiPort),
    DATABASE_URL: '',
    TEMPORAL_ADDRESS: '',
  };
  return { dir, env, pgPort, temporalPort };
}

const pgDataDir = (stateDir: string) => resolveDataDir(path.join(stateDir, 'pg'));

/** The live pid in <data dir>/postmaster.pid, or null. */
function postmasterPid(stateDir: string): number | null {
  const file = path.join(pgDataDir(stateDir), 'postmaster.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return pid > 0 && isProcessAlive(pid) ? pid : null;
}

function temporalPid(stateDir: string): number | null {
  const file = path.join(stateDir, 'temporal.db.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return pid > 0 && isProcessAlive(pid) ? pid : null;
}

const isPostgres = (argv: string[]) => argv.length > 0 && path.basename(argv[0]) === 'postgres';

/**
 * Pids of live postmasters whose command line names this data dir: not their children (a
 * freshly forked backend still shows the postmaster's command line for a moment).
 */
function postmastersOn(dataDir: string): number[] {
  const found: number[] = [];
  for (const pid of procPids()) {
    const argv = procArgv(pid); // null: gone meanwhile
    if (!argv || !isPostgres(argv) || !argv.includes(dataDir) || !isProcessAlive(pid)) continue;
    const ppid = procStat(pid)?.ppid;
    const parent = ppid === undefined ? null : procArgv(ppid);
    if (parent && !isPostgres(parent)) found.push(pid);
  }
  return found;
}

async function pgAnswers(s: State, port = s.pgPort): Promise<boolean> {
  const pw = readFileSync(path.join(path.dirname(pgDataDir(s.dir)), 'pg-password'), 'utf8').trim();
  const c = new pg.Client({
    connectionString: `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/autopack`,
    connectionTimeoutMillis: 3000,
  });
  try {
    await c.connect();
    return (await c.query('SELECT 1 AS one')).rows[0].one === 1;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function temporalAnswers(s: State): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address: `127.0.0.1:${s.temporalPort}`, connectTimeout: 2000 });
    try {
      await conn.workflowService.describeNamespace({ namespace: 'default' });
      return true;
    } finally {
      await conn.close();
    }
  } catch {
    return false;
  }
}

interface Run {
  code: number | null;
  out: string;
}

function drain(s: State, args: string[], timeoutMs = 90_000): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function okDrain(s: State, args: string[], timeoutMs?: number): Promise<string> {
  const r = await drain(s, args, timeoutMs);
  assert.equal(r.code, 0, `drain ${args.join(' ')} exited ${r.code}\n${r.out}`);
  return r.out;
}

/** `drain dev` in the background, ready once its worker runs. */
async function startDev(s: State): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'dev'], {
    env: s.env,
    cwd: s.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const until = Date.now() + 120_000;
  while (!out.includes('autopack-drain worker running')) {
    if (child.exitCode !== null) assert.fail(`drain dev exited ${child.exitCode}:\n${out}`);
    if (Date.now() > until) assert.fail(`drain dev not ready after 120 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => out };
}

async function interrupt(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** A pid that was alive a moment ago and is not any more. */
async function deadPid(): Promise<number> {
  const p = spawn('true', { stdio: 'ignore' });
  await new Promise((r) => p.once('exit', r));
  return p.pid!;
}

describe('drain commands while drain dev runs', () => {
  let s: State;
  let dev: Awaited<ReturnType<typeof startDev>>;
  let pgPid: number | null = null;
  let tPid: number | null = null;
  before(async () => {
    s = await freshState('dev');
    dev = await startDev(s);
    pgPid = postmasterPid(s.dir);
    tPid = temporalPid(s.dir);
  });
  after(() => (dev.child.exitCode === null ? interrupt(dev.child) : null));

  const assertDevServicesUp = async () => {
    assert.equal(postmasterPid(s.dir), pgPid, 'the same postmaster');
    assert.ok(await pgAnswers(s), 'Postgres still answers');
    assert.equal(temporalPid(s.dir), tPid, 'the same dev server');
    assert.ok(await temporalAnswers(s), 'the dev server still answers');
    assert.equal(dev.child.exitCode, null, `drain dev still runs:\n${dev.output()}`);
  };

  test('drain db seed --sample, drain db migrate and drain verify leave its Postgres and dev server running', async () => {
    assert.ok(pgPid && tPid, `no servers recorded:\n${dev.output()}`);
    const seeded = await okDrain(s, ['db', 'seed', '--sample']);
    assert.match(
      seeded,
      new RegExp(
        `using the embedded Postgres already running on 127\\.0\\.0\\.1:${s.pgPort} \\(pid ${pgPid}\\)`,
      ),
    );
    assert.doesNotMatch(seeded, /starting embedded Postgres/);
    await okDrain(s, ['db', 'migrate']);
    const unknown = await drain(s, ['verify', 'no-such-session']);
    assert.equal(unknown.code, 2, unknown.out);
    await assertDevServicesUp();
  });

  test('drain demo uses the running services and leaves them running', async () => {
    const out = await okDrain(s, ['demo', '--batch-size', '4', '--phase-timeout-seconds', '4'], 120_000);
    assert.match(out, /using the embedded Postgres already running/);
    assert.match(out, /using the Temporal dev server already running/);
    assert.match(out, /BATCH DRAIN SUMMARY/);
    await assertDevServicesUp();
  });

  test('drain dev stops what it started when it is interrupted', async () => {
    assert.equal(await interrupt(dev.child), 0, dev.output());
    assert.equal(isProcessAlive(pgPid!), false, 'its Postgres stopped');
    assert.equal(isProcessAlive(tPid!), false, 'its dev server stopped');
    assert.doesNotMatch(dev.output(), /ECONNREFUSED/);
  });
});

describe('concurrent starters and stale state on one state directory', () => {
  let s: State;
  before(async () => {
    s = await freshState('pair');
  });

  test('two drain db migrate at once on a fresh state dir: one postmaster, both succeed', async () => {
    const dataDir = pgDataDir(s.dir);
    const seen = new Set<number>();
    const sampler = setInterval(() => postmastersOn(dataDir).forEach((pid) => seen.add(pid)), 50);
    const [a, b] = await Promise.all([drain(s, ['db', 'migrate']), drain(s, ['db', 'migrate'])]);
    clearInterval(sampler);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    const starts = [a, b].filter((r) => r.out.includes('starting embedded Postgres'));
    assert.equal(starts.length, 1, `exactly one started Postgres:\n${a.out}\n---\n${b.out}`);
    const attached = [a, b].filter((r) => r.out.includes('using the embedded Postgres already running'));
    assert.equal(attached.length, 1, `the other attached:\n${a.out}\n---\n${b.out}`);
    assert.equal(seen.size, 1, `postmasters seen: ${[...seen].join(', ')}`);
    assert.deepEqual(postmastersOn(dataDir), [], 'the starter stopped it once both were done');
  });

  test('a stale postmaster.pid (dead pid, or a pid now of another program) and a stale lock are recovered from', async () => {
    const dataDir = pgDataDir(s.dir);
    const pidFile = path.join(dataDir, 'postmaster.pid');
    const stale = (pid: number) =>
      writeFileSync(
        pidFile,
        `${pid}\n${dataDir}\n${Math.floor(Date.now() / 1000)}\n${s.pgPort}\n\n127.0.0.1\n     0         0\nready   \n`,
      );
    stale(await deadPid());
    writeFileSync(path.join(s.dir, 'services.lock'), `${await deadPid()}\ndrain.js db migrate\nx\n`);
    await okDrain(s, ['db', 'migrate']);

    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(other);
    stale(other.pid!);
    await okDrain(s, ['db', 'seed', '--sample']);
    assert.equal(isProcessAlive(other.pid!), true, 'the other program was not signalled');
    assert.equal(existsSync(pidFile), false, 'no postmaster left running');
    assert.deepEqual(postmastersOn(dataDir), []);
  });
});

describe('the state lock', () => {
  test('one holder at a time; a dead holder is taken over; a live one is waited for, naming it', async () => {
    const file = path.join(base, 'lock-test', 'services.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withStateLock(file, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 30));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
    assert.equal(existsSync(file), false, 'released');

    writeFileSync(file, `${await deadPid()}\nkilled holder\nx\n`);
    assert.equal(await withStateLock(file, async () => 'taken over', { timeoutMs: 2000 }), 'taken over');

    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(holder);
    writeFileSync(file, `${holder.pid}\nsleep 30\nx\n`);
    const waits: number[] = [];
    await assert.rejects(
      withStateLock(file, async () => {}, { timeoutMs: 300, onWait: (h) => waits.push(h.pid) }),
      new RegExp(`held by pid ${holder.pid} \\(sleep 30\\)`),
    );
    assert.deepEqual(waits, [holder.pid]);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    assert.equal(await withStateLock(file, async () => 'free', { timeoutMs: 2000 }), 'free');
  });
});
