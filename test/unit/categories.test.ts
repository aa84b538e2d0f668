import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATEGORY_RULES, categorizeFailure, categoryRank } from '../../src/domain/categories.js';
import { FAILURE_CATEGORIES, type FailureCategory } from '../../src/domain/types.js';

const cases: Array<[reason: string | null | undefined, expected: FailureCategory]> = [
  [null, 'unknown'],
  [undefined, 'unknown'],
  ['', 'unknown'],
  ['   \n\t', 'unknown'],
  ['timeout', 'timeout'],
  ['Phase timed out after 900s', 'timeout'],
  ['TimeoutError: read', 'timeout'],
  ['request timed-out', 'timeout'],
  ['time out waiting for lock', 'timeout'],
  ['time-out', 'timeout'],
  ['import timed out', 'timeout'], // timeout is checked first
  ['CI collection/import error', 'collection'],
  ['ci collection error', 'collection'],
  ['ImportError: cannot import name x', 'collection'],
  ['ModuleNotFoundError: No module named foo', 'collection'],
  ['pytest collection failed', 'collection'],
  ['missing module import', 'collection'], // collection before deliverable
  ['Deliverables missing: src/a.py', 'deliverable'],
  ['deliverable validation failed', 'deliverable'],
  ['missing file', 'deliverable'],
  ['patch failed to apply', 'patch'],
  ['PATCH rejected', 'patch'],
  ['no-op detected', 'patch'],
  ['NOOP guard', 'patch'],
  ['no_op', 'patch'],
  ['manifest violation', 'patch'],
  ['cannot open file', 'other'], // "no op" with a space is not a no-op
  ['AssertionError: 1 != 2', 'other'],
  ['builder failed', 'other'],
  ['Ошибка 🚀', 'other'],
  ['x'.repeat(1 << 20), 'other'],
];

for (const [reason, expected] of cases) {
  const label = reason === undefined ? 'undefined' : JSON.stringify(reason)?.slice(0, 60);
  test(`categorizeFailure(${label}) = ${expected}`, () => {
    assert.equal(categorizeFailure(reason), expected);
  });
}

test('CATEGORY_RULES are in check order and cover every middle category once', () => {
  assert.deepEqual(
    CATEGORY_RULES.map((r) => r.category),
    ['timeout', 'collection', 'deliverable', 'patch'],
  );
});

// The patterns run as `reason ~* pattern` in Postgres too: only constructs JS and ARE
// read identically. Allowed: lower-case letters, digits, space, _ - | ( ) [ ] ? * +.
const forbidden: Array<[what: string, re: RegExp]> = [
  ['any backslash (\\b is backspace in ARE, \\d \\s \\w shorthands)', /\\/],
  ['lookaround or special groups (?', /\(\?/],
  ['bounds {m,n}', /[{}]/],
  ['anchors', /[\^$]/],
  ['dot wildcard', /\./],
  ['upper case (the match is case-insensitive anyway)', /[A-Z]/],
  ['POSIX classes [[:', /\[\[/],
];

for (const rule of CATEGORY_RULES) {
  test(`CATEGORY_RULES ${rule.category}: pattern is portable to Postgres ARE`, () => {
    assert.match(rule.pattern, /^[a-z0-9 _|()[\]?*+-]+$/);
    for (const [what, re] of forbidden) assert.doesNotMatch(rule.pattern, re, what);
    assert.doesNotThrow(() => new RegExp(rule.pattern, 'i'));
    let depth = 0;
    for (const ch of rule.pattern) {
      depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
      assert.ok(depth >= 0, 'parentheses balanced');
    }
    assert.equal(depth, 0, 'parentheses balanced');
    assert.ok(!/(^|\|)(\||$)/.test(rule.pattern), 'no empty alternative (it would match everything)');
  });
}

test('categorizeFailure agrees with the raw CATEGORY_RULES loop', () => {
  for (const [reason] of cases) {
    if (typeof reason !== 'string' || reason.trim() === '') continue;
    const hit = CATEGORY_RULES.find((r) => new RegExp(r.pattern, 'i').test(reason));
    assert.equal(categorizeFailure(reason), hit?.category ?? 'other');
  }
});

for (const [i, c] of FAILURE_CATEGORIES.entries()) {
  test(`categoryRank(${c}) = ${i}`, () => {
    assert.equal(categoryRank(c), i);
  });
}

test('categoryRank orders unknown first and timeout last', () => {
  assert.equal(categoryRank('unknown'), 0);
  assert.equal(categoryRank('timeout'), FAILURE_CATEGORIES.length - 1);
  assert.ok(categoryRank('collection') < categoryRank('deliverable'));
  assert.ok(categoryRank('patch') < categoryRank('other'));
});
