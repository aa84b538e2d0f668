import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindNamed } from '../../src/db/named-sql.js';

const cases: Array<[string, string, Record<string, unknown>, string, unknown[]]> = [
  [
    'numbers by first use',
    'a = :x AND b = :y OR c = :x',
    { x: 1, y: 2 },
    'a = $1 AND b = $2 OR c = $1',
    [1, 2],
  ],
  ['leaves casts alone', ':runId::text IS NULL', { runId: null }, '$1::text IS NULL', [null]],
  [
    'cast of an array',
    'unnest(:a::text[], :b::int[])',
    { a: ['x'], b: [1] },
    'unnest($1::text[], $2::int[])',
    [['x'], [1]],
  ],
  ['sends only used names', 'x = :used', { used: 'u', unused: 'v' }, 'x = $1', ['u']],
  ['no names', 'SELECT 1', {}, 'SELECT 1', []],
  ['not inside a word', 'a:b = :c', { c: 3 }, 'a:b = $1', [3]],
];

for (const [name, text, params, wantText, wantValues] of cases) {
  test(`bindNamed: ${name}`, () => {
    assert.deepEqual(bindNamed(text, params), { text: wantText, values: wantValues });
  });
}

test('bindNamed: a missing value is an error naming the parameter', () => {
  assert.throws(() => bindNamed('x = :missing', {}), /:missing has no value/);
  assert.throws(() => bindNamed('x = :u', { u: undefined }), /:u has no value/);
});
