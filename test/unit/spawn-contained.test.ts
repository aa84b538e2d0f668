/**
 * containment.spawnContained, the one spawn of executors and baseline commands: the child leads
 * its own process group, writes straight into the log files' descriptors (the caller closes its
 * copies at once), carries the caller's environment exactly, reports exits and signals as
 * results (never a rejection), reports a failed start as pid null with the spawn's error, and
 * outlives a worker that crashes or is stopped (recovery judges it; no exit hook kills it).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TAG_VAR, createTryCgroup, endTry, spawnContained } from '../../src/runtime/containment.js';
import { procStat } from '../../src/runtime/proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'spawn-contained-'));
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
const groups: number[] = [];

after(() => {
  for (const g of groups) killGroup(g);
  process.off('unhandledRejection', onUnhandled);
  rmSync(tmp, { recursive: true, force: true });
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Alive and not a zombie. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const s = procStat(pid);
  return s !== null && s.state[0] !== 'Z';
}

/** Opens the two log files as executor-process.ts does, spawns, and closes our copies at once. */
function spawnToLogs(name: string, argv: string[], env: NodeJS.ProcessEnv, cgroup: string | null = null) {
  const stdoutPath = path.join(tmp, `${name}.stdout.log`);
  const stderrPath = path.join(tmp, `${name}.stderr.log`);
  const stdoutFd = openSync(stdoutPath, 'a');
  const stderrFd = openSync(stderrPath, 'a');
  try {
    const sub = spawnContained({ argv, cwd: tmp, env, stdoutFd, stderrFd, cgroup });
    if (sub.pid) groups.push(sub.pid);
    return { ...sub, stdoutPath, stderrPath };
  } finally {
    closeSync(stdoutFd);
    closeSync(stderrFd);
  }
}

const REPORT = `
const fs = require('node:fs');
const stat = fs.readFileSync('/proc/self/stat', 'utf8');
const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
process.stdout.write(JSON.stringify({
  pid: process.pid, pgid: Number(f[2]), sid: Number(f[3]),
  fd0: fs.readlinkSync('/proc/self/fd/0'), fd1: fs.readlinkSync('/proc/self/fd/1'), fd2: fs.readlinkSync('/proc/self/fd/2'),
  tag: process.env.${TAG_VAR} ?? null, extra: process.env.SPAWN_CONTAINED_EXTRA ?? null,
}));
process.stderr.write('to stderr\\n');
process.exitCode = 3;
`;

describe('spawnContained', { skip: process.platform !== 'linux' && 'Linux /proc' }, () => {
  test('own process group, output by fd into the log files, exactly the given env, exit code', async () => {
    const env = { PATH: process.env.PATH, [TAG_VAR]: 'tag-of-this-test' };
    process.env.SPAWN_CONTAINED_EXTRA = 'must not leak'; // not in `env`: the child must not see it
    let sub;
    try {
      sub = spawnToLogs('report', [process.execPath, '-e', REPORT], env);
    } finally {
      delete process.env.SPAWN_CONTAINED_EXTRA;
    }
    assert.ok(sub.pid, 'started');
    assert.deepEqual(await sub.exited, { exitCode: 3, signal: null, error: null });
    assert.equal(await sub.joined, false, 'no cgroup given: no move');
    const seen = JSON.parse(readFileSync(sub.stdoutPath, 'utf8')) as Record<string, unknown>;
    assert.equal(seen.pid, sub.pid);
    assert.equal(seen.pgid, sub.pid, 'the child leads its own process group');
    assert.equal(seen.sid, sub.pid, 'and its own session (detached)');
    assert.equal(seen.fd0, '/dev/null');
    assert.equal(seen.fd1, sub.stdoutPath, 'stdout is the log file itself, not a pipe');
    assert.equal(seen.fd2, sub.stderrPath, 'stderr is the log file itself, not a pipe');
    assert.equal(seen.tag, 'tag-of-this-test');
    assert.equal(seen.extra, null, "the worker's own environment is not merged in");
    assert.equal(readFileSync(sub.stderrPath, 'utf8'), 'to stderr\n');
  });

  test('a signal to the group is a result, not a rejection', async () => {
    const sub = spawnToLogs('signal', ['sleep', '30'], { PATH: process.env.PATH });
    assert.ok(sub.pid);
    await new Promise((r) => setTimeout(r, 100));
    process.kill(-sub.pid, 'SIGTERM');
    assert.deepEqual(await sub.exited, { exitCode: null, signal: 'SIGTERM', error: null });
    const failing = spawnToLogs('exit1', ['sh', '-c', 'exit 1'], { PATH: process.env.PATH });
    assert.deepEqual(await failing.exited, { exitCode: 1, signal: null, error: null });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
  });

  test('a command that cannot start: pid null, the spawn error, no cgroup move', async () => {
    const sub = spawnToLogs('enoent', ['/nonexistent/executor'], { PATH: process.env.PATH });
    assert.equal(sub.pid, null);
    const r = await sub.exited;
    assert.equal(r.exitCode, null);
    assert.equal(r.signal, null);
    assert.equal(r.error?.message, 'spawn /nonexistent/executor ENOENT');
    assert.equal(await sub.joined, false);
    const bad = spawnToLogs('bad-arg', ['sleep', 'a\0b'], { PATH: process.env.PATH });
    assert.equal(bad.pid, null);
    assert.ok((await bad.exited).error, 'an invalid argument is reported, not thrown');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
  });

  test('the child outlives a worker that crashes or is stopped (no exit hook kills it)', async () => {
    const containment = path.join(ROOT, 'src/runtime/containment.ts');
    for (const end of ['throw new Error("worker crash")', 'process.kill(process.pid, "SIGTERM")']) {
      const script = `
        const { spawnContained } = await import(${JSON.stringify(containment)});
        const sub = spawnContained({ argv: ['sleep', '30'], cwd: '/', env: { PATH: process.env.PATH },
          stdoutFd: 1, stderrFd: 2, cgroup: null });
        console.log('PID=' + sub.pid);
        setTimeout(() => { ${end}; }, 50);
      `;
      const worker = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      worker.stdout.on('data', (b: Buffer) => (out += b.toString()));
      worker.stderr.resume();
      await new Promise((r) => worker.once('exit', r));
      const pid = Number(/PID=(\d+)/.exec(out)?.[1]);
      assert.ok(pid > 0, `the worker started a child (${end}): ${out}`);
      groups.push(pid);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(isAlive(pid), `the child outlived the worker's end (${end})`);
      killGroup(pid);
    }
  });

  test("the move into the try's cgroup is awaited through `joined`", async (t) => {
    const tag = `spawn-contained-test-${process.pid}`;
    const cgroup = createTryCgroup(tag);
    if (!cgroup) return t.skip('no writable cgroup v2 with cgroup.kill here');
    const sub = spawnToLogs('cgroup', ['sleep', '30'], { PATH: process.env.PATH, [TAG_VAR]: tag }, cgroup);
    assert.ok(sub.pid);
    assert.equal(await sub.joined, true);
    const procs = readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n').map(Number);
    assert.ok(procs.includes(sub.pid), 'the child is in the cgroup');
    const startedMs = Date.now() - 1000;
    await endTry({ pgid: sub.pid, tag, cgroup, startedMs }, 200);
    assert.equal((await sub.exited).signal, 'SIGTERM');
  });
});
