import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  exportLine,
  moduleFacts,
  resolveSpecifier,
  scriptEntryPoints,
  unusedExports,
  unusedExportsUnder,
} from '../../scripts/unused-exports.js';

/** Each case: files (product under src/, users under test/) and the unused exports expected. */
const cases: { name: string; files: Record<string, string>; entries?: string[]; want: string[] }[] = [
  {
    name: 'used by a named import (types too), the rest unused',
    files: {
      'src/a.ts': 'export const a = 1;\nexport function b() {}\nexport interface C {}\nexport type D = 1;\n',
      'src/user.ts': "import { a, type C } from './a.js';\nexport const u = a;\n",
      'test/u.test.ts': "import { u } from '../src/user.js';\n",
    },
    want: ['src/a.ts:2 b', 'src/a.ts:4 D'],
  },
  {
    name: 'used by a re-export, renamed; the re-export is an export of its own',
    files: {
      'src/a.ts': 'export const a = 1;\nexport const b = 2;\n',
      'src/index.ts': "export { a as x, b } from './a.js';\n",
      'test/i.test.ts': "import { x } from '../src/index.js';\n",
    },
    want: ['src/index.ts:1 b'],
  },
  {
    name: 'export * and export * as ns use every export',
    files: {
      'src/a.ts': 'export const a = 1;\nexport class K {}\n',
      'src/b.ts': 'export const b = 1;\n',
      'src/index.ts': "export * from './a.js';\nexport * as bs from './b.js';\n",
      'test/i.test.ts': "import { a, bs } from '../src/index.js';\n",
    },
    want: [],
  },
  {
    name: 'a namespace import, a dynamic import, a type import() use every export',
    files: {
      'src/a.ts': 'export const a = 1;\nexport const a2 = 2;\n',
      'src/b.ts': 'export const b = 1;\n',
      'src/c.ts': 'export interface T {}\n',
      'src/user.ts': [
        "import * as ns from './a.js';",
        "const m = await import('./b.js');",
        "type X = import('./c.js').T;",
        'export default ns;',
        '',
      ].join('\n'),
      'test/u.test.ts': "import user from '../src/user.js';\n",
    },
    want: [],
  },
  {
    name: 'unused: used only in its own file, default, destructured and listed exports',
    files: {
      'src/a.ts': [
        'export const own = 1;',
        'export const { p, q: [r] } = { p: 1, q: [2] };',
        'const s = own;',
        'export { s as t };',
        'export default function () {}',
        'export enum E { A }',
        '',
      ].join('\n'),
      'src/b.ts': "import { p } from './a.js';\n",
    },
    want: ['src/a.ts:1 own', 'src/a.ts:2 r', 'src/a.ts:4 t', 'src/a.ts:5 default', 'src/a.ts:6 E'],
  },
  {
    name: 'entry points keep every export; exports of test/ are never reported',
    files: {
      'workflows/index.ts': 'export async function wf() {}\n',
      'scripts/s.ts': 'export const s = 1;\n',
      'test/helpers/h.ts': 'export const h = 1;\n',
    },
    entries: ['workflows/index.ts', 'scripts/'],
    want: [],
  },
  {
    name: 'an .mjs module imported as .mjs, and a bare package import followed nowhere',
    files: {
      'src/w.mjs': 'export function write() {}\nexport const unused = 1;\n',
      'src/user.ts': "import { write } from './w.mjs';\nimport { z } from 'zod';\n",
    },
    want: ['src/w.mjs:2 unused'],
  },
];

for (const c of cases) {
  test(`unusedExports: ${c.name}`, () => {
    const files = new Map(Object.entries(c.files));
    const product = new Set([...files.keys()].filter((f) => !f.startsWith('test/')));
    const got = unusedExports(files, product, c.entries ?? []).map(exportLine);
    assert.deepEqual(got, c.want);
  });
}

test('resolveSpecifier: ./x.js is x.ts, directories are their index, packages are not followed', () => {
  const files = new Set(['src/a.ts', 'src/d/index.ts', 'src/m.mjs', 'bin/b.js']);
  assert.equal(resolveSpecifier('src/x/y.ts', '../a.js', files), 'src/a.ts');
  assert.equal(resolveSpecifier('src/y.ts', './d', files), 'src/d/index.ts');
  assert.equal(resolveSpecifier('src/y.ts', './m.mjs', files), 'src/m.mjs');
  assert.equal(resolveSpecifier('bin/c.js', '../src/a.ts', files), 'src/a.ts');
  assert.equal(resolveSpecifier('bin/c.js', './b.js', files), 'bin/b.js');
  assert.equal(resolveSpecifier('src/y.ts', 'zod', files), null);
  assert.equal(resolveSpecifier('src/y.ts', './gone.js', files), null);
});

test('moduleFacts: lines are those of the names; require() takes a whole module', () => {
  const f = moduleFacts('a.js', "const x = require('./x.js');\n\nexport function f() {}\n");
  assert.deepEqual(f.exports, [{ file: 'a.js', line: 3, name: 'f' }]);
  assert.deepEqual(f.uses, [{ specifier: './x.js', names: '*' }]);
});

test("scriptEntryPoints: the files package.json's scripts run", () => {
  const pkg = JSON.stringify({
    scripts: { a: 'tsx bench/x.ts --y', b: 'node scripts/s.mjs', c: 'eslint .' },
  });
  assert.deepEqual(scriptEntryPoints(pkg), ['bench/x.ts', 'scripts/s.mjs']);
});

test('unusedExportsUnder: reads product code and test/ from disk', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'unused-exports-'));
  try {
    const put = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    };
    put('package.json', JSON.stringify({ scripts: { b: 'tsx bench/run.ts' } }));
    put('src/domain/a.ts', 'export const used = 1;\nexport const dead = 2;\nexport const tested = 3;\n');
    put('bench/run.ts', "import { used } from '../src/domain/a.js';\nexport const main = used;\n");
    put('test/unit/a.test.ts', "import { tested } from '../../src/domain/a.js';\n");
    put('workflows/index.ts', 'export async function wf() {}\n');
    put('src/runtime/try-supervisor.mjs', 'export const s = 1;\n');
    assert.deepEqual(unusedExportsUnder(root).map(exportLine), ['src/domain/a.ts:2 dead']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
