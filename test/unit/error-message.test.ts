import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildErrorMessage,
  RETRYABLE_SUFFIX,
  type ErrorMessageInput,
} from '../../src/domain/error-message.js';

const OUT = '/s/logs/r__p__a1.stdout.txt';
const ERR = '/s/logs/r__p__a1.stderr.txt';

const base: ErrorMessageInput = {
  success: false,
  finalState: 'FAILED',
  lastFailureReason: null,
  returnCode: 1,
  signal: null,
  timedOut: false,
  timeoutSeconds: 900,
  cancelled: false,
  stdoutPath: OUT,
  stderrPath: ERR,
  stdoutBytes: 10,
  stderrBytes: 20,
};

const cases: Array<[name: string, input: Partial<ErrorMessageInput>, expected: string | null]> = [
  ['success → null', { success: true, finalState: 'COMPLETE', returnCode: 0 }, null],
  ['success even with a reason → null', { success: true, lastFailureReason: 'old reason' }, null],
  ['failure reason wins', { lastFailureReason: 'CI collection/import error' }, 'CI collection/import error'],
  ['failure reason wins over timeout', { lastFailureReason: 'boom', timedOut: true }, 'boom'],
  [
    'token escalation is marked retryable',
    { lastFailureReason: 'TOKEN_ESCALATION: need 16k' },
    'TOKEN_ESCALATION: need 16k' + RETRYABLE_SUFFIX,
  ],
  [
    'token escalation marker is case-sensitive',
    { lastFailureReason: 'token_escalation' },
    'token_escalation',
  ],
  [
    'timed out without a reason',
    { timedOut: true, returnCode: null, signal: 'SIGTERM', finalState: 'EXECUTING' },
    `phase timed out after 900s (no failure reason recorded; killed by SIGTERM; final state EXECUTING; stderr: ${ERR} (20 bytes); stdout: ${OUT} (10 bytes))`,
  ],
  [
    'cancelled without a reason',
    { cancelled: true, returnCode: null, signal: 'SIGTERM', stderrBytes: 0 },
    `phase cancelled (no failure reason recorded; killed by SIGTERM; final state FAILED; stderr: ${ERR} (empty); stdout: ${OUT} (10 bytes))`,
  ],
  [
    'non-zero return code → return code and stderr path',
    { returnCode: 2 },
    `executor exited with return code 2 and no failure reason recorded (final state FAILED; stderr: ${ERR} (20 bytes))`,
  ],
  [
    'non-zero return code, empty stderr → stdout path (A3)',
    { returnCode: 2, stderrBytes: 0 },
    `executor exited with return code 2 and no failure reason recorded (final state FAILED; stdout: ${OUT} (10 bytes); stderr empty)`,
  ],
  [
    'both logs empty → stderr path marked empty',
    { returnCode: 3, stderrBytes: 0, stdoutBytes: 0 },
    `executor exited with return code 3 and no failure reason recorded (final state FAILED; stderr: ${ERR} (empty))`,
  ],
  [
    'killed by a signal',
    { returnCode: null, signal: 'SIGKILL' },
    `executor killed by SIGKILL and no failure reason recorded (final state FAILED; stderr: ${ERR} (20 bytes))`,
  ],
  [
    'no return code and no signal',
    { returnCode: null, finalState: null, stderrPath: null, stderrBytes: 0, stdoutBytes: 0 },
    'executor ended without a return code and no failure reason recorded (final state UNKNOWN; stderr: no log)',
  ],
  [
    'exit 0 but not COMPLETE → stdout path',
    { returnCode: 0, finalState: 'QUEUED' },
    `executor exited 0 but the phase is QUEUED (no failure reason recorded; stdout: ${OUT} (10 bytes); stderr: ${ERR} (20 bytes))`,
  ],
  [
    'exit 0, null paths',
    { returnCode: 0, finalState: 'EXECUTING', stdoutPath: null, stderrPath: null },
    'executor exited 0 but the phase is EXECUTING (no failure reason recorded; stdout: no log; stderr: no log)',
  ],
  [
    'blank reason is no reason',
    { lastFailureReason: '  \n', returnCode: 0, finalState: 'FAILED', stdoutPath: null },
    `executor exited 0 but the phase is FAILED (no failure reason recorded; stdout: no log; stderr: ${ERR} (20 bytes))`,
  ],
  [
    'paths with spaces and unicode kept verbatim; 1 byte',
    { returnCode: 1, stderrPath: '/tmp/ä b/é.txt', stderrBytes: 1 },
    'executor exited with return code 1 and no failure reason recorded (final state FAILED; stderr: /tmp/ä b/é.txt (1 byte))',
  ],
];

for (const [name, input, expected] of cases) {
  test(`buildErrorMessage: ${name}`, () => {
    assert.equal(buildErrorMessage({ ...base, ...input }), expected);
  });
}

// Every combination without a reason: never "Unknown error", always a return code or
// signal statement and a log reference.
const combos: Array<Partial<ErrorMessageInput>> = [];
for (const returnCode of [null, 0, 1, 143, -1])
  for (const signal of [null, 'SIGKILL'])
    for (const timedOut of [false, true])
      for (const cancelled of [false, true])
        for (const finalState of [null, 'FAILED', 'QUEUED', 'COMPLETE'])
          for (const paths of [true, false])
            combos.push({
              returnCode,
              signal,
              timedOut,
              cancelled,
              finalState,
              stdoutPath: paths ? OUT : null,
              stderrPath: paths ? ERR : null,
            });

test(`buildErrorMessage: no reason is never "Unknown error" (${combos.length} combinations)`, () => {
  for (const c of combos) {
    const msg = buildErrorMessage({ ...base, ...c });
    assert.ok(msg, JSON.stringify(c));
    assert.doesNotMatch(msg, /unknown error/i);
    assert.match(msg, /no failure reason recorded/);
    assert.match(msg, /(stdout|stderr): /);
    if (c.returnCode !== 0 || c.timedOut || c.cancelled) {
      assert.match(msg, /return code|killed by|no return code|without a return code/);
    }
    if (c.stdoutPath) assert.ok(msg.includes(ERR) || msg.includes(OUT));
  }
});
