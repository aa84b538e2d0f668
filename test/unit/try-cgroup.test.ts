/**
 * A try's cgroup is made below the worker's own cgroup (/proc/self/cgroup), so the stop and
 * limits of the worker's service reach its executors; where that cannot be made, at the
 * hierarchy's root as before, with one line in the worker's log saying why. The real check
 * runs this test process in a child cgroup it makes (root and a cgroup v2 mount needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cgroupPlaces, createTryCgroup, endTry, joinCgroup, TAG_VAR } from '../../src/runtime/containment.js';
import { isProcessAlive, procCgroup, procCgroupV2, selfMountinfo } from '../../src/runtime/proc.js';

const MOUNTINFO_UNIFIED = [
  '24 30 0:22 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755',
  '31 24 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw',
  '32 24 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
].join('\n');
const MOUNTINFO_PURE =
  '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n';

test('cgroupPlaces: the cgroup v2 mount and this process’s own cgroup in it', () => {
  assert.deepEqual(cgroupPlaces(MOUNTINFO_PURE, '0::/system.slice/drain-worker.service\n'), {
    root: '/sys/fs/cgroup',
    own: '/sys/fs/cgroup/system.slice/drain-worker.service',
  });
  // hybrid layout: v1 controllers beside the unified hierarchy
  assert.deepEqual(cgroupPlaces(MOUNTINFO_UNIFIED, '4:memory:/x\n1:name=systemd:/\n0::/user.slice/a b\n'), {
    root: '/sys/fs/cgroup/unified',
    own: '/sys/fs/cgroup/unified/user.slice/a b',
  });
  assert.deepEqual(cgroupPlaces(MOUNTINFO_PURE, '0::/\n'), { root: '/sys/fs/cgroup', own: '/sys/fs/cgroup' });
  // a mount of a subtree (a container's cgroup namespace seen from outside)
  const sub = '40 24 0:30 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  assert.deepEqual(cgroupPlaces(sub, '0::/kubepods/pod1/c1\n'), {
    root: '/sys/fs/cgroup',
    own: '/sys/fs/cgroup/c1',
  });
  // own cgroup unknown: none, removed, outside the mount, an escaped mount path
  assert.equal(cgroupPlaces(MOUNTINFO_PURE, '1:name=systemd:/\n')?.own, null);
  assert.equal(cgroupPlaces(MOUNTINFO_PURE, '0::/gone (deleted)\n')?.own, null);
  assert.equal(cgroupPlaces(sub, '0::/other\n')?.own, null);
  const escaped = '41 24 0:30 / /mnt/cg\\040v2 rw - cgroup2 cgroup2 rw\n';
  assert.equal(cgroupPlaces(escaped, '0::/a\n')?.own, '/mnt/cg v2/a');
  assert.equal(cgroupPlaces(MOUNTINFO_UNIFIED.split('\n')[0], '0::/\n'), null, 'no cgroup v2 mount');
});

/** The cgroup v2 mount and this process's own cgroup, when a real check can run here. */
function realPlaces(): { root: string; own: string } | null {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null;
  const places = cgroupPlaces(selfMountinfo() ?? '', procCgroup('self') ?? '');
  if (!places?.own || !existsSync(path.join(places.own, 'cgroup.procs'))) return null;
  return { root: places.root, own: places.own };
}

/** Runs `fn` with this process moved into a new child cgroup of its own; moves it back after. */
async function inChildCgroup(name: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const home = realPlaces()!.own;
  const dir = path.join(home, name);
  mkdirSync(dir);
  try {
    writeFileSync(path.join(dir, 'cgroup.procs'), String(process.pid));
    try {
      await fn(dir);
    } finally {
      writeFileSync(path.join(home, 'cgroup.procs'), String(process.pid));
    }
  } finally {
    try {
      rmdirSync(path.join(dir, 'autopack-drain'));
    } catch {
      /* not made */
    }
    rmdirSync(dir);
  }
}

const ownCgroupOf = (pid: number) => procCgroupV2(pid) ?? undefined;

test('a try’s cgroup is below the worker’s own cgroup; its executor runs there and is ended', async (t) => {
  const places = realPlaces();
  if (!places || process.env.DRAIN_NO_CGROUP === '1') return t.skip('needs root and a cgroup v2 mount');
  await inChildCgroup(`drain-test-${process.pid}`, async (own) => {
    const tag = `cgtest${process.pid}`;
    const dir = createTryCgroup(tag);
    assert.equal(dir, path.join(own, 'autopack-drain', tag), 'below this process’s own cgroup');
    assert.ok(existsSync(path.join(dir!, 'cgroup.kill')));
    const startedMs = Date.now();
    const child = spawn('sleep', ['60'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, [TAG_VAR]: tag },
    });
    assert.ok(await joinCgroup(dir, child.pid!));
    const rel = path.relative(places.root, dir!);
    assert.equal(ownCgroupOf(child.pid!), `/${rel}`, 'the executor is in the try’s cgroup');
    await endTry({ pgid: child.pid!, tag, cgroup: dir, startedMs }, 1_000);
    assert.equal(isProcessAlive(child.pid!), false);
    assert.equal(existsSync(dir!), false, 'the try’s cgroup is removed');
  });
});

test('where no cgroup can be made below the worker’s own: at the root, said once in the log', async (t) => {
  const places = realPlaces();
  if (!places || process.env.DRAIN_NO_CGROUP === '1') return t.skip('needs root and a cgroup v2 mount');
  await inChildCgroup(`drain-test-full-${process.pid}`, async (own) => {
    writeFileSync(path.join(own, 'cgroup.max.descendants'), '0'); // mkdir below it: EAGAIN
    const warnings: string[] = [];
    const warn = t.mock.method(console, 'warn', (m: string) => warnings.push(m));
    const made: string[] = [];
    try {
      for (const tag of [`cgfull${process.pid}a`, `cgfull${process.pid}b`]) {
        const dir = createTryCgroup(tag);
        if (dir) made.push(dir);
        assert.equal(dir, path.join(places.root, 'autopack-drain', tag), 'today’s place: the root');
      }
    } finally {
      warn.mock.restore();
      for (const d of made) rmdirSync(d);
    }
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0],
      new RegExp(`cannot create try cgroups below this worker's cgroup ${own} \\(EAGAIN\\)`),
    );
  });
});
