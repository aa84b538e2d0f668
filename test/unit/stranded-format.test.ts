/**
 * `drain stranded` text: a phase with a try that may still be alive names that try and its
 * host, and the hint to set phases FAILED by hand is given only for the phases without one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STILL_RUNNING_HINT, STRANDED_HINT, formatStrandedText } from '../../src/cli/commands/stranded.js';
import type { StrandedPhase } from '../../src/db/stranded.js';

const phase = (phaseId: string, runningTry: StrandedPhase['runningTry']): StrandedPhase => ({
  runId: 'r',
  phaseId,
  phaseIndex: 0,
  phaseState: 'EXECUTING',
  phaseUpdatedAt: null,
  attempt: {
    id: '1',
    sessionId: 's',
    attempt: 1,
    try: 1,
    status: 'interrupted',
    timedOut: false,
    returnCode: null,
    signal: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:10.000Z',
    errorMessage: null,
    stdoutPath: null,
    stderrPath: null,
  },
  runningTry,
});

const alive = { id: '7', sessionId: 's2', try: 2, host: 'host-b', fenceRenewedSecondsAgo: 3 };

test('only phases with a try still running: that try, and no hint to set them FAILED', () => {
  const text = formatStrandedText([phase('a', alive)]);
  const blocks = text.split('\n\n');
  assert.match(
    blocks[1],
    /\n {2}a try is still running on host host-b \(fence renewed 3s ago\): session s2, try 2$/,
  );
  assert.equal(blocks.at(-1), STILL_RUNNING_HINT);
  assert.doesNotMatch(text, /FAILED yourself/);
});

test('mixed: the hand-back hint names the others, then the one about running tries', () => {
  const blocks = formatStrandedText([phase('a', alive), phase('b', null)]).split('\n\n');
  assert.deepEqual(blocks.slice(-2), [
    `for the phases without a try still running: ${STRANDED_HINT}`,
    STILL_RUNNING_HINT,
  ]);
  assert.doesNotMatch(blocks[2], /still running/);
});

test('none running: the usual hint alone', () => {
  const blocks = formatStrandedText([phase('b', null)]).split('\n\n');
  assert.equal(blocks.at(-1), STRANDED_HINT);
  assert.equal(blocks.length, 3);
});
