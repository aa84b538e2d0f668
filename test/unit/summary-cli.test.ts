/**
 * `drain summary <id> --workspace DIR` on session files of the original controller, with no
 * Temporal server (TEMPORAL_ADDRESS points where nothing listens, so the CLI falls back to
 * the workspace). The three runs go in parallel: each waits out the connect timeout (~5 s).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'original-sessions');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function summary(sessionId: string, workspace: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'drain.js'), 'summary', sessionId, '--workspace', workspace],
      { cwd: workspace, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

const CASES = [
  {
    name: 'an original v1 file',
    id: 'batch-drain-20251227-221540',
    fixture: 'original-v1.json',
    stdout: [
      'Total Processed: 5',
      '  [TIMEOUT] Timeouts: 0',
      '  research-system-v2: 0/2 succeeded, 1 timeouts, 0 events',
    ],
    stderr: [/v1 format/, /fingerprint_counts → \{\}/],
  },
  {
    name: 'an original v2 file',
    id: 'batch-drain-20251228-060007',
    fixture: 'original-v2.json',
    stdout: [
      '  Overall Yield: 2.45 events/minute',
      '  research-system-v4 [STOPPED]: 0/4 succeeded, 2 timeouts, 0 events',
    ],
    stderr: [/v2 format/],
  },
];

describe('drain summary without Temporal', () => {
  let workspace: string;
  const runs = new Map<string, Promise<Run>>();

  before(() => {
    workspace = mkdtempSync(path.join(tmpdir(), 'drain-summary-'));
    const dir = path.join(workspace, '.autonomous_runs', 'batch_drain_sessions');
    mkdirSync(dir, { recursive: true });
    for (const c of CASES) copyFileSync(path.join(FIXTURES, c.fixture), path.join(dir, `${c.id}.json`));
    writeFileSync(path.join(dir, 'batch-drain-broken.json'), '[1, 2]');
    for (const id of [...CASES.map((c) => c.id), 'batch-drain-broken']) runs.set(id, summary(id, workspace));
  });
  after(() => rmSync(workspace, { recursive: true, force: true }));

  for (const c of CASES) {
    it(`summarises ${c.name}`, async () => {
      const r = await runs.get(c.id)!;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^={80}\nBATCH DRAIN SUMMARY\n={80}\n/);
      assert.match(r.stdout, new RegExp(`^Session ID: ${c.id}$`, 'm'));
      for (const line of c.stdout) assert.ok(r.stdout.split('\n').includes(line), `${line}\nin\n${r.stdout}`);
      assert.doesNotMatch(r.stdout, /undefined|NaN/);
      for (const re of c.stderr) assert.match(r.stderr, re);
    });
  }

  it('names the file and the problem when it is not a session file', async () => {
    const r = await runs.get('batch-drain-broken')!;
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /batch-drain-broken\.json: a session file holds one JSON object, but this one holds an array/,
    );
    assert.equal(r.stdout, '');
  });
});
