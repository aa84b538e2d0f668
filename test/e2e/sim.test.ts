/**
 * The reference executor (src/sim/) and the seeding, against a real embedded Postgres:
 * each scenario runs as a real subprocess (`node bin/drain-sim.js …`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { procStat } from '../../src/runtime/proc.js';
import Database from 'better-sqlite3';
import type { EmbeddedPostgresHandle } from '../../src/runtime/postgres.js';
import { getFreePort } from '../../src/runtime/ports.js';
import { seedPhases, seedSample, seedSynthetic, sampleBacklog, type PhaseSeed } from '../../src/sim/seed.js';
import { startTestPostgres, TEST_PG_TIMEZONE } from '../../harness/pg-template.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/drain-sim.js');

let tmp: string;
let pgh: EmbeddedPostgresHandle;
let pool: pg.Pool;
const started: ChildProcess[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'drain-sim-test-'));
  await chmod(tmp, 0o755); // as root, Postgres runs as 'postgres' and must reach the data dir
  pgh = await startTestPostgres(tmp); // TimeZone Pacific/Chatham: Autopack's naive UTC times must not shift
  pool = createPool(pgh.url);
  await migrate(pool);
});

after(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) killGroup(c.pid!);
  await pool?.end();
  await pgh?.stop();
  if (pgh && !pgh.dataDir.startsWith(tmp))
    await rm(path.dirname(pgh.dataDir), { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBuf: Buffer;
  stderrBuf: Buffer;
}

function start(args: string[], env: Record<string, string | undefined> = {}): ChildProcess {
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: pgh.url,
    TELEMETRY_DB_ENABLED: '1',
    ...env,
  };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: fullEnv, detached: true });
  started.push(child);
  return child;
}

function collect(child: ChildProcess, timeoutMs = 60_000): Promise<Result> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child.pid!);
      reject(new Error(`executor did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBuf = Buffer.concat(out);
      const stderrBuf = Buffer.concat(err);
      resolve({
        code,
        signal,
        stdoutBuf,
        stderrBuf,
        stdout: stdoutBuf.toString('utf8'),
        stderr: stderrBuf.toString('utf8'),
      });
    });
  });
}

const sim = (
  runId: string,
  phaseId: string,
  opts: { force?: boolean; env?: Record<string, string | undefined> } = {},
) =>
  collect(
    start(['--run-id', runId, '--phase-id', phaseId, ...(opts.force === false ? [] : ['--force'])], opts.env),
  );

/** Resolves with the stdout text seen so far once it matches `re`. */
function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${re} in output: ${seen.slice(-500)}`)), timeoutMs);
    const onData = (b: Buffer) => {
      seen += b.toString('utf8');
      if (re.test(seen)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(seen);
      }
    };
    child.stdout!.on('data', onData);
  });
}

function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Alive and not a zombie (a reparented zombie may linger when PID 1 does not reap). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const s = procStat(pid);
  return s !== null && s.state[0] !== 'Z';
}

async function waitUntilGone(pids: number[], timeoutMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive: number[] = [];
    for (const p of pids) if (await isAlive(p)) alive.push(p);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

let seq = 0;
/** Seeds one phase in its own run and returns its key. */
async function seedOne(
  scenario: object | undefined,
  extra: Partial<PhaseSeed> = {},
): Promise<{ runId: string; phaseId: string }> {
  seq++;
  const spec: PhaseSeed = {
    runId: `sim-test-run-${seq}`,
    phaseId: `phase-${seq}`,
    sim: scenario,
    ...extra,
  };
  await seedPhases(pool, [spec]);
  return { runId: spec.runId, phaseId: spec.phaseId };
}

async function phaseRow(k: { runId: string; phaseId: string }) {
  const r = await pool.query(
    'SELECT state, last_failure_reason, started_at, completed_at, updated_at FROM phases WHERE run_id = $1 AND phase_id = $2',
    [k.runId, k.phaseId],
  );
  return r.rows[0];
}

async function countRows(table: string, k: { runId: string; phaseId: string }): Promise<number> {
  const r = await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE run_id = $1 AND phase_id = $2`, [
    k.runId,
    k.phaseId,
  ]);
  return r.rows[0].n;
}
const events = (k: { runId: string; phaseId: string }) => countRows('token_estimation_v2_events', k);
const escalations = (k: { runId: string; phaseId: string }) => countRows('token_budget_escalation_events', k);

