import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_BIG_OUTPUT_BYTES,
  SCENARIO_NAMES,
  defaultScenario,
  invalidReason,
  parseScope,
  parseSim,
  type Scenario,
} from '../../src/sim/scenario.js';

const base = (over: Partial<Scenario>): Scenario => ({
  ...defaultScenario(over.name ?? 'complete'),
  ...over,
});

describe('parseSim: valid input with defaults', () => {
  const cases: [string, unknown, Scenario][] = [
    ['absent sim', undefined, base({ name: 'complete', events: 1, seconds: 0.2, exitCode: 0, reason: null })],
    ['null sim', null, base({ name: 'complete' })],
    ['empty object', {}, base({ name: 'complete', events: 1 })],
    ['bare name string', 'hang', base({ name: 'hang' })],
    [
      'complete with events and seconds',
      { scenario: 'complete', events: 3, seconds: 0.5 },
      base({ events: 3, seconds: 0.5 }),
    ],
    ['complete with events 0', { scenario: 'complete', events: 0 }, base({ events: 0 })],
    ['complete with exitCode', { scenario: 'complete', exitCode: 1 }, base({ exitCode: 1 })],
    [
      'fail default',
      { scenario: 'fail' },
      base({ name: 'fail', reason: 'patch apply failed', exitCode: 1, events: 0 }),
    ],
    [
      'fail with all fields',
      {
        scenario: 'fail',
        reason: 'Missing deliverables: a.py',
        exitCode: 7,
        events: 2,
        seconds: 0,
      },
      base({
        name: 'fail',
        reason: 'Missing deliverables: a.py',
        exitCode: 7,
        events: 2,
        seconds: 0,
      }),
    ],
    ['crash default', { scenario: 'crash' }, base({ name: 'crash', exitCode: 3, reason: null })],
    ['crash exitCode', { scenario: 'crash', exitCode: 139 }, base({ name: 'crash', exitCode: 139 })],
    ['hang-with-children', { scenario: 'hang-with-children' }, base({ name: 'hang-with-children' })],
    ['unicode', { scenario: 'unicode', events: 2 }, base({ name: 'unicode', events: 2 })],
    [
      'stderr-exit0',
      { scenario: 'stderr-exit0' },
      base({ name: 'stderr-exit0', exitCode: 0, reason: null, events: 0 }),
    ],
    [
      'big-output default',
      { scenario: 'big-output' },
      base({ name: 'big-output', bytes: DEFAULT_BIG_OUTPUT_BYTES }),
    ],
    ['big-output bytes', { scenario: 'big-output', bytes: 10 }, base({ name: 'big-output', bytes: 10 })],
    ['endless-output', { scenario: 'endless-output' }, base({ name: 'endless-output' })],
    [
      'non-utf8',
      { scenario: 'non-utf8', reason: 'bad bytes' },
      base({ name: 'non-utf8', reason: 'bad bytes', exitCode: 1 }),
    ],
    [
      'escalate default',
      { scenario: 'escalate' },
      base({
        name: 'escalate',
        escalations: 1,
        reason: 'TOKEN_ESCALATION: output truncated at max_tokens',
        exitCode: 1,
      }),
    ],
    [
      'escalate reason gets the marker',
      { scenario: 'escalate', reason: 'truncated', escalations: 3 },
      base({
        name: 'escalate',
        escalations: 3,
        reason: 'TOKEN_ESCALATION: truncated',
        exitCode: 1,
      }),
    ],
    [
      'escalate reason keeps an existing marker',
      { scenario: 'escalate', reason: 'x TOKEN_ESCALATION y' },
      base({ name: 'escalate', escalations: 1, reason: 'x TOKEN_ESCALATION y', exitCode: 1 }),
    ],
    [
      'llm-boundary',
      { scenario: 'llm-boundary', events: 0 },
      base({ name: 'llm-boundary', events: 0, exitCode: 1 }),
    ],
    ['null fields mean default', { scenario: 'fail', events: null, reason: null }, base({ name: 'fail' })],
    [
      'tokens per model call',
      { scenario: 'complete', events: 2, tokens: 1500 },
      base({ events: 2, tokens: 1500 }),
    ],
    ['tokens 0', { scenario: 'escalate', tokens: 0 }, base({ name: 'escalate', tokens: 0 })],
    ['tokens null means derived', { scenario: 'complete', tokens: null }, base({ tokens: null })],
  ];
  for (const [title, input, expected] of cases) {
    test(title, () => assert.deepEqual(parseSim(input), { ok: true, scenario: expected }));
  }

  test('tokens default to null (derived per call) for every scenario', () => {
    for (const name of SCENARIO_NAMES) assert.equal(defaultScenario(name).tokens, null, name);
  });

  test('every scenario name parses with its defaults', () => {
    for (const name of SCENARIO_NAMES) {
      const r = parseSim({ scenario: name });
      assert.ok(r.ok, name);
      assert.equal(r.scenario.name, name);
      assert.equal(r.scenario.seconds, 0.2);
    }
  });

  test('llm-boundary and fail-like scenarios default to a reason; complete has none', () => {
    for (const name of ['fail', 'non-utf8', 'escalate', 'llm-boundary'] as const) {
      assert.ok(defaultScenario(name).reason, name);
    }
    for (const name of ['complete', 'crash', 'stderr-exit0', 'unicode', 'big-output'] as const) {
      assert.equal(defaultScenario(name).reason, null, name);
    }
  });
});

