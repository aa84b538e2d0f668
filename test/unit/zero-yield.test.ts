import { test } from 'node:test';
import assert from 'node:assert/strict';
import { yieldPerMinute, zeroYieldReason, type ZeroYieldInput } from '../../src/domain/zero-yield.js';
import type { ZeroYieldReason } from '../../src/domain/types.js';

const yields: Array<[events: number, duration: number | null, expected: number | null]> = [
  [15, 240, 3.75], // reference guide: +15 events (3.75/min)
  [27, 661.2, 2.45], // reference guide summary: 27 events, 2.45/min
  [1, 60, 1],
  [1, 3, 20],
  [2, 3, 40],
  [1, 7, 8.57],
  [1, 0.5, 120],
  [0, 60, null],
  [-3, 60, null],
  [5, 0, null],
  [5, -1, null],
  [5, null, null],
  [5, Number.NaN, null],
  [Number.NaN, 60, null],
  [5, Number.POSITIVE_INFINITY, null],
];

for (const [events, duration, expected] of yields) {
  test(`yieldPerMinute(${events}, ${duration}) = ${expected}`, () => {
    assert.equal(yieldPerMinute(events, duration), expected);
  });
}

const base: ZeroYieldInput = {
  events: 0,
  success: false,
  timedOut: false,
  llmBoundaryHit: false,
  returnCode: 1,
  signal: null,
  finalState: 'FAILED',
  lastFailureReason: null,
};

const reasons: Array<[name: string, input: Partial<ZeroYieldInput>, expected: ZeroYieldReason | null]> = [
  ['events > 0 → null', { events: 3, success: true }, null],
  ['events > 0 even when timed out → null', { events: 1, timedOut: true }, null],
  ['timed out', { timedOut: true, returnCode: null, signal: 'SIGTERM' }, 'timeout'],
  [
    'timed out beats success and boundary',
    { timedOut: true, success: true, llmBoundaryHit: true },
    'timeout',
  ],
  [
    'success with no events',
    { success: true, returnCode: 0, finalState: 'COMPLETE' },
    'success_no_llm_calls',
  ],
  ['llm boundary', { llmBoundaryHit: true, lastFailureReason: 'TOKEN_ESCALATION' }, 'llm_boundary_hit'],
  ['FAILED with a reason', { lastFailureReason: 'CI collection/import error' }, 'failed_before_llm'],
  [
    'FAILED with a reason and rc 0',
    { returnCode: 0, lastFailureReason: 'patch failed' },
    'failed_before_llm',
  ],
  ['crash: non-zero rc, no reason', { returnCode: 2 }, 'execution_error'],
  ['crash: blank reason', { returnCode: 2, lastFailureReason: '  ' }, 'execution_error'],
  [
    'crash: signal, no rc',
    { returnCode: null, signal: 'SIGKILL', finalState: 'EXECUTING' },
    'execution_error',
  ],
  [
    'reason but state not FAILED, crashed',
    { returnCode: 1, finalState: 'QUEUED', lastFailureReason: 'x' },
    'unknown',
  ],
  ['rc 0, not complete, no reason', { returnCode: 0, finalState: 'QUEUED' }, 'unknown'],
  ['no rc, no signal', { returnCode: null, finalState: null }, 'unknown'],
  ['negative events treated as zero', { events: -1, success: true }, 'success_no_llm_calls'],
];

for (const [name, input, expected] of reasons) {
  test(`zeroYieldReason: ${name}`, () => {
    assert.equal(zeroYieldReason({ ...base, ...input }), expected);
  });
}
