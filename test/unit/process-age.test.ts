/**
 * The process-age guard compares on the boot clock: a wall-clock step (a VM resume, an NTP
 * correction) of any size before or during a try never makes our own executor look older than
 * its try, while a process that really started before the try is still not taken for its.
 * Simulated clocks first, then real processes with a simulated wall-clock step.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  AGE_SLACK_MS,
  noteTryStart,
  procClocks,
  startedSince,
  tryStartBootMs,
  useClocks,
  type HostClocks,
} from '../../src/runtime/process-age.js';
import { endTry, taggedProcesses, TAG_VAR } from '../../src/runtime/containment.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';

/** A host: wall and boot clocks advance together; `step` moves the wall clock alone. */
function fakeHost(wall0: number, boot0: number) {
  let wall = wall0;
  let boot = boot0;
  const starts = new Map<number, number>();
  const clocks: HostClocks = {
    wallMs: () => wall,
    bootMs: () => boot,
    processStartBootMs: (pid) => starts.get(pid) ?? null,
  };
  return {
    clocks,
    advance(ms: number) {
      wall += ms;
      boot += ms;
    },
    step(ms: number) {
      wall += ms;
    },
    spawnAt(pid: number) {
      starts.set(pid, boot);
    },
    /** The old guard: boot time (wall − uptime) read once at the worker's start, plus starttime. */
    bootTimeNow: () => wall - boot,
  };
}

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

for (const stepMs of [30_000, -30_000, 3_600_000]) {
  test(`a wall-clock step of ${stepMs / 1000} s before the try starts: our executor is ours`, () => {
    const h = fakeHost(Date.parse('2026-01-01T00:00:00Z'), 100_000);
    restore = useClocks(h.clocks);
    const cachedBootTime = h.bootTimeNow(); // the worker started; the old guard cached this
    h.advance(60_000);
    h.step(stepMs); // the VM resumes; the wall clock is set right
    h.advance(1_000);
    const tag = `before-${stepMs}`;
    const tryStartWall = h.clocks.wallMs();
    noteTryStart(tag);
    h.advance(50);
    h.spawnAt(4242);
    h.advance(10_000);
    assert.ok(startedSince(4242, tryStartBootMs(tag, tryStartWall)), 'the executor is the try’s');
    // What the old guard saw: its start on the wall clock with the cached boot time.
    const oldStart = cachedBootTime + h.clocks.processStartBootMs(4242)!;
    assert.equal(
      oldStart >= tryStartWall - AGE_SLACK_MS,
      stepMs < 0,
      'the old guard was wrong on a step forward',
    );
  });

  test(`a wall-clock step of ${stepMs / 1000} s while the try runs: our executor is still ours`, () => {
    const h = fakeHost(Date.parse('2026-01-01T00:00:00Z'), 100_000);
    restore = useClocks(h.clocks);
    const tag = `during-${stepMs}`;
    const tryStartWall = h.clocks.wallMs();
    noteTryStart(tag);
    h.advance(20);
    h.spawnAt(4343);
    h.advance(5_000);
    h.step(stepMs);
    h.advance(5_000);
    assert.ok(startedSince(4343, tryStartBootMs(tag, tryStartWall)));
  });
}

test('a process that started before the try is not the try’s, whatever the wall clock did', () => {
  const h = fakeHost(Date.parse('2026-01-01T00:00:00Z'), 100_000);
  restore = useClocks(h.clocks);
  h.spawnAt(777); // e.g. a recycled pid now in the recorded group
  h.advance(AGE_SLACK_MS + 1_000);
  const tag = 'older';
  const tryStartWall = h.clocks.wallMs();
  noteTryStart(tag);
  h.step(-3_600_000);
  h.advance(1_000);
  assert.equal(startedSince(777, tryStartBootMs(tag, tryStartWall)), false);
  assert.equal(startedSince(999, tryStartBootMs(tag, tryStartWall)), false, 'a process that is gone');
});

test('a try started by another process: its wall-clock start converted with the boot time of now', () => {
  const h = fakeHost(Date.parse('2026-01-01T00:00:00Z'), 100_000);
  restore = useClocks(h.clocks);
  const startedWall = h.clocks.wallMs();
  h.advance(30_000);
  assert.equal(tryStartBootMs('not-noted-here', startedWall), 100_000);
  assert.ok(tryStartBootMs('not-noted-here', 0) < 0, 'an unknown start (0) rules out no process');
});

test('real processes: a simulated wall-clock step during the try; the executor and its escapee are ended', async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only (/proc)');
  let stepMs = 0;
  restore = useClocks({ ...procClocks, wallMs: () => Date.now() + stepMs });
  const tag = `age-${process.pid}-${Date.now()}`;
  const tryStartWall = Date.now();
  noteTryStart(tag);
  const env = { ...process.env, [TAG_VAR]: tag };
  // The executor, and a grandchild that escapes its group (setsid-like: detached).
  const script = `require('child_process').spawn('sleep', ['60'], { detached: true, stdio: 'ignore' }).unref(); setTimeout(() => {}, 60000);`;
  const child = spawn(process.execPath, ['-e', script], { env, detached: true, stdio: 'ignore' });
  t.after(() => {
    for (const pid of taggedProcesses(tag, 0)) process.kill(pid, 'SIGKILL');
  });
  const deadline = Date.now() + 10_000;
  while (taggedProcesses(tag, tryStartWall).length < 2 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  for (const step of [-3_600_000, 3_600_000]) {
    stepMs = step;
    assert.equal(taggedProcesses(tag, tryStartWall).length, 2, `wall clock stepped by ${step / 1000} s`);
  }
  const pids = taggedProcesses(tag, tryStartWall);
  stepMs = -3_600_000;
  const reaped = await endTry({ pgid: child.pid!, tag, cgroup: null, startedMs: tryStartWall }, 1_000);
  assert.equal(reaped, 1, 'the escapee was reaped beyond the group');
  for (const pid of pids) assert.equal(isProcessAlive(pid), false, `${pid} ended`);
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
});