describe('drain-sim scenarios', () => {
  test('complete: events written, COMPLETE, exit 0, first line names the scenario', async () => {
    const k = await seedOne(
      { scenario: 'complete', events: 3, seconds: 0.3 },
      { lastFailureReason: 'Phase timed out after 900s' },
    );
    const r = await sim(k.runId, k.phaseId, { env: { DRAIN_SESSION_ID: 'batch-drain-test' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], `[sim] draining ${k.runId}/${k.phaseId} scenario=complete`);
    assert.match(r.stdout, /FAILED -> QUEUED/);
    assert.match(r.stdout, /QUEUED -> EXECUTING/);
    assert.match(r.stdout, /session batch-drain-test/);
    const row = await phaseRow(k);
    assert.equal(row.state, 'COMPLETE');
    assert.equal(row.last_failure_reason, null);
    assert.ok(row.started_at && row.completed_at && row.completed_at >= row.started_at);
    assert.equal(await events(k), 3);
    assert.equal(await escalations(k), 0);
  });

  test('default scenario (scope NULL or without sim): complete with 1 event', async () => {
    const a = await seedOne(undefined);
    const b = await seedOne(undefined);
    await pool.query(`UPDATE phases SET scope = '{"deliverables": ["a.py"]}' WHERE run_id = $1`, [b.runId]);
    for (const k of [a, b]) {
      const r = await sim(k.runId, k.phaseId);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /scenario=complete/);
      assert.equal((await phaseRow(k)).state, 'COMPLETE');
      assert.equal(await events(k), 1);
    }
  });

  test('fail: default reason and exit 1; given reason, events and exitCode', async () => {
    const a = await seedOne({ scenario: 'fail' });
    const r = await sim(a.runId, a.phaseId);
    assert.equal(r.code, 1);
    assert.deepEqual(
      [(await phaseRow(a)).state, (await phaseRow(a)).last_failure_reason],
      ['FAILED', 'patch apply failed'],
    );
    assert.equal(await events(a), 0);
    const b = await seedOne({
      scenario: 'fail',
      reason: 'Missing deliverables: x.py',
      events: 2,
      exitCode: 7,
      seconds: 0.1,
    });
    const r2 = await sim(b.runId, b.phaseId);
    assert.equal(r2.code, 7);
    assert.equal((await phaseRow(b)).last_failure_reason, 'Missing deliverables: x.py');
    assert.equal(await events(b), 2);
  });

  test('crash: Python traceback on stderr, FAILED without reason, exit 3 (or exitCode)', async () => {
    const k = await seedOne({ scenario: 'crash' }, { lastFailureReason: 'old reason' });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^Traceback \(most recent call last\):$/m);
    assert.match(r.stderr, /RuntimeError: /);
    const row = await phaseRow(k);
    assert.deepEqual([row.state, row.last_failure_reason], ['FAILED', null]);
    const k2 = await seedOne({ scenario: 'crash', exitCode: 139 });
    assert.equal((await sim(k2.runId, k2.phaseId)).code, 139);
  });

  test('unicode: non-ASCII on stdout and stderr, then COMPLETE', async () => {
    const k = await seedOne({ scenario: 'unicode', events: 2, seconds: 0.1 });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 0, r.stderr);
    for (const s of ['Café', '日本語', '🚀', 'שלום', 'مرحبا']) {
      assert.ok(r.stdout.includes(s), `stdout has ${s}`);
      assert.ok(r.stderr.includes(s), `stderr has ${s}`);
    }
    assert.equal((await phaseRow(k)).state, 'COMPLETE');
    assert.equal(await events(k), 2);
  });

  test('stderr-exit0: exit 0 but FAILED with no reason', async () => {
    const k = await seedOne(
      { scenario: 'stderr-exit0' },
      { lastFailureReason: 'Missing deliverables: a.py' },
    );
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /WARNING/);
    const row = await phaseRow(k);
    assert.deepEqual([row.state, row.last_failure_reason], ['FAILED', null]);
  });

  test('big-output: 5 MiB on stdout by default, then COMPLETE', async () => {
    const k = await seedOne({ scenario: 'big-output' });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdoutBuf.length >= 5 * 1024 * 1024, `got ${r.stdoutBuf.length} bytes`);
    assert.ok(r.stdoutBuf.length < 5 * 1024 * 1024 + 4096);
    assert.equal((await phaseRow(k)).state, 'COMPLETE');
    const k2 = await seedOne({ scenario: 'big-output', bytes: 1000 });
    const r2 = await sim(k2.runId, k2.phaseId);
    assert.ok(r2.stdoutBuf.length >= 1000 && r2.stdoutBuf.length < 4096);
  });

  test('non-utf8: invalid UTF-8 on stdout and stderr, FAILED with a reason', async () => {
    const k = await seedOne({ scenario: 'non-utf8' });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 1);
    for (const buf of [r.stdoutBuf, r.stderrBuf]) {
      assert.ok(buf.includes(0xff));
      assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(buf));
    }
    const row = await phaseRow(k);
    assert.equal(row.state, 'FAILED');
    assert.match(row.last_failure_reason, /UnicodeDecodeError/);
  });

  test('escalate: escalation rows and a TOKEN_ESCALATION reason', async () => {
    const k = await seedOne({ scenario: 'escalate', escalations: 2, events: 1, seconds: 0.1 });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 1);
    assert.equal(await escalations(k), 2);
    assert.equal(await events(k), 1);
    const row = await phaseRow(k);
    assert.equal(row.state, 'FAILED');
    assert.match(row.last_failure_reason, /TOKEN_ESCALATION/);
  });

  test('llm-boundary: reaches the LLM, fails with a reason, no telemetry', async () => {
    const k = await seedOne({ scenario: 'llm-boundary', seconds: 0.1 });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Calling LLM builder: max_tokens=4096 exceeded, output truncated/);
    assert.equal(await events(k), 0);
    const row = await phaseRow(k);
    assert.equal(row.state, 'FAILED');
    assert.match(row.last_failure_reason, /max_tokens/);
  });

  test('unknown or invalid scenario: FAILED with a sim: reason, exit 2', async () => {
    const k = await seedOne({ scenario: 'explode' });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /scenario=explode/);
    assert.match(r.stderr, /complete, fail, crash, hang/);
    const row = await phaseRow(k);
    assert.equal(row.state, 'FAILED');
    assert.match(row.last_failure_reason, /^sim: unknown scenario "explode"/);
    const k2 = await seedOne({ scenario: 'complete', events: -1 });
    assert.equal((await sim(k2.runId, k2.phaseId)).code, 2);
    assert.match((await phaseRow(k2)).last_failure_reason, /^sim: invalid scenario complete: 'events'/);
  });

  test('TELEMETRY_DB_ENABLED unset: completes without telemetry rows', async () => {
    const k = await seedOne({ scenario: 'complete', events: 2, seconds: 0.1 });
    const r = await sim(k.runId, k.phaseId, { env: { TELEMETRY_DB_ENABLED: undefined } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /TELEMETRY_DB_ENABLED/);
    assert.equal(await events(k), 0);
  });
});

