/**
 * judgeAttempt: the workflow-side verdict of one attempt (fingerprint, failure category,
 * telemetry yield, zero-yield reason) on representative outcomes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeAttempt } from '../../src/domain/judge.js';
import type { AttemptOutcome, AttemptVerdict } from '../../src/domain/types.js';

function outcome(over: Partial<AttemptOutcome>): AttemptOutcome {
  return {
    runId: 'research-system-v6',
    phaseId: 'research-foundation-orchestrator',
    attempt: 1,
    initialState: 'FAILED',
    finalState: 'FAILED',
    success: false,
    returnCode: 1,
    signal: null,
    timedOut: false,
    cancelled: false,
    reconciled: false,
    exitKnown: true,
    telemetryByTable: null,
    runCountsBefore: null,
    runCountsAfter: null,
    phaseChanged: null,
    interruptedTries: 0,
    processesReaped: 0,
    lost: false,
    abandoned: false,
    durationSeconds: 240,
    stdoutPath: null,
    stderrPath: null,
    stdoutExcerpt: '',
    stderrExcerpt: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    lastFailureReason: null,
    errorMessage: null,
    llmBoundaryHit: false,
    telemetryEvents: 0,
    telemetryGlobalDelta: 0,
    startedAt: '2025-12-28T06:00:07.000Z',
    finishedAt: '2025-12-28T06:04:07.000Z',
    workerIdentity: 'w',
    baselineCommit: null,
    ...over,
  };
}

const cases: Array<[name: string, over: Partial<AttemptOutcome>, expect: AttemptVerdict]> = [
  [
    'success with telemetry (reference: +15 events in 4 min = 3.75/min)',
    { success: true, finalState: 'COMPLETE', returnCode: 0, telemetryEvents: 15, durationSeconds: 240 },
    { fingerprint: null, category: 'unknown', yieldPerMinute: 3.75, zeroYieldReason: null },
  ],
  [
    'success without telemetry',
    { success: true, finalState: 'COMPLETE', returnCode: 0, telemetryEvents: 0 },
    { fingerprint: null, category: 'unknown', yieldPerMinute: null, zeroYieldReason: 'success_no_llm_calls' },
  ],
  [
    'success keeps category unknown even with a stale failure reason',
    {
      success: true,
      finalState: 'COMPLETE',
      returnCode: 0,
      lastFailureReason: 'Phase timed out',
      telemetryEvents: 1,
      durationSeconds: 60,
    },
    { fingerprint: null, category: 'unknown', yieldPerMinute: 1, zeroYieldReason: null },
  ],
  [
    'our timeout fired (SIGTERM to the group, no reason recorded)',
    {
      timedOut: true,
      finalState: 'EXECUTING',
      returnCode: null,
      signal: 'SIGTERM',
      errorMessage: 'phase timed out after 900s',
      durationSeconds: 900,
    },
    {
      fingerprint: 'TIMEOUT|timeout|phase timed out after nums',
      category: 'timeout',
      yieldPerMinute: null,
      zeroYieldReason: 'timeout',
    },
  ],
  [
    'timeout is the category even when the phase recorded another reason',
    {
      timedOut: true,
      finalState: 'EXECUTING',
      returnCode: null,
      lastFailureReason: 'CI collection/import error',
    },
    { fingerprint: 'TIMEOUT|timeout', category: 'timeout', yieldPerMinute: null, zeroYieldReason: 'timeout' },
  ],
  [
    'timeout with some telemetry',
    { timedOut: true, finalState: 'EXECUTING', returnCode: null, telemetryEvents: 3, durationSeconds: 900 },
    { fingerprint: 'TIMEOUT|timeout', category: 'timeout', yieldPerMinute: 0.2, zeroYieldReason: null },
  ],
  [
    'deterministic failure with a reason (collection)',
    {
      returnCode: 1,
      lastFailureReason: 'CI collection/import error',
      errorMessage: 'ImportError at line 123: cannot import module from c:\\dev\\Autopack\\file.py:456',
    },
    {
      fingerprint: 'FAILED|rc1|importerror at line num: cannot import module from path/file.py:num',
      category: 'collection',
      yieldPerMinute: null,
      zeroYieldReason: 'failed_before_llm',
    },
  ],
  [
    'failure with a deliverable reason',
    {
      returnCode: 1,
      lastFailureReason: 'Missing deliverables: src/a.py',
      errorMessage: 'Missing deliverables: src/a.py',
    },
    {
      fingerprint: 'FAILED|rc1|missing deliverables: src/a.py',
      category: 'deliverable',
      yieldPerMinute: null,
      zeroYieldReason: 'failed_before_llm',
    },
  ],
  [
    'failure with a patch reason',
    {
      returnCode: 1,
      lastFailureReason: 'Patch application failed: hunk #1 FAILED at 42',
      errorMessage: 'Patch application failed',
    },
    {
      fingerprint: 'FAILED|rc1|patch application failed',
      category: 'patch',
      yieldPerMinute: null,
      zeroYieldReason: 'failed_before_llm',
    },
  ],
  [
    'failure with another reason, after reaching the LLM',
    {
      returnCode: 1,
      lastFailureReason: 'Builder returned invalid JSON',
      errorMessage: 'Builder returned invalid JSON',
      llmBoundaryHit: true,
    },
    {
      fingerprint: 'FAILED|rc1|builder returned invalid json',
      category: 'other',
      yieldPerMinute: null,
      zeroYieldReason: 'llm_boundary_hit',
    },
  ],
  [
    'failure with telemetry has a yield and no zero-yield reason',
    {
      returnCode: 1,
      lastFailureReason: 'Builder returned invalid JSON',
      telemetryEvents: 5,
      durationSeconds: 60,
    },
    { fingerprint: 'FAILED|rc1', category: 'other', yieldPerMinute: 5, zeroYieldReason: null },
  ],
  [
    'failure without a reason (unknown category)',
    { returnCode: 0, finalState: 'FAILED', lastFailureReason: null, errorMessage: null },
    { fingerprint: 'FAILED|rc0', category: 'unknown', yieldPerMinute: null, zeroYieldReason: 'unknown' },
  ],
  [
    'crash: non-zero return code, no reason',
    {
      finalState: 'EXECUTING',
      returnCode: 137,
      errorMessage: 'Traceback (most recent call last): ... MemoryError',
    },
    {
      fingerprint: 'EXECUTING|rc137|traceback (most recent call last): ... memoryerror',
      category: 'unknown',
      yieldPerMinute: null,
      zeroYieldReason: 'execution_error',
    },
  ],
  [
    'crash: killed by a signal, no return code, no reason',
    { finalState: 'EXECUTING', returnCode: null, signal: 'SIGKILL' },
    {
      fingerprint: 'EXECUTING|sigkill',
      category: 'unknown',
      yieldPerMinute: null,
      zeroYieldReason: 'execution_error',
    },
  ],
  [
    'crash: SIGTERM from outside (not our timeout)',
    { finalState: 'EXECUTING', returnCode: null, signal: 'SIGTERM' },
    {
      fingerprint: 'EXECUTING|timeout143',
      category: 'unknown',
      yieldPerMinute: null,
      zeroYieldReason: 'execution_error',
    },
  ],
  [
    'crash: return code 143',
    { finalState: 'EXECUTING', returnCode: 143 },
    {
      fingerprint: 'EXECUTING|timeout143',
      category: 'unknown',
      yieldPerMinute: null,
      zeroYieldReason: 'execution_error',
    },
  ],
  [
    'no final state, no return code, no signal',
    { finalState: null, returnCode: null },
    { fingerprint: 'UNKNOWN|rcnone', category: 'unknown', yieldPerMinute: null, zeroYieldReason: 'unknown' },
  ],
  [
    'zero duration: no yield even with events',
    { success: true, finalState: 'COMPLETE', returnCode: 0, telemetryEvents: 4, durationSeconds: 0 },
    { fingerprint: null, category: 'unknown', yieldPerMinute: null, zeroYieldReason: null },
  ],
];

for (const [name, over, expect] of cases) {
  test(`judgeAttempt: ${name}`, () => {
    assert.deepEqual(judgeAttempt(outcome(over)), expect);
  });
}

test('judgeAttempt: the same failure in two runs gets the same fingerprint', () => {
  const a = judgeAttempt(
    outcome({
      runId: 'run-1',
      errorMessage: 'ImportError at 2025-12-28T06:00:07+00:00 in /srv/a/b.py:12 (session-abc123)',
    }),
  );
  const b = judgeAttempt(
    outcome({
      runId: 'run-2',
      errorMessage: 'ImportError at 2025-12-29T11:22:33+00:00 in /srv/x/b.py:99 (session-def456)',
    }),
  );
  assert.equal(a.fingerprint, b.fingerprint);
  assert.notEqual(a.fingerprint, null);
});

test('judgeAttempt: a long error is cut to 200 code points in the fingerprint, with its digest', () => {
  const v = judgeAttempt(outcome({ errorMessage: 'e'.repeat(1000) }));
  assert.match(v.fingerprint!, /^FAILED\|rc1\|e{190} #[0-9a-f]{8}$/);
});
