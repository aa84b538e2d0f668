import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attemptLogBase,
  fnv1a32Hex,
  safeFileComponent,
  sessionIdProblem,
  SAFE_COMPONENT_MAX,
} from '../../src/domain/files.js';

/** Inverse of the %XX encoding (for checking that names decode back to the id). */
function decode(name: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

const hashes: Array<[input: string, expected: string]> = [
  ['', '811c9dc5'],
  ['a', 'e40c292c'],
  ['foobar', 'bf9cf968'],
];
for (const [input, expected] of hashes) {
  test(`fnv1a32Hex(${JSON.stringify(input)}) = ${expected}`, () => {
    assert.equal(fnv1a32Hex(input), expected);
  });
}

const safe: Array<[input: string, expected: string]> = [
  ['build130-schema-validation', 'build130-schema-validation'],
  ['research_system.v4', 'research_system.v4'],
  ['', '%empty'],
  ['.', '%2E'],
  ['..', '%2E%2E'],
  ['.hidden', '%2Ehidden'],
  ['trailing.', 'trailing%2E'],
  ['a b', 'a%20b'],
  ['a/b\\c', 'a%2Fb%5Cc'],
  ['100%', '100%25'],
  ['%41', '%2541'],
  ['é', '%C3%A9'],
  ['🚀', '%F0%9F%9A%80'],
  ['a:b*c?d"e<f>g|h', 'a%3Ab%2Ac%3Fd%22e%3Cf%3Eg%7Ch'],
  ['line\nbreak\0nul', 'line%0Abreak%00nul'],
  ['a__b', 'a%5F%5Fb'],
  ['_a_', '%5Fa%5F'],
  ['a_b', 'a_b'],
  ['CON', '%43ON'],
  ['nul.txt', '%6Eul.txt'],
  ['com1', '%63om1'],
  ['console', 'console'],
  ['~tilde', '%7Etilde'],
];
for (const [input, expected] of safe) {
  test(`safeFileComponent(${JSON.stringify(input)}) = ${expected}`, () => {
    const out = safeFileComponent(input);
    assert.equal(out, expected);
    assert.match(out, /^[A-Za-z0-9._%-]+$/);
    if (input !== '') assert.equal(decode(out), input);
  });
}

const oddIds: string[] = [
  '',
  '.',
  '..',
  '...',
  'a/../../etc/passwd',
  '../x',
  'phase with spaces',
  'it\'s "quoted"',
  '$(touch x); rm -rf /',
  'Ошибка-ファイル-🚀',
  '\u0000\u0001\u007f',
  '%2E',
  '%',
  '_',
  '__',
  'a__',
  '__a',
  'x'.repeat(SAFE_COMPONENT_MAX),
  'x'.repeat(SAFE_COMPONENT_MAX + 1),
  'é'.repeat(200),
  '/'.repeat(1000),
];

test('safeFileComponent: odd ids give safe, distinct, bounded names', () => {
  const seen = new Map<string, string>();
  for (const id of oddIds) {
    const out = safeFileComponent(id);
    assert.ok(out !== '' && out !== '.' && out !== '..', JSON.stringify(id));
    assert.ok(!out.startsWith('.'), out);
    assert.ok(!out.includes('/') && !out.includes('\\') && !out.includes('\0'), out);
    assert.match(out, /^[A-Za-z0-9._%~-]+$/);
    assert.ok(out.length <= SAFE_COMPONENT_MAX + 9, `${out.length}`);
    assert.ok(!out.includes('__'), out);
    const prev = seen.get(out);
    assert.equal(prev, undefined, `${JSON.stringify(id)} collides with ${JSON.stringify(prev)}`);
    seen.set(out, id);
  }
});

test('safeFileComponent: long names are cut and hashed', () => {
  const exact = 'x'.repeat(SAFE_COMPONENT_MAX);
  assert.equal(safeFileComponent(exact), exact);
  const long = 'x'.repeat(SAFE_COMPONENT_MAX + 1);
  assert.equal(safeFileComponent(long), 'x'.repeat(SAFE_COMPONENT_MAX) + '~' + fnv1a32Hex(long));
  // Never cut inside a %XX escape.
  for (let pad = 0; pad < 3; pad++) {
    const out = safeFileComponent('y'.repeat(97 + pad) + 'ééé');
    const [head, hash] = out.split('~');
    assert.match(head, /^y+(%[0-9A-F]{2})*$/, out);
    assert.match(hash, /^[0-9a-f]{8}$/);
  }
  // Same prefix, different tails → different names.
  assert.notEqual(safeFileComponent('z'.repeat(150) + 'a'), safeFileComponent('z'.repeat(150) + 'b'));
});

test('safeFileComponent: 1 MB id is fast and bounded', () => {
  const t0 = performance.now();
  const out = safeFileComponent('🚀'.repeat(1 << 18));
  assert.ok(out.length <= SAFE_COMPONENT_MAX + 9);
  assert.ok(performance.now() - t0 < 3000);
});

const bases: Array<[run: string, phase: string, attempt: number, tryNo: number, expected: string]> = [
  ['run-1', 'phase-a', 1, 1, 'run-1__phase-a__a1'],
  ['run-1', 'phase-a', 2, 1, 'run-1__phase-a__a2'],
  ['run-1', 'phase-a', 2, 2, 'run-1__phase-a__a2.t2'],
  ['run-1', 'phase-a', 3, 0, 'run-1__phase-a__a3'],
  ['r/1', 'p 1', 1, 3, 'r%2F1__p%201__a1.t3'],
  ['', '', 1, 1, '%empty__%empty__a1'],
  ['..', '.', 1, 1, '%2E%2E__%2E__a1'],
];
for (const [run, phase, attempt, tryNo, expected] of bases) {
  test(`attemptLogBase(${JSON.stringify(run)}, ${JSON.stringify(phase)}, ${attempt}, ${tryNo})`, () => {
    assert.equal(attemptLogBase(run, phase, attempt, tryNo), expected);
  });
}

test('attemptLogBase: the __ separator cannot be forged by ids', () => {
  const pairs: Array<[string, string]> = [
    ['a__b', 'c'],
    ['a', 'b__c'],
    ['a_', '_b'],
    ['a', '__b'],
    ['a__', 'b'],
    ['a_', 'b'],
    ['a', '_b'],
  ];
  const names = pairs.map(([r, p]) => attemptLogBase(r, p, 1, 1));
  assert.equal(new Set(names).size, names.length, names.join(' '));
});

// Session ids (= workflow ids): refused, or made one safe file name.
const refusedIds: Array<[string, unknown]> = [
  ['empty', ''],
  ['not a string', 42],
  ['too long', 'x'.repeat(201)],
  ['newline', 'a\nb'],
  ['NUL', 'a\u0000b'],
  ['lone surrogate', 'a\ud800b'],
  ['leading space', ' a'],
];
for (const [name, id] of refusedIds) {
  test(`sessionIdProblem refuses: ${name}`, () => {
    assert.match(String(sessionIdProblem(id)), /session id/);
  });
}

const hostileIds = [
  '../../../../tmp/x',
  '..',
  '.',
  '/etc/passwd',
  'a/b',
  'a\\b',
  'batch-drain:2026-01-01T00:00:00Z',
  '%2e%2e',
  'x'.repeat(200),
  'CON',
  '~',
  'ü🔑',
];
for (const id of hostileIds) {
  test(`session id ${JSON.stringify(id.slice(0, 30))} is accepted and becomes one safe file name`, () => {
    assert.equal(sessionIdProblem(id), null);
    const name = safeFileComponent(id);
    assert.doesNotMatch(name, /[/\\]/);
    assert.notEqual(name, '.');
    assert.notEqual(name, '..');
    assert.ok(!name.startsWith('.'), name);
    assert.ok(name.length <= SAFE_COMPONENT_MAX + 9, name);
  });
}

test('hostile session ids give distinct file names', () => {
  const names = new Set(hostileIds.map(safeFileComponent));
  assert.equal(names.size, hostileIds.length);
});