describe('drain-sim contract', () => {
  test('phase ids with spaces, slashes, quotes, unicode and a leading dash; same phase id in two runs', async () => {
    const weird = `-x phase/7 "quoted" 'single' $HOME; résumé 日本 🧪`;
    await seedPhases(pool, [
      { runId: 'weird run/α', phaseId: weird, sim: { events: 2, seconds: 0.1 } },
      { runId: 'other-run', phaseId: weird, sim: { events: 1, seconds: 0.1 } },
    ]);
    const r = await sim('weird run/α', weird);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`[sim] draining weird run/α/${weird} scenario=complete\n`));
    assert.equal((await phaseRow({ runId: 'weird run/α', phaseId: weird })).state, 'COMPLETE');
    assert.equal(await events({ runId: 'weird run/α', phaseId: weird }), 2);
    assert.equal((await phaseRow({ runId: 'other-run', phaseId: weird })).state, 'FAILED');
    assert.equal(await events({ runId: 'other-run', phaseId: weird }), 0);
    const eq = await collect(start([`--run-id=other-run`, `--phase-id=${weird}`, '--force']));
    assert.equal(eq.code, 0, eq.stderr);
  });

  test('without --force: FAILED is refused (exit 3), QUEUED is drained; COMPLETE is left alone', async () => {
    const f = await seedOne({ seconds: 0 }, { lastFailureReason: 'x' });
    const r = await sim(f.runId, f.phaseId, { force: false });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /is FAILED, not QUEUED; use --force/);
    assert.deepEqual([(await phaseRow(f)).state, (await phaseRow(f)).last_failure_reason], ['FAILED', 'x']);
    const q = await seedOne({ seconds: 0 }, { state: 'QUEUED' });
    assert.equal((await sim(q.runId, q.phaseId, { force: false })).code, 0);
    assert.equal((await phaseRow(q)).state, 'COMPLETE');
    const c = await seedOne({ scenario: 'fail' }, { state: 'COMPLETE' });
    const beforeRow = await phaseRow(c);
    const rc = await sim(c.runId, c.phaseId);
    assert.equal(rc.code, 0);
    assert.match(rc.stdout, /already COMPLETE/);
    assert.deepEqual(await phaseRow(c), beforeRow);
  });

  test('--force requeues a phase left EXECUTING by a killed attempt', async () => {
    const k = await seedOne({ seconds: 0 }, { state: 'EXECUTING' });
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /EXECUTING -> QUEUED/);
    assert.equal((await phaseRow(k)).state, 'COMPLETE');
  });

  test('usage errors, missing phase, missing DATABASE_URL: exit 2; the password is never printed', async () => {
    const usage = await collect(start(['--run-id', 'r']));
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--phase-id is required[\s\S]*usage: drain-sim/);
    assert.equal((await collect(start(['--run-id', 'r', '--phase-id', 'p', '--bogus']))).code, 2);
    const help = await collect(start(['--help']));
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: drain-sim/);

    const missing = await sim('no-such-run', 'no-such-phase');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /phase not found: run_id="no-such-run" phase_id="no-such-phase"/);

    const noUrl = await collect(start(['--run-id', 'r', '--phase-id', 'p'], { DATABASE_URL: undefined }));
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /DATABASE_URL is not set/);

    const password = new URL(pgh.url).password;
    const closedPort = await getFreePort();
    const badUrls = [
      pgh.url.replace(`:${pgh.port}/`, `:${closedPort}/`),
      pgh.url.replace(encodeURIComponent(password), 'wrong-s3cret-pw'),
    ];
    for (const url of badUrls) {
      const bad = await collect(start(['--run-id', 'r', '--phase-id', 'p'], { DATABASE_URL: url }));
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /cannot connect to the database/);
      for (const secret of [password, 'wrong-s3cret-pw']) {
        assert.ok(!bad.stderr.includes(secret) && !bad.stdout.includes(secret), 'password printed');
      }
    }
    for (const r of [usage, missing]) assert.ok(!r.stderr.includes(password) && !r.stdout.includes(password));
  });

  test('hang: EXECUTING while running; SIGTERM → exit 143 leaving it EXECUTING', async () => {
    const k = await seedOne({ scenario: 'hang' });
    const child = start(['--run-id', k.runId, '--phase-id', k.phaseId, '--force']);
    const done = collect(child);
    await waitForOutput(child, /still working on/);
    assert.equal((await phaseRow(k)).state, 'EXECUTING');
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 143);
    assert.equal((await phaseRow(k)).state, 'EXECUTING');
  });

  test('hang: SIGKILL of the process group ends it', async () => {
    const k = await seedOne({ scenario: 'hang' });
    const child = start(['--run-id', k.runId, '--phase-id', k.phaseId, '--force']);
    const done = collect(child);
    await waitForOutput(child, /still working on/);
    assert.ok(await isAlive(child.pid!));
    killGroup(child.pid!);
    const r = await done;
    assert.equal(r.signal, 'SIGKILL');
    assert.equal((await phaseRow(k)).state, 'EXECUTING');
  });

  test('hang-with-children: SIGTERM is ignored by all three; SIGKILL of the group ends all', async () => {
    const k = await seedOne({ scenario: 'hang-with-children' });
    const child = start(['--run-id', k.runId, '--phase-id', k.phaseId, '--force']);
    const done = collect(child);
    const seen = await waitForOutput(child, /SIM_GRANDCHILD_PID=\d+\n/);
    const childPid = Number(/SIM_CHILD_PID=(\d+)/.exec(seen)![1]);
    const grandPid = Number(/SIM_GRANDCHILD_PID=(\d+)/.exec(seen)![1]);
    const pids = [child.pid!, childPid, grandPid];
    assert.equal(new Set(pids).size, 3);
    for (const p of pids) assert.ok(await isAlive(p), `pid ${p} alive`);
    for (const p of [childPid, grandPid]) {
      const pgid = procStat(p)?.pgrp;
      assert.equal(pgid, child.pid, `pid ${p} is in the executor's process group`);
    }
    assert.equal((await phaseRow(k)).state, 'EXECUTING');
    killGroup(child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of pids) assert.ok(await isAlive(p), `pid ${p} ignored SIGTERM`);
    killGroup(child.pid!);
    assert.equal((await done).signal, 'SIGKILL');
    assert.deepEqual(await waitUntilGone(pids), []);
  });

  test('endless-output: keeps writing until SIGTERM, then exits 143', async () => {
    const k = await seedOne({ scenario: 'endless-output' });
    const child = start(['--run-id', k.runId, '--phase-id', k.phaseId, '--force']);
    let bytes = 0;
    child.stdout!.on('data', (b: Buffer) => (bytes += b.length));
    const done = collect(child);
    const deadline = Date.now() + 20_000;
    while (bytes < 4 * 1024 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(bytes >= 4 * 1024 * 1024, `only ${bytes} bytes`);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 143);
    assert.ok(Date.now() - t0 < 3000, 'exits promptly');
    assert.equal((await phaseRow(k)).state, 'EXECUTING');
  });
});

