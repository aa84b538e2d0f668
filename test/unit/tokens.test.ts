import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptTokens, formatTokens, spendOf } from '../../src/domain/tokens.js';

test('spendOf: the difference, a reset counts from zero, unknown stays unknown', () => {
  const cases: Array<[string, number | null | undefined, number | null | undefined, number | null]> = [
    ['grew', 100, 1_350, 1_250],
    ['unchanged', 500, 500, 0],
    ['from zero', 0, 42, 42],
    ['reset (went down): the end value is the spend', 9_000, 300, 300],
    ['reset to zero', 9_000, 0, 0],
    ['no column at start', null, 10, null],
    ['no column at end', 10, null, null],
    ['no column at all', null, null, null],
    ['absent reading', undefined, 10, null],
    ['garbage', Number.NaN, 10, null],
    ['negative reading', -5, 10, null],
  ];
  for (const [name, before, after, want] of cases) assert.equal(spendOf(before, after), want, name);
});

test('attemptTokens keeps both readings of phase and run, and their spends', () => {
  assert.deepEqual(attemptTokens({ phase: 10, run: 100 }, { phase: 25, run: 40 }), {
    phaseBefore: 10,
    phaseAfter: 25,
    runBefore: 100,
    runAfter: 40,
    phase: 15,
    run: 40,
  });
  assert.deepEqual(attemptTokens(null, { phase: 5, run: 5 }), {
    phaseBefore: null,
    phaseAfter: 5,
    runBefore: null,
    runAfter: 5,
    phase: null,
    run: null,
  });
});

test('formatTokens groups thousands and says n/a for unknown, never 0', () => {
  const cases: Array<[number | null | undefined, string]> = [
    [0, '0'],
    [999, '999'],
    [1000, '1,000'],
    [12345, '12,345'],
    [1234567, '1,234,567'],
    [null, 'n/a'],
    [undefined, 'n/a'],
  ];
  for (const [n, want] of cases) assert.equal(formatTokens(n), want, String(n));
});
