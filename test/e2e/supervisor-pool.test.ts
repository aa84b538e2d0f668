// Try supervisors started ahead of their tries (src/runtime/supervisor-pool.ts) as real
// processes: a try's leader is a supervisor that was ready before the try; the executor gets the
// try's argv, working directory, environment, log files and cgroup, and its exit is the try's;
// a bad working directory is a spawn error that names it; idle spares end when the pool closes
// and when their worker is SIGKILLed. The records database is a closed port here (renewals fail
// and are retried; the fence bounds are far away): what a database does is fence.test.ts's part.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTryCgroup, endTry } from '../../src/runtime/containment.js';
import { findOnPath, setprivPath } from '../../src/runtime/binaries.js';
import { waitProcessesGone } from '../../src/runtime/process-group.js';
import { bootMs, isProcessAlive, procEnvEntries, processStartBootMs } from '../../src/runtime/proc.js';
import { SupervisorPool } from '../../src/runtime/supervisor-pool.js';

const dir = mkdtempSync(path.join(tmpdir(), 'drain-spool-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const RECORDS = { recordsUrl: 'postgres://drain@127.0.0.1:1/none', searchPath: null, renewMs: 200 };
let n = 0;

/** One try's configuration (try-supervisor.mjs's second line) for `argv` in `cwd`. */
function tryConfig(
  argv: string[],
  o: { cwd?: string; env?: Record<string, string>; cgroup?: string | null } = {},
) {
  const i = ++n;
  const files = {
    stdoutPath: path.join(dir, `t${i}.out`),
    stderrPath: path.join(dir, `t${i}.err`),
    statusFile: path.join(dir, `t${i}.status.json`),
  };
  writeFileSync(files.stdoutPath, '');
  writeFileSync(files.stderrPath, '');
  const cwd = o.cwd ?? dir;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env };
  const config = {
    key: { sessionId: 's', execRunId: 'e', runId: 'r', phaseId: `p${i}`, attempt: 1, tryNo: 1 },
    argv,
    cwd,
    env,
    ...files,
    leaseTtlSeconds: 60,
    renewMs: 200,
    fenceSeconds: 600,
    hardLimitSeconds: 60,
    killGraceMs: 1000,
    cgroup: o.cgroup ?? null,
    setpriv: setprivPath(),
    command: findOnPath(argv[0], cwd, env),
  };
  return { config, files };
}

test('a try starts under a supervisor that was ready before it, and the next one is ready again', async () => {
  const pool = new SupervisorPool(RECORDS);
  try {
    const first = pool.start(tryConfig(['true']).config, null);
    assert.equal((await first.exited).exitCode, 0);
    // Spares are started when a try ends: wait until one is there.
    for (let i = 0; i < 100 && pool.sparePids().length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    const spares = pool.sparePids();
    assert.ok(spares.length >= 1, 'a spare is ready after the first try');
    await new Promise((r) => setTimeout(r, 300));
    const at = bootMs();
    const second = pool.start(tryConfig(['true']).config, null);
    assert.ok(
      second.pid !== null && spares.includes(second.pid),
      `try 2's leader ${second.pid} is one of ${spares}`,
    );
    const born = processStartBootMs(second.pid);
    assert.ok(
      born !== null && at !== null && born < at,
      `its leader started (${born}) before the try (${at})`,
    );
    assert.equal((await second.exited).exitCode, 0);
  } finally {
    pool.close();
  }
});

test('a spare keeps NODE_EXTRA_CA_CERTS only when its records connection may use TLS', async () => {
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  const bundle = path.join(dir, 'extra-ca.pem');
  writeFileSync(bundle, ''); // Node reads it at start (a warning on the spare's ignored stderr)
  process.env.NODE_EXTRA_CA_CERTS = bundle;
  const envOfSpares = async (recordsUrl: string) => {
    const pool = new SupervisorPool({ ...RECORDS, recordsUrl });
    try {
      pool.expect(2);
      for (let i = 0; i < 100 && pool.sparePids().length < 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      const pids = pool.sparePids();
      assert.ok(pids.length >= 1, 'spares started');
      return pids.map(
        (pid) => (procEnvEntries(pid) ?? []).find((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')) ?? null,
      );
    } finally {
      pool.close();
    }
  };
  try {
    for (const e of await envOfSpares(RECORDS.recordsUrl)) assert.equal(e, null, 'no TLS: not given');
    for (const e of await envOfSpares(`${RECORDS.recordsUrl}?sslmode=require`))
      assert.equal(e, `NODE_EXTRA_CA_CERTS=${bundle}`, 'TLS: kept');
  } finally {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  }
});

test("the executor gets the try's argv, cwd, environment, log files and cgroup; its exit is the try's", async () => {
  const pool = new SupervisorPool(RECORDS);
  const work = mkdtempSync(path.join(dir, 'ws-'));
  const tag = `spool${process.pid}x${Date.now()}`;
  const cgroup = createTryCgroup(tag);
  try {
    const script = 'echo "out $1"; echo "err $FOO" >&2; pwd; grep \'^0::\' /proc/self/cgroup; exit 7';
    const t = tryConfig(['sh', '-c', script, 'sh', 'arg1'], { cwd: work, env: { FOO: 'bar' }, cgroup });
    const started = pool.start(t.config, cgroup);
    const exit = await started.exited;
    assert.equal(exit.exitCode, 7);
    assert.equal(await started.joined, cgroup !== null);
    const out = readFileSync(t.files.stdoutPath, 'utf8').split('\n');
    assert.equal(out[0], 'out arg1');
    assert.equal(out[1], work);
    if (cgroup) assert.ok(out[2].endsWith(`/${tag}`), `the executor was born in the try's cgroup: ${out[2]}`);
    assert.equal(readFileSync(t.files.stderrPath, 'utf8'), 'err bar\n');
    assert.deepEqual(JSON.parse(readFileSync(t.files.statusFile, 'utf8')), {
      returnCode: 7,
      signal: null,
      end: 'exited',
      reason: null,
    });
    const killed = pool.start(tryConfig(['sh', '-c', 'kill -KILL $$']).config, null);
    assert.equal((await killed.exited).signal, 'SIGKILL');
  } finally {
    pool.close();
    if (cgroup) await endTry({ pgid: null, tag, cgroup, startedMs: 0 }, 500);
  }
});

test('a working directory that does not exist is a spawn error that names it', async () => {
  const pool = new SupervisorPool(RECORDS);
  try {
    const missing = path.join(dir, 'no-such-dir');
    const t = tryConfig(['true'], { cwd: missing });
    t.config.command = '/bin/true';
    const exit = await pool.start(t.config, null).exited;
    assert.equal(exit.exitCode, 127);
    const status = JSON.parse(readFileSync(t.files.statusFile, 'utf8')) as { spawnError: string };
    assert.match(status.spawnError, new RegExp(`working directory ${missing}: ENOENT`));
    const gone = pool.start(tryConfig(['no-such-executor-x']).config, null);
    assert.equal((await gone.exited).exitCode, 127);
  } finally {
    pool.close();
  }
});

test('idle spares end when the pool closes, and when their worker is SIGKILLed', async () => {
  const pool = new SupervisorPool(RECORDS);
  await pool.start(tryConfig(['true']).config, null).exited;
  for (let i = 0; i < 100 && pool.sparePids().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const spares = pool.sparePids();
  assert.ok(spares.length >= 1);
  pool.close();
  assert.ok(await waitProcessesGone(spares, 10_000), `spares ${spares} ended after close()`);

  // A worker process with a ready spare, SIGKILLed: the spare sees its stdin end and exits.
  const poolModule = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../../src/runtime/supervisor-pool.ts',
  );
  const { config } = tryConfig(['true']);
  const script = path.join(dir, 'worker.mts');
  writeFileSync(
    script,
    `import { SupervisorPool } from ${JSON.stringify(poolModule)};
const pool = new SupervisorPool(${JSON.stringify(RECORDS)});
await pool.start(${JSON.stringify(config)}, null).exited;
const wait = () => pool.sparePids().length ? console.log(JSON.stringify(pool.sparePids())) : setTimeout(wait, 50);
wait();
setInterval(() => {}, 1000);
`,
  );
  const worker = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    worker.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0]);
    });
    worker.on('exit', () => reject(new Error(`worker exited before printing its spares: ${buf}`)));
  });
  const orphans = JSON.parse(line) as number[];
  assert.ok(orphans.length >= 1 && orphans.every(isProcessAlive));
  worker.kill('SIGKILL');
  assert.ok(await waitProcessesGone(orphans, 10_000), `spares ${orphans} of a SIGKILLed worker ended`);
});
