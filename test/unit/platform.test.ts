/**
 * Where the worker commands run (src/cli/platform.ts), with the platform simulated: Windows is
 * refused with the way to run them in WSL2, Linux runs silently, other POSIX systems (darwin)
 * run with a warning of what their process containment lacks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostPlatform, WORKER_COMMANDS, workerRefusal, workerWarning } from '../../src/cli/platform.js';

test('the worker commands are worker, dev and demo', () => {
  assert.deepEqual([...WORKER_COMMANDS].sort(), ['demo', 'dev', 'worker']);
});

const cases: Array<{ platform: string; refused: boolean; warned: boolean }> = [
  { platform: 'win32', refused: true, warned: false },
  { platform: 'linux', refused: false, warned: false },
  { platform: 'darwin', refused: false, warned: true },
  { platform: 'freebsd', refused: false, warned: true },
];

for (const { platform, refused, warned } of cases) {
  for (const command of WORKER_COMMANDS) {
    test(`${platform}: drain ${command} is ${refused ? 'refused' : warned ? 'allowed with a warning' : 'allowed'}`, () => {
      const refusal = workerRefusal(platform, command);
      const warning = workerWarning(platform, command);
      assert.equal(refusal !== null, refused, `refusal: ${refusal}`);
      assert.equal(warning !== null, warned, `warning: ${warning}`);
    });
  }
}

test('win32: the refusal says why and how to run it in WSL2', () => {
  for (const command of WORKER_COMMANDS) {
    const text = workerRefusal('win32', command)!;
    assert.ok(text.startsWith(`\`drain ${command}\` does not run on Windows`), text);
    // why: what the worker needs that Windows lacks
    for (const why of ['process groups', 'signals', '/proc', 'cgroups']) assert.ok(text.includes(why), why);
    // how: WSL2, the project on WSL's own file system and not /mnt/c (SQLite locking), npm ci, the command
    for (const how of [
      'WSL2',
      'wsl --install',
      '~/autopack',
      'not under /mnt/c',
      "SQLite's file locking is unsafe",
      'npm ci',
      `then drain ${command}.`,
    ])
      assert.ok(text.includes(how), how);
    // client commands may stay on Windows, pointed at the WSL worker's Temporal
    assert.match(text, /Client commands \(drain start, status, watch, list,[^)]*\) may stay on Windows/);
    assert.ok(text.includes('TEMPORAL_ADDRESS'));
  }
});

test('darwin: the warning names what is missing off Linux; embedded services only for dev and demo', () => {
  const worker = workerWarning('darwin', 'worker')!;
  assert.ok(
    worker.startsWith('on macOS (darwin), `drain worker` contains executors by their process group only'),
  );
  for (const gap of [
    'setsid, double forks',
    'not reaped',
    'still that try',
    'Linux (or WSL2, or a Linux container)',
  ])
    assert.ok(worker.includes(gap), gap);
  assert.ok(!worker.includes('embedded services'), worker);
  for (const command of ['dev', 'demo']) {
    const text = workerWarning('darwin', command)!;
    assert.ok(text.includes(`\`drain ${command}\``), text);
    assert.ok(text.includes('embedded services'), text);
  }
  assert.ok(workerWarning('freebsd')!.startsWith('on freebsd, `drain worker`'));
});

test('hostPlatform: process.platform unless DRAIN_SIMULATE_PLATFORM (test-only) says otherwise', () => {
  assert.equal(hostPlatform({}), process.platform);
  assert.equal(hostPlatform({ DRAIN_SIMULATE_PLATFORM: '' }), process.platform);
  assert.equal(hostPlatform({ DRAIN_SIMULATE_PLATFORM: 'win32' }), 'win32');
  assert.equal(hostPlatform({ DRAIN_SIMULATE_PLATFORM: 'darwin' }), 'darwin');
});
