/**
 * Session stop conditions (checked before every pick) and the phase timeout capped by the
 * session's time budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDrainInput } from '../../src/domain/input.js';
import { newSessionState, type SessionState } from '../../src/domain/session-state.js';
import { cappedPhaseTimeout, remainingSeconds, sessionStopReason } from '../../src/domain/stop-conditions.js';
import type { DrainConfig } from '../../src/domain/types.js';

const T0 = Date.parse('2025-12-28T06:00:07Z');
const MIN = 60_000;

const cfg = (over: Partial<DrainConfig> = {}): DrainConfig => parseDrainInput(over);
const stateFor = (config: DrainConfig, over: Partial<SessionState> = {}): SessionState => ({
  ...newSessionState('batch-drain-test', T0, config),
  ...over,
});

// ---------------------------------------------------------------------------------------------
// sessionStopReason

interface StopCase {
  name: string;
  config?: Partial<DrainConfig>;
  state?: Partial<SessionState>;
  /** ms after T0 */
  at?: number;
  stop?: boolean;
  expect: string | null;
}

const stopCases: StopCase[] = [
  // none
  { name: 'fresh session', expect: null },
  { name: 'fresh session, an hour later, no budget', at: 60 * MIN, expect: null },
  { name: 'below the batch size', state: { processed: 9 }, expect: null },
  {
    name: 'zero-yield streak without a limit never stops',
    state: { consecutiveZeroYield: 1000 },
    expect: null,
  },
  {
    name: 'zero-yield streak below the limit',
    config: { maxConsecutiveZeroYield: 5 },
    state: { consecutiveZeroYield: 4 },
    expect: null,
  },
  { name: 'just before the deadline', config: { maxTotalMinutes: 60 }, at: 60 * MIN - 1, expect: null },
  // each condition alone
  { name: 'stop requested', stop: true, expect: 'stop requested by operator' },
  { name: 'batch size reached', state: { processed: 10 }, expect: 'batch size reached (10)' },
  {
    name: 'batch size exceeded',
    config: { batchSize: 3 },
    state: { processed: 4 },
    expect: 'batch size reached (3)',
  },
  {
    name: 'batch size 1',
    config: { batchSize: 1 },
    state: { processed: 1 },
    expect: 'batch size reached (1)',
  },
  {
    name: 'zero-yield streak at the limit',
    config: { maxConsecutiveZeroYield: 5 },
    state: { consecutiveZeroYield: 5 },
    expect: '5 consecutive attempts with zero telemetry yield (limit: 5)',
  },
  {
    name: 'zero-yield streak past the limit (limit lowered across continue-as-new)',
    config: { maxConsecutiveZeroYield: 2 },
    state: { consecutiveZeroYield: 7 },
    expect: '7 consecutive attempts with zero telemetry yield (limit: 2)',
  },
  {
    name: 'deadline reached',
    config: { maxTotalMinutes: 60 },
    at: 60 * MIN,
    expect: 'max total minutes reached (60)',
  },
  {
    name: 'deadline passed',
    config: { maxTotalMinutes: 60 },
    at: 90 * MIN,
    expect: 'max total minutes reached (60)',
  },
  {
    name: 'fractional minutes',
    config: { maxTotalMinutes: 0.5 },
    at: 30_000,
    expect: 'max total minutes reached (0.5)',
  },
  // priority: stop requested > batch size > zero-yield streak > deadline
  {
    name: 'priority: stop requested beats everything',
    config: { batchSize: 1, maxConsecutiveZeroYield: 1, maxTotalMinutes: 1 },
    state: { processed: 1, consecutiveZeroYield: 1 },
    at: 2 * MIN,
    stop: true,
    expect: 'stop requested by operator',
  },
  {
    name: 'priority: batch size beats zero-yield and deadline',
    config: { batchSize: 1, maxConsecutiveZeroYield: 1, maxTotalMinutes: 1 },
    state: { processed: 1, consecutiveZeroYield: 1 },
    at: 2 * MIN,
    expect: 'batch size reached (1)',
  },
  {
    name: 'priority: zero-yield beats deadline',
    config: { maxConsecutiveZeroYield: 1, maxTotalMinutes: 1 },
    state: { processed: 1, consecutiveZeroYield: 1 },
    at: 2 * MIN,
    expect: '1 consecutive attempts with zero telemetry yield (limit: 1)',
  },
  {
    name: 'priority: deadline when nothing else holds',
    config: { maxConsecutiveZeroYield: 3, maxTotalMinutes: 1 },
    state: { processed: 1, consecutiveZeroYield: 2 },
    at: 2 * MIN,
    expect: 'max total minutes reached (1)',
  },
];

