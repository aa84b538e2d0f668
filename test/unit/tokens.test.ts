import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptTokens, formatTokens, spendOf, spentNow } from '../../src/domain/tokens.js';

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

test('spentNow: the larger of the folded spend and the records with running tries', () => {
  const cases: Array<[string, number, number, Array<{ before: number; now: number | null }>, number]> = [
    ['nothing yet', 0, 0, [], 0],
    ['folded ahead of the records', 3000, 1000, [], 3000],
    ['a finished try not yet folded', 1000, 2500, [], 2500],
    ['a running try of another slot counts', 1000, 1000, [{ before: 200, now: 4200 }], 5000],
    [
      'two running tries',
      0,
      0,
      [
        { before: 0, now: 10 },
        { before: 5, now: 25 },
      ],
      30,
    ],
    ['a reset counter: the reading is the spend', 0, 100, [{ before: 900, now: 40 }], 140],
    ['an unknown reading adds nothing', 500, 500, [{ before: 10, now: null }], 500],
  ];
  for (const [name, folded, finished, running, want] of cases) {
    assert.equal(spentNow(folded, finished, running), want, name);
  }
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

import { parseDrainInput, InputError } from '../../src/domain/input.js';
import { sessionStopReason } from '../../src/domain/stop-conditions.js';
import { newSessionState } from '../../src/domain/session-state.js';
import { computeFingerprint } from '../../src/domain/fingerprint.js';
import { zeroYieldReason } from '../../src/domain/zero-yield.js';

test('maxTokens / maxTokensPerPhase: positive integers or null, off by default', () => {
  assert.equal(parseDrainInput({}).maxTokens, null);
  assert.equal(parseDrainInput({}).maxTokensPerPhase, null);
  assert.equal(parseDrainInput({ maxTokens: 5000, maxTokensPerPhase: 100 }).maxTokens, 5000);
  for (const bad of [0, -1, 1.5, '10']) {
    assert.throws(
      () => parseDrainInput({ maxTokens: bad }),
      (e: unknown) => e instanceof InputError && e.field === 'maxTokens',
    );
    assert.throws(
      () => parseDrainInput({ maxTokensPerPhase: bad }),
      (e: unknown) => e instanceof InputError && e.field === 'maxTokensPerPhase',
    );
  }
});

test('the session stops once its attempts have spent the token budget, and says so', () => {
  const config = parseDrainInput({ maxTokens: 10_000 });
  const s = newSessionState('s', 0, config);
  assert.equal(sessionStopReason({ ...s, tokensSpent: 9_999 }, config, 0, false), null);
  assert.equal(
    sessionStopReason({ ...s, tokensSpent: 10_000 }, config, 0, false),
    'token budget reached: 10,000 tokens spent (--max-tokens 10,000)',
  );
  // Without a budget (and in states of older versions) nothing changes.
  assert.equal(sessionStopReason({ ...s, tokensSpent: 1e9 }, parseDrainInput({}), 0, false), null);
  const legacy = { ...parseDrainInput({}) } as Record<string, unknown>;
  delete legacy.maxTokens;
  assert.equal(sessionStopReason(s, legacy as never, 0, false), null);
});

test('a token-capped attempt has its own fingerprint bucket and zero-yield reason', () => {
  const base = {
    success: false,
    finalState: 'EXECUTING',
    returnCode: null,
    timedOut: false,
    signal: 'SIGTERM',
  };
  assert.match(
    computeFingerprint({ ...base, tokenCapped: true, errorMessage: 'phase stopped at its token cap' })!,
    /^TOKEN_CAP\|token-cap\|/,
  );
  assert.doesNotMatch(computeFingerprint({ ...base, errorMessage: 'x' })!, /TOKEN_CAP/);
  const z = {
    events: 0,
    success: false,
    timedOut: false,
    llmBoundaryHit: false,
    returnCode: null,
    finalState: 'EXECUTING',
    lastFailureReason: null,
  };
  assert.equal(zeroYieldReason({ ...z, tokenCapped: true }), 'token_cap');
  assert.equal(zeroYieldReason({ ...z, tokenCapped: true, events: 3 }), null);
});

test('tokens not spent again: the last failing attempts of the phases memory passes over', async () => {
  const { notSpentAgain } = await import('../../src/domain/analyze.js');
  assert.deepEqual(notSpentAgain([]), { phases: 0, tokens: null });
  assert.deepEqual(notSpentAgain([{ lastTokens: 1500 }, { lastTokens: null }, { lastTokens: 700 }]), {
    phases: 3,
    tokens: 2200,
  });
  assert.deepEqual(notSpentAgain([{ lastTokens: null }, {}]), { phases: 2, tokens: null });
});