describe('seeding', () => {
  const sampleRuns = [...new Set(sampleBacklog().map((s) => s.runId))];
  const sampleCounts = async () => {
    const r = await pool.query(
      `SELECT count(DISTINCT run_id)::int AS runs, count(*)::int AS phases,
              count(*) FILTER (WHERE state = 'QUEUED')::int AS queued
         FROM phases WHERE run_id = ANY($1)`,
      [sampleRuns],
    );
    return r.rows[0];
  };

  test('seedSample is idempotent and resets drained phases', async () => {
    const first = await seedSample(pool);
    assert.ok(first.runs >= 4 && first.phases >= 20, JSON.stringify(first));
    const before = await sampleCounts();
    assert.deepEqual(before, { runs: first.runs, phases: first.phases, queued: before.queued });
    assert.ok(before.queued >= 1);
    await pool.query(`UPDATE phases SET state = 'COMPLETE' WHERE run_id = ANY($1)`, [sampleRuns]);
    const second = await seedSample(pool);
    assert.deepEqual(second, first);
    assert.deepEqual(await sampleCounts(), before);
    const { rows } = await pool.query(
      `SELECT count(*) FILTER (WHERE last_failure_reason IS NULL AND state = 'FAILED')::int AS no_reason,
              count(*) FILTER (WHERE scope IS NOT NULL)::int AS with_sim
         FROM phases WHERE run_id = ANY($1)`,
      [sampleRuns],
    );
    assert.ok(rows[0].no_reason >= 1);
    assert.equal(rows[0].with_sim, first.phases);
  });

  test('a sample phase drains with the real executor', async () => {
    await seedSample(pool);
    const k = { runId: 'telemetry-collection-v2', phaseId: 'telemetry-p1-string-util' };
    const r = await sim(k.runId, k.phaseId);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await phaseRow(k)).state, 'COMPLETE');
    assert.equal(await events(k), 1);
  });

  test('seedPhases: default phase_index is the position within the run; bad state is rejected', async () => {
    await seedPhases(pool, [
      { runId: 'idx-run', phaseId: 'a' },
      { runId: 'idx-run', phaseId: 'b' },
      { runId: 'idx-run', phaseId: 'c', phaseIndex: 10, state: 'QUEUED' },
    ]);
    const { rows } = await pool.query(
      `SELECT phase_id, phase_index, state FROM phases WHERE run_id = 'idx-run' ORDER BY phase_id`,
    );
    assert.deepEqual(
      rows.map((r) => [r.phase_id, r.phase_index, r.state]),
      [
        ['a', 0, 'FAILED'],
        ['b', 1, 'FAILED'],
        ['c', 10, 'QUEUED'],
      ],
    );
    await assert.rejects(
      seedPhases(pool, [{ runId: 'idx-run', phaseId: 'd', state: 'DONE' }]),
      /unknown state/,
    );
  });

  test('seedSynthetic(10_000): counts, state mix, every failure category, idempotent', async () => {
    const o = { phases: 10_000, runs: 100, failedFraction: 0.2, prefix: 'bench' };
    const c = await seedSynthetic(pool, o);
    assert.equal(c.phases, 10_000);
    assert.equal(c.runs, 100);
    const sum = Object.values(c.byState).reduce((a, b) => a + b, 0);
    assert.equal(sum, 10_000);
    assert.equal(c.byState.FAILED, 2_000);
    assert.equal(c.byState.QUEUED, 200);
    assert.equal(c.byState.COMPLETE, 7_800);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT run_id)::int AS runs,
              count(DISTINCT coalesce(last_failure_reason, '<null>')) FILTER (WHERE state = 'FAILED')::int AS reasons,
              max(phase_index)::int AS max_index
         FROM phases WHERE run_id LIKE 'bench-run-%'`,
    );
    assert.deepEqual(rows[0], { n: 10_000, runs: 100, reasons: 8, max_index: 99 });
    assert.deepEqual(await seedSynthetic(pool, o), c);
    const again = await pool.query(`SELECT count(*)::int AS n FROM phases WHERE run_id LIKE 'bench-run-%'`);
    assert.equal(again.rows[0].n, 10_000);
  });
});

describe("Autopack's shape on PostgreSQL (TimeZone not UTC)", () => {
  const tokens = async (k: { runId: string; phaseId: string }) =>
    (
      await pool.query(
        `SELECT p.tokens_used AS phase, r.tokens_used AS run FROM phases p JOIN runs r ON r.id = p.run_id
          WHERE p.run_id = $1 AND p.phase_id = $2`,
        [k.runId, k.phaseId],
      )
    ).rows[0];

  test('the server runs with a TimeZone that is not UTC; times written are naive UTC and read back as such', async () => {
    assert.equal((await pool.query('SHOW TimeZone')).rows[0].TimeZone, TEST_PG_TIMEZONE);
    const k = await seedOne({ scenario: 'complete', events: 1, seconds: 0 });
    const before = Date.now();
    assert.equal((await sim(k.runId, k.phaseId)).code, 0);
    const row = await phaseRow(k);
    for (const t of [row.started_at, row.completed_at, row.updated_at] as Date[])
      assert.ok(
        Math.abs(t.getTime() - before) < 60_000,
        `${t.toISOString()} is not now (${new Date(before).toISOString()})`,
      );
    const { rows } = await pool.query(
      `SELECT e.timestamp, e.created_at, e.event_id, pg_typeof(e.timestamp)::text AS type,
              abs(extract(epoch FROM e.timestamp - (now() AT TIME ZONE 'UTC'))) < 60 AS utc_now
         FROM token_estimation_v2_events e WHERE run_id = $1 AND phase_id = $2`,
      [k.runId, k.phaseId],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].type, 'timestamp without time zone');
    assert.ok(rows[0].utc_now, 'the telemetry timestamp is UTC now');
    assert.ok(Number(rows[0].event_id) > 0);
  });

  test('state columns are the enum types; every run has its tier and every phase points at it', async () => {
    const { rows } = await pool.query(
      `SELECT (SELECT pg_typeof(state)::text FROM phases LIMIT 1) AS phase_state,
              (SELECT pg_typeof(state)::text FROM runs LIMIT 1) AS run_state,
              (SELECT count(*)::int FROM runs r WHERE NOT EXISTS (SELECT 1 FROM tiers t WHERE t.run_id = r.id)) AS tierless,
              (SELECT count(*)::int FROM phases p JOIN tiers t ON t.id = p.tier_id WHERE t.run_id <> p.run_id) AS foreign_tier`,
    );
    assert.deepEqual(rows[0], {
      phase_state: 'phasestate',
      run_state: 'runstate',
      tierless: 0,
      foreign_tier: 0,
    });
  });

  test("model calls add their output tokens to the phase's and the run's tokens_used; --force does not reset them", async () => {
    const k = await seedOne({ scenario: 'complete', events: 3, seconds: 0, tokens: 500 });
    assert.equal((await sim(k.runId, k.phaseId)).code, 0);
    assert.deepEqual(await tokens(k), { phase: 1500, run: 1500 });
    assert.equal((await sim(k.runId, k.phaseId)).code, 0); // already COMPLETE: no calls
    await pool.query(`UPDATE phases SET state = 'FAILED' WHERE run_id = $1 AND phase_id = $2`, [
      k.runId,
      k.phaseId,
    ]);
    assert.equal((await sim(k.runId, k.phaseId)).code, 0);
    assert.deepEqual(await tokens(k), { phase: 3000, run: 3000 });

    const e = await seedOne({ scenario: 'escalate', escalations: 2, seconds: 0 });
    assert.equal((await sim(e.runId, e.phaseId)).code, 1);
    assert.deepEqual(await tokens(e), { phase: 4096 + 8192, run: 4096 + 8192 });

    const off = await seedOne({ scenario: 'complete', events: 2, seconds: 0, tokens: 7 });
    assert.equal((await sim(off.runId, off.phaseId, { env: { TELEMETRY_DB_ENABLED: undefined } })).code, 0);
    assert.deepEqual(
      await tokens(off),
      { phase: 14, run: 14 },
      'tokens are spent without telemetry rows too',
    );
    assert.equal(await events(off), 0);
  });
});

describe('a SQLite backlog (sqlite:/// URLs, Autopack’s SQLite shape)', () => {
  const NAIVE_UTC = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/;
  let file: string;
  const open = () => new Database(file, { readonly: true });
  const phase = (k: { runId: string; phaseId: string }) => {
    const db = open();
    try {
      return db
        .prepare('SELECT * FROM phases WHERE run_id = ? AND phase_id = ?')
        .get(k.runId, k.phaseId) as Record<string, unknown>;
    } finally {
      db.close();
    }
  };

  before(async () => {
    file = path.join(tmp, 'autopack.db');
    await seedPhases(file, [
      { runId: 'sq-run', phaseId: 'done', sim: { scenario: 'complete', events: 2, seconds: 0, tokens: 100 } },
      { runId: 'sq-run', phaseId: 'fails', sim: { scenario: 'fail', reason: 'Missing deliverables: a.py' } },
      { runId: 'sq-run', phaseId: 'escalates', sim: { scenario: 'escalate', escalations: 1, seconds: 0 } },
      { runId: 'sq-other', phaseId: 'queued', state: 'QUEUED', sim: { seconds: 0 } },
    ]);
  });

  test('the seeded file has Autopack’s rows: upper-case states, naive UTC times, a tier per run, journal mode delete', () => {
    const db = open();
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
      const runs = db
        .prepare('SELECT id, state, created_at, token_cap FROM runs ORDER BY id')
        .all() as Record<string, unknown>[];
      assert.deepEqual(
        runs.map((r) => [r.id, r.state, r.token_cap]),
        [
          ['sq-other', 'PHASE_EXECUTION', 5_000_000],
          ['sq-run', 'DONE_FAILED_REQUIRES_HUMAN_REVIEW', 5_000_000],
        ],
      );
      for (const r of runs) assert.match(String(r.created_at), NAIVE_UTC);
      const tiers = db.prepare('SELECT run_id, tier_id, state FROM tiers ORDER BY run_id').all();
      assert.deepEqual(tiers, [
        { run_id: 'sq-other', tier_id: 'T1', state: 'IN_PROGRESS' },
        { run_id: 'sq-run', tier_id: 'T1', state: 'FAILED' },
      ]);
      const orphans = db
        .prepare(
          'SELECT count(*) AS n FROM phases p LEFT JOIN tiers t ON t.id = p.tier_id WHERE t.id IS NULL',
        )
        .get();
      assert.deepEqual(orphans, { n: 0 });
    } finally {
      db.close();
    }
  });

  test('the executor drains it by an absolute URL: states, reasons, telemetry, tokens, times as Autopack writes them', async () => {
    const url = `sqlite:///${file}`; // sqlite:////abs/path
    const done = { runId: 'sq-run', phaseId: 'done' };
    const r = await sim(done.runId, done.phaseId, { env: { DATABASE_URL: url } });
    assert.equal(r.code, 0, r.stderr);
    const row = phase(done);
    assert.equal(row.state, 'COMPLETE');
    assert.equal(row.tokens_used, 200);
    for (const c of ['started_at', 'completed_at', 'updated_at']) assert.match(String(row[c]), NAIVE_UTC, c);
    assert.ok(Math.abs(Date.parse(String(row.completed_at).replace(' ', 'T') + 'Z') - Date.now()) < 60_000);

    const fails = { runId: 'sq-run', phaseId: 'fails' };
    assert.equal((await sim(fails.runId, fails.phaseId, { env: { DATABASE_URL: url } })).code, 1);
    assert.deepEqual(
      [phase(fails).state, phase(fails).last_failure_reason],
      ['FAILED', 'Missing deliverables: a.py'],
    );

    const esc = { runId: 'sq-run', phaseId: 'escalates' };
    assert.equal((await sim(esc.runId, esc.phaseId, { env: { DATABASE_URL: url } })).code, 1);
    const db = open();
    try {
      const est = db
        .prepare('SELECT event_id, timestamp, model, success FROM token_estimation_v2_events')
        .all() as Record<string, unknown>[];
      assert.equal(est.length, 2);
      for (const e of est) {
        assert.match(String(e.timestamp), NAIVE_UTC);
        assert.deepEqual([e.model, e.success], ['sim-model', 1]);
      }
      const escRows = db
        .prepare('SELECT attempt_index, base_value, tokens_used FROM token_budget_escalation_events')
        .all();
      assert.deepEqual(escRows, [{ attempt_index: 1, base_value: 4096, tokens_used: 4096 }]);
      assert.deepEqual(db.prepare(`SELECT tokens_used FROM runs WHERE id = 'sq-run'`).get(), {
        tokens_used: 200 + 4096,
      });
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
    } finally {
      db.close();
    }
  });

  test('a relative sqlite:/// URL is resolved against the executor’s directory; a missing file is exit 2', async () => {
    const q = { runId: 'sq-other', phaseId: 'queued' };
    const r = await sim(q.runId, q.phaseId, { force: false, env: { DATABASE_URL: 'sqlite:///autopack.db' } }); // cwd: tmp
    assert.equal(r.code, 0, r.stderr);
    assert.equal(phase(q).state, 'COMPLETE');
    const missing = await sim(q.runId, q.phaseId, { env: { DATABASE_URL: 'sqlite:///no-such.db' } });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot connect to the database/);
    const bad = await sim(q.runId, q.phaseId, { env: { DATABASE_URL: 'sqlite://autopack.db' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not usable/);
  });

  test('seedSynthetic on SQLite: the same backlog as on PostgreSQL, idempotent', async () => {
    const o = { phases: 10_000, runs: 100, failedFraction: 0.2, prefix: 'sqbench' };
    const target = path.join(tmp, 'synthetic.db');
    const c = await seedSynthetic(target, o);
    assert.deepEqual(c, {
      runs: 100,
      phases: 10_000,
      byState: { FAILED: 2_000, QUEUED: 200, COMPLETE: 7_800 },
    });
    assert.deepEqual(await seedSynthetic(target, o), c);
    const pgRows = await seedSynthetic(pool, o).then(() =>
      pool.query(
        `SELECT run_id, phase_id, phase_index, state::text AS state, last_failure_reason FROM phases
          WHERE run_id LIKE 'sqbench-run-%' ORDER BY phase_id`,
      ),
    );
    const db = new Database(target, { readonly: true });
    try {
      const sqRows = db
        .prepare(
          `SELECT run_id, phase_id, phase_index, state, last_failure_reason FROM phases
            WHERE run_id LIKE 'sqbench-run-%' ORDER BY phase_id`,
        )
        .all();
      assert.equal(sqRows.length, 10_000);
      assert.deepEqual(sqRows, pgRows.rows);
    } finally {
      db.close();
    }
  });
});