for (const c of stopCases) {
  test(`sessionStopReason: ${c.name}`, () => {
    const config = cfg(c.config);
    const state = stateFor(config, c.state);
    assert.equal(sessionStopReason(state, config, T0 + (c.at ?? 0), c.stop ?? false), c.expect);
  });
}

test('sessionStopReason uses the deadline carried in the state (survives continue-as-new)', () => {
  const config = cfg({ maxTotalMinutes: 60 });
  // a later generation starts its workflow at T0 + 50 min, but carries the original deadline
  const carried = { ...stateFor(config), generation: 3 };
  assert.equal(sessionStopReason(carried, config, T0 + 59 * MIN, false), null);
  assert.equal(sessionStopReason(carried, config, T0 + 60 * MIN, false), 'max total minutes reached (60)');
});

// ---------------------------------------------------------------------------------------------
// remainingSeconds

const remainingCases: Array<[name: string, minutes: number | null, at: number, expect: number | null]> = [
  ['no budget', null, 0, null],
  ['no budget, much later', null, 1000 * MIN, null],
  ['full budget at the start', 60, 0, 3600],
  ['half way', 60, 30 * MIN, 1800],
  ['fractional seconds are kept', 1, 500, 59.5],
  ['at the deadline', 60, 60 * MIN, 0],
  ['past the deadline is 0, never negative', 60, 61 * MIN, 0],
];

for (const [name, minutes, at, expect] of remainingCases) {
  test(`remainingSeconds: ${name} → ${expect}`, () => {
    const config = cfg({ maxTotalMinutes: minutes });
    assert.equal(remainingSeconds(stateFor(config), T0 + at), expect);
  });
}

// ---------------------------------------------------------------------------------------------
// cappedPhaseTimeout

const cappedCases: Array<[name: string, over: Partial<DrainConfig>, at: number, expect: number]> = [
  ['no deadline: the phase timeout', {}, 0, 900],
  ['no deadline, custom timeout', { phaseTimeoutSeconds: 600 }, 0, 600],
  ['no deadline, fractional timeout is floored', { phaseTimeoutSeconds: 90.9 }, 0, 90],
  ['no deadline, sub-second timeout is at least 1', { phaseTimeoutSeconds: 0.5 }, 0, 1],
  ['deadline far away: the phase timeout', { maxTotalMinutes: 60 }, 0, 900],
  ['deadline exactly one timeout away', { maxTotalMinutes: 15 }, 0, 900],
  ['deadline sooner: the remaining time', { maxTotalMinutes: 60 }, 55 * MIN, 300],
  ['deadline sooner: remaining time floored', { maxTotalMinutes: 60 }, 60 * MIN - 299_500, 299],
  ['deadline sooner than a custom timeout', { maxTotalMinutes: 10, phaseTimeoutSeconds: 1200 }, 0, 600],
  ['under one second left: at least 1', { maxTotalMinutes: 60 }, 60 * MIN - 400, 1],
  ['at the deadline: at least 1', { maxTotalMinutes: 60 }, 60 * MIN, 1],
  ['past the deadline: at least 1', { maxTotalMinutes: 60 }, 70 * MIN, 1],
];

for (const [name, over, at, expect] of cappedCases) {
  test(`cappedPhaseTimeout: ${name} → ${expect}`, () => {
    const config = cfg(over);
    const t = cappedPhaseTimeout(stateFor(config), config, T0 + at);
    assert.equal(t, expect);
    assert.ok(Number.isInteger(t) && t >= 1);
  });
}
