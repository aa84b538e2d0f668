/**
 * The workflow bundle is built once per content of its sources: the hash follows every source
 * file (and only those), and a second worker start takes the kept bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleSourceHash, bundleStats, cachedWorkflowBundle } from '../../src/runtime/workflow-bundle.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';

test('the bundle hash changes with any source file and only with those', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'drain-bundle-'));
  try {
    const put = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    };
    put('workflows/index.ts', 'export {};');
    put('src/domain/a.ts', 'export const a = 1;');
    put('activities/x.ts', 'export const x = 1;');
    put('package-lock.json', '{}');
    const entry = path.join(root, 'workflows', 'index.ts');
    const hash = () => bundleSourceHash(root, entry);
    const first = await hash();
    assert.equal(await hash(), first, 'stable while nothing changes');
    const changes: Array<[string, string]> = [
      ['src/domain/a.ts', 'export const a = 2;'],
      ['src/domain/new.ts', 'export const n = 1;'],
      ['workflows/index.ts', 'export const w = 1;'],
      ['activities/x.ts', 'export const x = 2;'],
      ['package-lock.json', '{"lockfileVersion":3}'],
      ['tsconfig.json', '{}'],
    ];
    const seen = new Set([first]);
    for (const [file, text] of changes) {
      put(file, text);
      const h = await hash();
      assert.ok(!seen.has(h), `a change of ${file} gives a new hash`);
      seen.add(h);
    }
    const before = await hash();
    put('test/unit/other.test.ts', 'x');
    put('README.md', 'x');
    assert.equal(await hash(), before, 'files outside the sources do not count');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a second bundle of the same sources is the kept one', async () => {
  const a = await cachedWorkflowBundle(WORKFLOWS_PATH, undefined);
  const built = bundleStats.built;
  const b = await cachedWorkflowBundle(WORKFLOWS_PATH, undefined);
  assert.equal(bundleStats.built, built, 'not built again');
  assert.ok(bundleStats.cached >= 1);
  assert.ok('code' in a && 'code' in b && a.code === b.code && a.code.length > 10_000);
});
