import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProgress } from '../../src/cli/commands/status.js';
import type { Progress } from '../../src/domain/messages.js';

const phase = (runId: string) => ({
  runId,
  phaseId: 'p-1',
  attempt: 1,
  startedAt: '2025-01-01T02:00:00.000Z',
  timeoutSeconds: 900,
  runningSeconds: 12,
});
const base = {
  sessionId: 's-1',
  status: 'running',
  paused: false,
  stopRequested: false,
  dryRun: false,
  processed: 2,
  batchSize: 10,
  succeeded: 2,
  failed: 0,
  timeouts: 0,
  telemetryEvents: 3,
  stoppedRuns: {},
  stoppedFingerprints: [],
  startedAt: '2025-01-01T02:00:00.000Z',
  elapsedSeconds: 30,
  remainingSeconds: null,
  generation: 0,
  stopReason: null,
  recent: [],
  skipped: [],
  planned: [],
  sessionJson: null,
  log: { seq: 0, events: [] },
} as unknown as Progress;

test('drain status lists every slot of a session with several', () => {
  const text = formatProgress({
    ...base,
    current: phase('run-a'),
    slots: [phase('run-a'), null, phase('run-c')],
  });
  assert.match(text, /\n {2}3 slots, 2 draining:\n/);
  assert.match(text, /\n {4}slot 1: draining run-a \/ p-1 \(attempt 1\) for 12s \(timeout 900s\)\n/);
  assert.match(text, /\n {4}slot 2: idle \(selecting or waiting\)\n/);
  assert.match(text, /\n {4}slot 3: draining run-c \/ p-1/);
});

test('drain status of one slot (or a session from before slots) shows the one phase', () => {
  for (const slots of [undefined, [phase('run-a')]]) {
    const text = formatProgress({ ...base, current: phase('run-a'), slots });
    assert.match(text, /\n {2}draining run-a \/ p-1 \(attempt 1\) for 12s \(timeout 900s\)/);
    assert.doesNotMatch(text, /slot/);
  }
});
