import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptSucceeded, outcomeFromFacts, type AttemptFacts } from '../../src/domain/attempt-outcome.js';

const exit0 = { returnCode: 0, signal: null, timedOut: false, cancelled: false, durationSeconds: 3 };

function facts(over: Partial<AttemptFacts> = {}): AttemptFacts {
  return {
    runId: 'r',
    phaseId: 'p',
    attempt: 1,
    timeoutSeconds: 60,
    initialState: 'FAILED',
    final: { state: 'COMPLETE', lastFailureReason: null },
    exit: exit0,
    elapsedSeconds: 9,
    reconciled: false,
    spawnError: null,
    outputCapped: null,
    logs: {
      stdoutPath: '/l/o.txt',
      stderrPath: '/l/e.txt',
      stdoutExcerpt: 'out',
      stderrExcerpt: '',
      stdoutBytes: 3,
      stderrBytes: 0,
    },
    llmBoundaryHit: false,
    telemetryEvents: 2,
    telemetryGlobalDelta: 2,
    telemetryByTable: { token_estimation_v2_events: 2, token_budget_escalation_events: 0 },
    runCountsBefore: { FAILED: 1 },
    runCountsAfter: { COMPLETE: 1 },
    phaseChanged: true,
    interruptedTries: 0,
    processesReaped: 0,
    unjudged: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:03.000Z',
    workerIdentity: 'w',
    baselineCommit: null,
    ...over,
  };
}

// One rule for both paths: [name, facts, success].
const cases: Array<[string, Partial<AttemptFacts>, boolean]> = [
  ['exit 0 and COMPLETE', {}, true],
  ['exit 0 but FAILED', { final: { state: 'FAILED', lastFailureReason: 'x' } }, false],
  ['exit 1 and COMPLETE', { exit: { ...exit0, returnCode: 1 } }, false],
  ['timed out although COMPLETE', { exit: { ...exit0, timedOut: true } }, false],
  ['cancelled although COMPLETE', { exit: { ...exit0, cancelled: true } }, false],
  ['killed by a signal', { exit: { ...exit0, returnCode: null, signal: 'SIGKILL' } }, false],
  ['phase row vanished', { final: null }, false],
  ['spawn error', { spawnError: 'executor could not be started: ENOENT' }, false],
  ['output cap', { outputCapped: { maxBytes: 10 } }, false],
  ['lease lost although COMPLETE', { unjudged: { kind: 'lost', reason: 'lease lost' } }, false],
  ['recovery with the exit record: exit 0 + COMPLETE', { reconciled: true }, true],
  [
    'recovery with the exit record: exit 2 + COMPLETE',
    { reconciled: true, exit: { ...exit0, returnCode: 2 } },
    false,
  ],
  ['recovery, exit unknowable, COMPLETE', { reconciled: true, exit: null }, true],
  [
    'recovery, exit unknowable, FAILED',
    { reconciled: true, exit: null, final: { state: 'FAILED', lastFailureReason: 'r' } },
    false,
  ],
];

for (const [name, over, success] of cases) {
  test(`attempt judged: ${name} → ${success ? 'success' : 'failure'}`, () => {
    const f = facts(over);
    assert.equal(attemptSucceeded(f), success);
    const o = outcomeFromFacts(f);
    assert.equal(o.success, success);
    assert.equal(o.errorMessage === null, success, 'an error message exactly for failures');
    if (!success) assert.doesNotMatch(o.errorMessage ?? '', /unknown error/i);
  });
}

test('outcome: exit unknowable is said, the duration falls back to the elapsed time', () => {
  const o = outcomeFromFacts(facts({ exit: null, reconciled: true }));
  assert.equal(o.exitKnown, false);
  assert.equal(o.returnCode, null);
  assert.equal(o.durationSeconds, 9);
  assert.equal(outcomeFromFacts(facts()).durationSeconds, 3);
});

test('outcome: the failure message prefers the phase reason, else names the evidence', () => {
  const withReason = outcomeFromFacts(
    facts({ final: { state: 'FAILED', lastFailureReason: 'CI collection error' } }),
  );
  assert.equal(withReason.errorMessage, 'CI collection error');
  assert.equal(withReason.lastFailureReason, 'CI collection error');
  const blank = outcomeFromFacts(
    facts({ final: { state: 'FAILED', lastFailureReason: '  ' }, exit: { ...exit0, returnCode: 3 } }),
  );
  assert.equal(blank.lastFailureReason, null);
  assert.match(blank.errorMessage ?? '', /return code 3/);
  assert.match(blank.errorMessage ?? '', /\/l\/o\.txt|\/l\/e\.txt/);
  const capped = outcomeFromFacts(facts({ outputCapped: { maxBytes: 10 } }));
  assert.match(capped.errorMessage ?? '', /exceeded 10 bytes/);
});

test('outcome: the evidence facts pass through unchanged', () => {
  const f = facts();
  const o = outcomeFromFacts(f);
  assert.deepEqual(o.telemetryByTable, f.telemetryByTable);
  assert.deepEqual(o.runCountsBefore, f.runCountsBefore);
  assert.deepEqual(o.runCountsAfter, f.runCountsAfter);
  assert.equal(o.phaseChanged, true);
  assert.equal(o.stdoutBytes, 3);
  assert.equal(o.stdoutPath, '/l/o.txt');
});