describe('parseSim: invalid input', () => {
  const cases: [string, unknown, string, RegExp][] = [
    [
      'unknown name',
      { scenario: 'explode' },
      'explode',
      /^unknown scenario "explode" \(valid: complete, fail, crash, hang,/,
    ],
    ['unknown bare name', 'nope', 'nope', /^unknown scenario "nope"/],
    ['name not a string', { scenario: 3 }, 'invalid', /'scenario' must be a string/],
    ['sim an array', [1], 'invalid', /'sim' must be an object/],
    ['sim a number', 5, 'invalid', /'sim' must be an object/],
    ['negative events', { events: -1 }, 'complete', /'events' must be between 0 and/],
    ['fractional events', { events: 1.5 }, 'complete', /'events' must be an integer/],
    ['events as string', { events: '3' }, 'complete', /'events' must be a number/],
    ['NaN-ish seconds', { seconds: 'slow' }, 'complete', /'seconds' must be a number/],
    ['negative seconds', { seconds: -0.1 }, 'complete', /'seconds' must be between/],
    ['huge seconds', { seconds: 1e9 }, 'complete', /'seconds' must be between/],
    ['exitCode 256', { scenario: 'fail', exitCode: 256 }, 'fail', /'exitCode' must be between 0 and 255/],
    ['bytes negative', { scenario: 'big-output', bytes: -5 }, 'big-output', /'bytes'/],
    ['tokens negative', { tokens: -1 }, 'complete', /'tokens' must be between 0 and 1000000/],
    ['tokens fractional', { tokens: 2.5 }, 'complete', /'tokens' must be an integer/],
    ['tokens as string', { tokens: '100' }, 'complete', /'tokens' must be a number/],
    ['tokens beyond a call', { tokens: 2_000_000 }, 'complete', /'tokens' must be between/],
    [
      'escalations fractional',
      { scenario: 'escalate', escalations: 0.5 },
      'escalate',
      /'escalations' must be an integer/,
    ],
    ['empty reason', { scenario: 'fail', reason: '  ' }, 'fail', /'reason' must be a non-empty string/],
    ['reason not a string', { scenario: 'fail', reason: 42 }, 'fail', /'reason' must be a non-empty string/],
    [
      'reason on complete',
      { scenario: 'complete', reason: 'x' },
      'complete',
      /'reason' is only used by fail, non-utf8/,
    ],
    ['reason on crash', { scenario: 'crash', reason: 'x' }, 'crash', /'reason' is only used by/],
    [
      'typo key',
      { scenario: 'complete', evnts: 3 },
      'complete',
      /unknown key 'evnts' \(valid: scenario, seconds/,
    ],
    [
      'llm-boundary with events',
      { scenario: 'llm-boundary', events: 2 },
      'llm-boundary',
      /llm-boundary writes no telemetry/,
    ],
  ];
  for (const [title, input, name, error] of cases) {
    test(title, () => {
      const r = parseSim(input);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.name, name);
      assert.match(r.error, error);
      assert.match(invalidReason(r), /^sim: /);
    });
  }

  test('unknown scenario reason is "sim: unknown scenario …"', () => {
    const r = parseSim({ scenario: 'explode' });
    assert.ok(!r.ok);
    assert.match(invalidReason(r), /^sim: unknown scenario "explode"/);
  });
});

describe('parseScope', () => {
  const cases: [string, unknown, string | null][] = [
    ['null scope', null, 'complete'],
    ['scope without sim', { deliverables: ['a.py'], paths: [] }, 'complete'],
    ['scope with other keys and sim', { deliverables: ['a.py'], sim: { scenario: 'fail' } }, 'fail'],
    ['scope as JSON text', JSON.stringify({ sim: { scenario: 'hang' } }), 'hang'],
    ['scope as a JSON array', [1, 2], 'complete'],
    ['scope as a number', 7, 'complete'],
    ['scope that is not JSON text', '{not json', null],
    ['scope with unknown scenario', { sim: { scenario: 'x' } }, null],
  ];
  for (const [title, scope, name] of cases) {
    test(title, () => {
      const r = parseScope(scope);
      if (name === null) assert.equal(r.ok, false);
      else {
        assert.ok(r.ok);
        assert.equal(r.scenario.name, name);
      }
    });
  }
});
