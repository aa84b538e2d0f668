/** src/runtime/proc.ts: the one reader of /proc (Linux). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  bootMs,
  childrenByParent,
  isProcessAlive,
  pidNamespace,
  procArgv,
  procCgroup,
  procCommandLine,
  procEnvEntries,
  procEnviron,
  environHas,
  procPids,
  procStat,
  processStartBootMs,
  readProc,
  taskChildren,
} from '../../src/runtime/proc.js';

const linux = process.platform === 'linux';

test('this process as /proc shows it', { skip: !linux && 'Linux /proc' }, () => {
  const s = procStat(process.pid)!;
  assert.equal(s.ppid, process.ppid);
  assert.equal(typeof s.pgrp, 'number');
  assert.ok(isProcessAlive(process.pid));
  assert.ok(procPids().includes(process.pid));
  assert.equal(procArgv(process.pid)![0], process.execPath);
  assert.ok(procCommandLine(process.pid).startsWith(process.execPath));
  const start = processStartBootMs(process.pid)!;
  const now = bootMs()!;
  assert.ok(start > 0 && start <= now, `${start} <= ${now}`);
  assert.ok(procEnvEntries(process.pid)!.some((e) => e.startsWith('PATH=')));
  assert.ok(environHas(procEnviron(process.pid)!, Buffer.from(`PATH=${process.env.PATH}`)));
  assert.ok(!environHas(procEnviron(process.pid)!, Buffer.from('PATH=')));
  assert.ok(procCgroup('self') !== null);
  assert.match(pidNamespace('self') ?? '', /^pid:\[\d+\]$/);
});

test("a process's CPU time, and its waited-for children's", { skip: !linux && 'Linux /proc' }, () => {
  const before = procStat(process.pid)!;
  assert.equal(before.comm, readProc(`${process.pid}/comm`)!.trim());
  const spin = (ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end;);
  };
  const used = process.cpuUsage();
  spin(300);
  const mine = (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(used));
  const after = procStat(process.pid)!;
  // Ticks are 10 ms: what /proc counts is within a few ticks of what Node counts.
  assert.ok(
    Math.abs(after.cpuSeconds - before.cpuSeconds - mine) < 0.05,
    `${after.cpuSeconds - before.cpuSeconds} vs ${mine}`,
  );
  const child = spawnSync(process.execPath, ['-e', 'for (const e = Date.now() + 300; Date.now() < e; );']);
  assert.equal(child.status, 0);
  const children = procStat(process.pid)!.childrenCpuSeconds - after.childrenCpuSeconds;
  assert.ok(children >= 0.25, `a child that spun 300 ms: ${children} s`);
});

test(
  'a child is listed as a child, and reads of a gone process are empty',
  { skip: !linux && 'Linux /proc' },
  async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    assert.ok(childrenByParent(process.pid).includes(pid));
    assert.ok(taskChildren(process.pid).includes(pid) || taskChildren(process.pid).length === 0);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(isProcessAlive(pid), false);
    assert.equal(procStat(pid), null);
    assert.equal(procArgv(pid), null);
    assert.equal(procCommandLine(pid), '');
    assert.equal(procEnviron(pid), null);
    assert.equal(processStartBootMs(pid), null);
    assert.deepEqual(taskChildren(pid), []);
  },
);
