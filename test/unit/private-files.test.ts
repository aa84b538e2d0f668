/**
 * Raw attempt logs, session JSONs and managed API-server logs are created 0600 inside 0700
 * directories (0640 / 0750 with DRAIN_LOG_GROUP_READ=1), whatever the umask, through the real
 * writers: claimAttemptLogs, writeJsonAtomically and ApiServerPool.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claimAttemptLogs, sessionJsonPath, sessionLogsDir, sessionsDir } from '../../activities/paths.js';
import { writeJsonAtomically } from '../../activities/session-json.js';
import { ApiServerPool } from '../../src/runtime/api-servers.js';
import { ensurePrivateDir, GROUP_READ_VAR, privateModes } from '../../src/runtime/private-files.js';

const SERVER = `${JSON.stringify(process.execPath)} -e "require('http').createServer((q, r) => r.end('ok')).listen(Number(process.argv[1]), '127.0.0.1')" {port}`;

const modeOf = (p: string) => statSync(p).mode & 0o7777;
const octal = (m: number) => m.toString(8).padStart(4, '0');
function assertMode(p: string, want: number): void {
  assert.equal(octal(modeOf(p)), octal(want), `${p} is ${octal(want)}`);
}

let dir: string;
let umask: number;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drain-modes-'));
  umask = process.umask(0o022);
  delete process.env[GROUP_READ_VAR];
});
afterEach(() => {
  process.umask(umask);
  delete process.env[GROUP_READ_VAR];
  rmSync(dir, { recursive: true, force: true });
});

const ref = (workspace: string) => ({
  workspace,
  sessionId: 'sess-1',
  runId: 'run-1',
  phaseId: 'p1',
  attempt: 1,
  tryNo: 1,
  execRunId: 'exec-1',
});

/** Every file and directory the three writers create, for one workspace. */
async function writeAll(workspace: string): Promise<{ files: string[]; dirs: string[] }> {
  const logs = await claimAttemptLogs(ref(workspace), 'HEADER\n');
  const json = sessionJsonPath(workspace, 'sess-1');
  await writeJsonAtomically(json, { ok: true });
  const apiLogDir = path.join(workspace, '.autonomous_runs');
  const pool = new ApiServerPool({ command: SERVER, cwd: workspace, logDir: apiLogDir });
  try {
    await pool.serverFor(0);
  } finally {
    await pool.stop();
  }
  return {
    files: [logs.stdout, logs.stderr, json, path.join(apiLogDir, 'api_server.slot0.log')],
    dirs: [
      apiLogDir,
      sessionsDir(workspace),
      path.dirname(sessionLogsDir(workspace, 'sess-1')),
      sessionLogsDir(workspace, 'sess-1'),
    ],
  };
}

test('default: 0600 files in 0700 directories', async () => {
  const { files, dirs } = await writeAll(path.join(dir, 'ws'));
  for (const f of files) assertMode(f, 0o600);
  for (const d of dirs) assertMode(d, 0o700);
});

test(`${GROUP_READ_VAR}=1: 0640 files in 0750 directories, also under umask 077`, async () => {
  process.env[GROUP_READ_VAR] = '1';
  process.umask(0o077);
  assert.deepEqual(privateModes(), { file: 0o640, dir: 0o750 });
  const { files, dirs } = await writeAll(path.join(dir, 'ws'));
  for (const f of files) assertMode(f, 0o640);
  for (const d of dirs) assertMode(d, 0o750);
});

test('an existing sessions directory of ours is tightened; an existing .autonomous_runs is left alone', async () => {
  const ws = path.join(dir, 'ws');
  mkdirSync(sessionsDir(ws), { recursive: true }); // as the session start makes it: 0755
  chmodSync(path.join(ws, '.autonomous_runs'), 0o755);
  chmodSync(sessionsDir(ws), 0o2775); // setgid kept, the rest tightened
  // an API server log an earlier version left world-readable
  writeFileSync(path.join(ws, '.autonomous_runs', 'api_server.slot0.log'), 'old\n', { mode: 0o644 });
  const { files } = await writeAll(ws);
  for (const f of files) assertMode(f, 0o600);
  assertMode(sessionsDir(ws), 0o2700);
  assertMode(path.join(ws, '.autonomous_runs'), 0o755);
});

test('ensurePrivateDir never opens an existing directory up', () => {
  const d = path.join(dir, 'tight');
  mkdirSync(d, { mode: 0o700 });
  process.env[GROUP_READ_VAR] = '1';
  ensurePrivateDir(d);
  assertMode(d, 0o700);
  ensurePrivateDir(path.join(d, 'a', 'b'));
  assertMode(path.join(d, 'a'), 0o750);
  assertMode(path.join(d, 'a', 'b'), 0o750);
});
