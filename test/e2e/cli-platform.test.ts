/**
 * The real `drain` CLI with the platform simulated (DRAIN_SIMULATE_PLATFORM, test-only) and every
 * module it loads recorded (test/helpers/module-log.mjs, through NODE_OPTIONS=--import):
 * - on Windows `drain worker`, `dev` and `demo` stop at once with exit code 2 and the WSL2 way,
 *   before any command module is imported, so without loading the Temporal worker;
 * - their --help still shows (with the Windows note), and does load the worker: the control that
 *   shows the recording sees @temporalio/worker when it is loaded;
 * - client commands, their help and an action that runs, load none of the worker: not
 *   @temporalio/worker or its core bridge, src/worker.ts, activities/, nor the executor-control
 *   modules. (src/runtime/process-group.ts is loaded, for the pid liveness checks of the embedded
 *   services that src/cli/env.ts consults to find this project's dev server and Postgres; its
 *   process-group functions are used by the worker only.)
 * No Temporal server or database: nothing here gets that far.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, type CliRun } from '../helpers/cli.js';
import { projectRoot } from '../../src/runtime/paths.js';

const HOOK = path.join(projectRoot(), 'test', 'helpers', 'module-log.mjs');

/** Modules of the worker side; none may be loaded by a client command. */
const WORKER_ONLY: Array<[what: string, re: RegExp]> = [
  ['@temporalio/worker', /\/node_modules\/@temporalio\/worker\//],
  ['@temporalio/core-bridge', /\/node_modules\/@temporalio\/core-bridge\//],
  ['src/worker.ts', /\/src\/worker\.ts$/],
  ['activities/', /^file:\/\/.*\/activities\/[^/]+\.ts$/],
  ['src/runtime/containment.ts', /\/src\/runtime\/containment\.ts$/],
  ['src/runtime/orphans.ts', /\/src\/runtime\/orphans\.ts$/],
  ['src/runtime/api-servers.ts', /\/src\/runtime\/api-servers\.ts$/],
  ['src/runtime/metrics.ts', /\/src\/runtime\/metrics\.ts$/],
  ['src/runtime/workflow-bundle.ts', /\/src\/runtime\/workflow-bundle\.ts$/],
];

const workerModulesIn = (modules: string[]) =>
  WORKER_ONLY.filter(([, re]) => modules.some((m) => re.test(m.split('?')[0]))).map(([what]) => what);

let dir: string;
let runs = 0;

/** `drain <args>` as if on `platform`: its result, wall time and the URLs of the modules it loaded. */
async function drainOn(
  platform: string,
  args: string[],
): Promise<CliRun & { ms: number; modules: string[] }> {
  const log = path.join(dir, `modules-${++runs}.log`);
  const t0 = Date.now();
  const r = await runCli(args, {
    timeoutMs: 60_000,
    env: {
      DRAIN_SIMULATE_PLATFORM: platform,
      DRAIN_MODULE_LOG: log,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${HOOK}`.trim(),
      // Should anything get as far as connecting: nothing is there.
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      DATABASE_URL: 'postgres://drain:secret@127.0.0.1:1/none',
    },
  });
  const ms = Date.now() - t0;
  const modules = [...new Set((await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean))];
  return { ...r, ms, modules };
}

describe('drain on a simulated platform', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drain-platform-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const command of ['worker', 'dev', 'demo']) {
    test(`win32: drain ${command} stops at once, exit 2, with the WSL2 way, without loading the worker`, async () => {
      const r = await drainOn('win32', [command]);
      assert.equal(r.code, 2, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.startsWith(`drain: \`drain ${command}\` does not run on Windows`), r.stderr);
      assert.match(r.stderr, /WSL2/);
      assert.match(r.stderr, /not under \/mnt\/c/);
      assert.match(r.stderr, /process groups and signals, \/proc and cgroups/);
      // At once: the recording works (main.ts is in it), no command module was imported, and so
      // nothing of the worker; the wall time only guards against a hang.
      assert.ok(
        r.modules.some((m) => m.endsWith('/src/cli/main.ts')),
        'the module log records the CLI',
      );
      assert.deepEqual(
        r.modules.filter((m) => m.includes('/src/cli/commands/')),
        [],
      );
      assert.deepEqual(workerModulesIn(r.modules), []);
      assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
    });
  }

  test('win32: drain worker --help still shows, with the Windows note (and loads the worker)', async () => {
    const r = await drainOn('win32', ['worker', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: drain worker \[options\]/);
    assert.match(r.stdout, /--task-queue <name>/);
    assert.match(
      r.stdout,
      /\nOn Windows, run it inside WSL2: a worker needs Linux \(README\.md, "Running from Windows"\)\.\n$/,
    );
    // The control: when the worker is loaded, the recording sees it.
    const loaded = workerModulesIn(r.modules);
    for (const what of ['@temporalio/worker', '@temporalio/core-bridge', 'src/worker.ts', 'activities/'])
      assert.ok(loaded.includes(what), `${what} in ${loaded.join(', ')}`);
  });

  test('linux: drain worker --help has no warning and the same help', async () => {
    const [linux, win] = [
      await drainOn('linux', ['worker', '--help']),
      await drainOn('win32', ['worker', '--help']),
    ];
    assert.equal(linux.code, 0, linux.stderr);
    assert.equal(linux.stderr, '');
    assert.equal(linux.stdout, win.stdout);
  });

  const clientHelp = [
    'start',
    'forecast',
    'status',
    'summary',
    'verify',
    'report',
    'watch',
    'list',
    'pause',
    'resume',
    'stop',
    'cancel',
    'schedule',
    'schedule create',
    'db',
    'tidy',
    'stranded',
    'memory',
    'analyze',
  ];
  test('win32: every client command shows its help without loading anything of the worker', async () => {
    for (const line of clientHelp) {
      const r = await drainOn('win32', [...line.split(' '), '--help']);
      assert.equal(r.code, 0, `${line}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: drain ${line} `), line);
      assert.ok(
        r.modules.some((m) => m.includes('/src/cli/commands/')),
        `${line}: the module log records its command module`,
      );
      assert.deepEqual(workerModulesIn(r.modules), [], line);
    }
  });

  test('win32: a client command that runs (drain list, Temporal unreachable) loads nothing of the worker', async () => {
    const r = await drainOn('win32', ['list']);
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^drain: cannot reach Temporal at 127\.0\.0\.1:1/);
    assert.ok(r.modules.some((m) => m.includes('/node_modules/@temporalio/client/')));
    assert.deepEqual(workerModulesIn(r.modules), []);
  });
});
