/**
 * Workflow input validation: parseDrainInput accepts one JSON object (every field optional),
 * fills in the reference defaults, and rejects anything else with an InputError that names
 * the offending field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, InputError, parseDrainInput } from '../../src/domain/input.js';
import type { DrainConfig } from '../../src/domain/types.js';

// ---------------------------------------------------------------------------------------------
// Defaults: exactly the reference's ("Default settings" in batch-drain-adaptive-controls.md).

const referenceDefaults: Array<[field: keyof DrainConfig, value: unknown]> = [
  ['batchSize', 10],
  ['phaseTimeoutSeconds', 900],
  ['maxTimeoutsPerRun', 2],
  ['maxAttemptsPerPhase', 2],
  ['maxFingerprintRepeats', 3],
  ['skipRunsWithQueued', true],
  ['maxConsecutiveZeroYield', null],
  ['maxTotalMinutes', null],
  ['mode', 'failed'],
  ['runId', null],
  ['dryRun', false],
  ['apiUrl', null],
  ['skipRunPrefixes', []],
];

for (const [field, value] of referenceDefaults) {
  test(`DEFAULTS.${field} is ${JSON.stringify(value)}`, () => {
    assert.deepEqual(DEFAULTS[field], value);
    assert.deepEqual(parseDrainInput({})[field], value);
  });
}

// ---------------------------------------------------------------------------------------------
// Inputs meaning "all defaults".

const allDefaults: Array<[name: string, raw: unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['{}', {}],
  ['every field explicitly undefined', Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, undefined]))],
  ['a JSON round trip of DEFAULTS', JSON.parse(JSON.stringify(DEFAULTS))],
];

for (const [name, raw] of allDefaults) {
  test(`parseDrainInput(${name}) = DEFAULTS`, () => {
    const c = parseDrainInput(raw);
    assert.deepEqual(c, DEFAULTS);
    assert.notEqual(c, DEFAULTS, 'a fresh object, not DEFAULTS itself');
  });
}

// ---------------------------------------------------------------------------------------------
// Good values, one field at a time: the field takes the value, every other field its default.

const good: Array<[field: string, value: unknown, expected?: unknown]> = [
  ['batchSize', 1],
  ['batchSize', 50],
  ['batchSize', 100_000],
  ['runId', 'build130-schema-validation'],
  ['runId', 'run:with:colons "quoted" ünïcødé 🚀'],
  ['runId', '  padded  ', 'padded'],
  ['runId', null],
  ['phaseTimeoutSeconds', 600],
  ['phaseTimeoutSeconds', 1],
  ['phaseTimeoutSeconds', 0.5],
  ['phaseTimeoutSeconds', 7 * 24 * 3600],
  ['maxTotalMinutes', 60],
  ['maxTotalMinutes', 0.25],
  ['maxTotalMinutes', null],
  ['maxTimeoutsPerRun', 1],
  ['maxTimeoutsPerRun', 3],
  ['maxAttemptsPerPhase', 1],
  ['maxAttemptsPerPhase', 3],
  ['maxFingerprintRepeats', 1],
  ['maxFingerprintRepeats', 5],
  ['skipRunsWithQueued', false],
  ['skipRunsWithQueued', true],
  ['skipRunPrefixes', ['research-', 'build1']],
  ['skipRunPrefixes', []],
  ['maxConsecutiveZeroYield', 1],
  ['maxConsecutiveZeroYield', 10],
  ['maxConsecutiveZeroYield', null],
  ['dryRun', true],
  ['apiUrl', 'http://127.0.0.1:8000'],
  ['apiUrl', 'https://api.example.com/v1/path?x=1'],
  ['apiUrl', 'http://host/path/with@at-sign-after-a-slash'],
  ['apiUrl', null],
  ['mode', 'failed'],
  ['mode', 'queued'],
  ['mode', 'queued-then-failed'],
  ['executor', 'python -m autopack.autonomous_executor --run-id {run_id}'],
  ['executor', null],
  ['workspace', '/srv/autopack'],
  ['baselineCommand', 'pytest -q --co'],
  ['killGraceSeconds', 0],
  ['killGraceSeconds', 2.5],
  ['killGraceSeconds', 3600],
  ['continueAsNewAfterEvents', 200],
  ['continueAsNewAfterEvents', 50_000],
  ['heartbeatTimeoutSeconds', 3],
  ['heartbeatTimeoutSeconds', 600],
];

for (const [field, value, expected = value] of good) {
  test(`parseDrainInput accepts ${field} = ${JSON.stringify(value)}`, () => {
    const c = parseDrainInput({ [field]: value });
    assert.deepEqual(c, { ...DEFAULTS, [field]: expected });
  });
}

test('parseDrainInput accepts every field at once', () => {
  const raw: Record<string, unknown> = {
    batchSize: 50,
    runId: 'r1',
    phaseTimeoutSeconds: 600,
    maxTotalMinutes: 60,
    maxTimeoutsPerRun: 1,
    maxAttemptsPerPhase: 1,
    maxFingerprintRepeats: 1,
    skipRunsWithQueued: false,
    skipRunPrefixes: ['x-'],
    maxConsecutiveZeroYield: 4,
    dryRun: true,
    apiUrl: 'http://127.0.0.1:8000',
    mode: 'queued-then-failed',
    executor: 'drain-sim --run-id {run_id} --phase-id {phase_id}',
    workspace: '/tmp/ws',
    baselineCommand: 'true',
    killGraceSeconds: 5,
    continueAsNewAfterEvents: 1000,
    heartbeatTimeoutSeconds: 30,
    maxDrainTries: 3,
    onKill: 'fail',
    apiProcessPattern: 'gunicorn',
    databaseId: '8d7f3c52-5b1e-4d0e-9a57-0c3a1b2c4d5e',
    maxAttemptsPerPhaseTotal: 6,
    ignoreMemory: true,
    order: 'yield',
    stallSeconds: 120,
    maxPhaseTimeoutSeconds: 1200,
    concurrency: 4,
    maxTokens: 2_000_000,
    maxTokensPerPhase: 150_000,
  };
  // Fields added later are caught here: each must appear above with a non-default value.
  assert.deepEqual(Object.keys(raw).sort(), Object.keys(DEFAULTS).sort(), 'covers every field');
  for (const [k, v] of Object.entries(raw)) {
    assert.notDeepEqual(v, (DEFAULTS as unknown as Record<string, unknown>)[k], `${k} is not its default`);
  }
  assert.deepEqual(parseDrainInput(raw), raw);
  assert.deepEqual(parseDrainInput(JSON.parse(JSON.stringify(raw))), raw);
});

test('parseDrainInput does not hand out DEFAULTS by reference', () => {
  const before = JSON.stringify(DEFAULTS);
  const c = parseDrainInput({});
  c.skipRunPrefixes.push('mutated-');
  c.batchSize = 99;
  assert.equal(JSON.stringify(DEFAULTS), before);
  assert.deepEqual(parseDrainInput(undefined).skipRunPrefixes, []);
});

// ---------------------------------------------------------------------------------------------
// Bad fields: InputError whose `field` is the field (dotted path) and whose message names it.

const huge = 'x'.repeat(5000);
const hugeUrl = 'http://example.com/' + 'a'.repeat(3000);

const bad: Array<[name: string, raw: Record<string, unknown>, field: string]> = [
  // wrong types
  ['batchSize as a string "10"', { batchSize: '10' }, 'batchSize'],
  ['batchSize as a boolean', { batchSize: true }, 'batchSize'],
  ['batchSize null', { batchSize: null }, 'batchSize'],
  ['batchSize as an array', { batchSize: [10] }, 'batchSize'],
  ['batchSize as an object', { batchSize: { n: 10 } }, 'batchSize'],
  ['phaseTimeoutSeconds as a string "900"', { phaseTimeoutSeconds: '900' }, 'phaseTimeoutSeconds'],
  ['phaseTimeoutSeconds null', { phaseTimeoutSeconds: null }, 'phaseTimeoutSeconds'],
  ['maxTotalMinutes as a string "60"', { maxTotalMinutes: '60' }, 'maxTotalMinutes'],
  ['maxTimeoutsPerRun as a string "2"', { maxTimeoutsPerRun: '2' }, 'maxTimeoutsPerRun'],
  ['maxAttemptsPerPhase as a string "2"', { maxAttemptsPerPhase: '2' }, 'maxAttemptsPerPhase'],
  ['maxFingerprintRepeats as a string "3"', { maxFingerprintRepeats: '3' }, 'maxFingerprintRepeats'],
  ['maxConsecutiveZeroYield as a string "5"', { maxConsecutiveZeroYield: '5' }, 'maxConsecutiveZeroYield'],
  ['skipRunsWithQueued as a string "true"', { skipRunsWithQueued: 'true' }, 'skipRunsWithQueued'],
  ['skipRunsWithQueued as 1', { skipRunsWithQueued: 1 }, 'skipRunsWithQueued'],
  ['skipRunsWithQueued null', { skipRunsWithQueued: null }, 'skipRunsWithQueued'],
  ['dryRun as a string "false"', { dryRun: 'false' }, 'dryRun'],
  ['dryRun as 0', { dryRun: 0 }, 'dryRun'],
  ['runId as a number', { runId: 42 }, 'runId'],
  ['runId as an array', { runId: ['r1'] }, 'runId'],
  ['apiUrl as a number', { apiUrl: 8000 }, 'apiUrl'],
  ['mode as a number', { mode: 1 }, 'mode'],
  ['mode null', { mode: null }, 'mode'],
  ['skipRunPrefixes as a string', { skipRunPrefixes: 'research-' }, 'skipRunPrefixes'],
  ['skipRunPrefixes with a number', { skipRunPrefixes: ['ok-', 7] }, 'skipRunPrefixes.1'],
  ['executor as an array', { executor: ['python', 'x.py'] }, 'executor'],
  ['killGraceSeconds as a string', { killGraceSeconds: '10' }, 'killGraceSeconds'],
  ['continueAsNewAfterEvents as a string', { continueAsNewAfterEvents: '3000' }, 'continueAsNewAfterEvents'],
  ['concurrency as a string "4"', { concurrency: '4' }, 'concurrency'],
  ['concurrency 0', { concurrency: 0 }, 'concurrency'],
  ['concurrency 2.5', { concurrency: 2.5 }, 'concurrency'],
  ['concurrency 65 (above 64)', { concurrency: 65 }, 'concurrency'],
  // zero / negative
  ['batchSize 0', { batchSize: 0 }, 'batchSize'],
  ['batchSize -1', { batchSize: -1 }, 'batchSize'],
  ['phaseTimeoutSeconds 0', { phaseTimeoutSeconds: 0 }, 'phaseTimeoutSeconds'],
  ['phaseTimeoutSeconds -900', { phaseTimeoutSeconds: -900 }, 'phaseTimeoutSeconds'],
  ['maxTotalMinutes 0', { maxTotalMinutes: 0 }, 'maxTotalMinutes'],
  ['maxTotalMinutes -5', { maxTotalMinutes: -5 }, 'maxTotalMinutes'],
  ['maxTimeoutsPerRun 0', { maxTimeoutsPerRun: 0 }, 'maxTimeoutsPerRun'],
  ['maxTimeoutsPerRun -2', { maxTimeoutsPerRun: -2 }, 'maxTimeoutsPerRun'],
  ['maxAttemptsPerPhase 0', { maxAttemptsPerPhase: 0 }, 'maxAttemptsPerPhase'],
  ['maxFingerprintRepeats 0', { maxFingerprintRepeats: 0 }, 'maxFingerprintRepeats'],
  ['maxConsecutiveZeroYield 0', { maxConsecutiveZeroYield: 0 }, 'maxConsecutiveZeroYield'],
  ['maxConsecutiveZeroYield -1', { maxConsecutiveZeroYield: -1 }, 'maxConsecutiveZeroYield'],
  ['killGraceSeconds -1', { killGraceSeconds: -1 }, 'killGraceSeconds'],
  ['continueAsNewAfterEvents 0', { continueAsNewAfterEvents: 0 }, 'continueAsNewAfterEvents'],
  [
    'continueAsNewAfterEvents 199 (below the floor)',
    { continueAsNewAfterEvents: 199 },
    'continueAsNewAfterEvents',
  ],
  // non-integers where an integer is required
  ['batchSize 2.5', { batchSize: 2.5 }, 'batchSize'],
  ['maxTimeoutsPerRun 1.5', { maxTimeoutsPerRun: 1.5 }, 'maxTimeoutsPerRun'],
  ['maxAttemptsPerPhase 2.1', { maxAttemptsPerPhase: 2.1 }, 'maxAttemptsPerPhase'],
  ['maxFingerprintRepeats 3.0001', { maxFingerprintRepeats: 3.0001 }, 'maxFingerprintRepeats'],
  ['maxConsecutiveZeroYield 0.5', { maxConsecutiveZeroYield: 0.5 }, 'maxConsecutiveZeroYield'],
  ['continueAsNewAfterEvents 1000.5', { continueAsNewAfterEvents: 1000.5 }, 'continueAsNewAfterEvents'],
  // out of range (huge numbers), and values JSON cannot carry but a caller could
  ['batchSize 1e9', { batchSize: 1e9 }, 'batchSize'],
  ['phaseTimeoutSeconds 1e12', { phaseTimeoutSeconds: 1e12 }, 'phaseTimeoutSeconds'],
  ['maxTotalMinutes 1e12', { maxTotalMinutes: 1e12 }, 'maxTotalMinutes'],
  ['phaseTimeoutSeconds Infinity', { phaseTimeoutSeconds: Infinity }, 'phaseTimeoutSeconds'],
  ['batchSize NaN', { batchSize: NaN }, 'batchSize'],
  ['killGraceSeconds 1e6', { killGraceSeconds: 1e6 }, 'killGraceSeconds'],
  ['continueAsNewAfterEvents 1e6', { continueAsNewAfterEvents: 1e6 }, 'continueAsNewAfterEvents'],
  ['heartbeatTimeoutSeconds 2 (below the floor)', { heartbeatTimeoutSeconds: 2 }, 'heartbeatTimeoutSeconds'],
  ['heartbeatTimeoutSeconds as a string', { heartbeatTimeoutSeconds: '20' }, 'heartbeatTimeoutSeconds'],
  // enum
  ['mode "FAILED" (case matters)', { mode: 'FAILED' }, 'mode'],
  ['mode "all"', { mode: 'all' }, 'mode'],
  ['mode ""', { mode: '' }, 'mode'],
  // empty / blank / huge strings
  ['runId ""', { runId: '' }, 'runId'],
  ['runId "   " (blank)', { runId: '   ' }, 'runId'],
  ['runId of 5000 characters', { runId: huge }, 'runId'],
  ['executor ""', { executor: '' }, 'executor'],
  ['workspace "  "', { workspace: '  ' }, 'workspace'],
  ['baselineCommand of 5000 characters', { baselineCommand: huge }, 'baselineCommand'],
  ['skipRunPrefixes with ""', { skipRunPrefixes: [''] }, 'skipRunPrefixes.0'],
  ['skipRunPrefixes with a blank second entry', { skipRunPrefixes: ['ok-', ' '] }, 'skipRunPrefixes.1'],
  [
    'skipRunPrefixes with 1001 entries',
    { skipRunPrefixes: Array.from({ length: 1001 }, (_, i) => `p${i}`) },
    'skipRunPrefixes',
  ],
  // apiUrl
  ['apiUrl ""', { apiUrl: '' }, 'apiUrl'],
  ['apiUrl with user:password', { apiUrl: 'http://user:secret@127.0.0.1:8000' }, 'apiUrl'],
  ['apiUrl with https user:password', { apiUrl: 'https://admin:hunter2@api.example.com/v1' }, 'apiUrl'],
  ['apiUrl with a user only', { apiUrl: 'http://token@api.example.com' }, 'apiUrl'],
  ['apiUrl with an empty user and a password', { apiUrl: 'http://:pw@host' }, 'apiUrl'],
  ['apiUrl with upper-case scheme and credentials', { apiUrl: 'HTTPS://u:p@host' }, 'apiUrl'],
  ['apiUrl without a scheme', { apiUrl: '127.0.0.1:8000' }, 'apiUrl'],
  ['apiUrl ftp://', { apiUrl: 'ftp://host/x' }, 'apiUrl'],
  ['apiUrl with a space', { apiUrl: 'http://host/a b' }, 'apiUrl'],
  ['apiUrl scheme only', { apiUrl: 'http://' }, 'apiUrl'],
  ['apiUrl of 3000+ characters', { apiUrl: hugeUrl }, 'apiUrl'],
  // unknown fields (including the snake_case spellings of the original flags)
  ['unknown field "batch_size"', { batch_size: 10 }, 'batch_size'],
  ['unknown field "force"', { force: true }, 'force'],
  ['unknown field next to a valid one', { batchSize: 5, bogus: 1 }, 'bogus'],
  ['unknown field "constructor"', { constructor: 1 }, 'constructor'],
  ['unknown field "toString"', { toString: 'x' }, 'toString'],
  [
    'unknown own field "__proto__" (as JSON.parse makes it)',
    JSON.parse('{"__proto__": {"batchSize": 1}}'),
    '__proto__',
  ],
];

for (const [name, raw, field] of bad) {
  test(`parseDrainInput rejects ${name} (field ${field})`, () => {
    assert.throws(
      () => parseDrainInput(raw),
      (err: unknown) => {
        assert.ok(err instanceof InputError, `InputError, got ${String(err)}`);
        assert.equal(err.name, 'InputError');
        assert.equal(err.field, field);
        assert.ok(err.message.includes(`"${field}"`), `message names "${field}": ${err.message}`);
        assert.ok(err.message.length < 2000, 'message does not echo huge inputs back');
        return true;
      },
    );
  });
}

test('a credential-bearing apiUrl is not echoed in the error message', () => {
  assert.throws(
    () => parseDrainInput({ apiUrl: 'http://user:s3cr3t-pw@127.0.0.1:8000' }),
    (err: unknown) =>
      err instanceof InputError && !err.message.includes('s3cr3t-pw') && /credentials/.test(err.message),
  );
});

test('an unknown field error lists the known fields', () => {
  assert.throws(
    () => parseDrainInput({ batchsize: 1 }),
    (err: unknown) =>
      err instanceof InputError &&
      err.message.includes('batchSize') &&
      err.message.includes('maxTotalMinutes'),
  );
});

// ---------------------------------------------------------------------------------------------
// Bad whole inputs: not one JSON object.

const badWhole: Array<[name: string, raw: unknown, got: RegExp]> = [
  ['an array', [], /an array/],
  ['an array of one object', [{ batchSize: 10 }], /an array/],
  ['a string', '{"batchSize": 10}', /string/],
  ['an empty string', '', /string/],
  ['a number', 10, /number/],
  ['zero', 0, /number/],
  ['a boolean', true, /boolean/],
  ['false', false, /boolean/],
];

for (const [name, raw, got] of badWhole) {
  test(`parseDrainInput rejects ${name} as the whole input`, () => {
    assert.throws(
      () => parseDrainInput(raw),
      (err: unknown) => {
        assert.ok(err instanceof InputError);
        assert.equal(err.field, '(input)');
        assert.match(err.message, /one JSON object/);
        assert.match(err.message, got);
        return true;
      },
    );
  });
}

test('parseDrainInput rejects a non-plain object (Date) as the whole input', () => {
  assert.throws(
    () => parseDrainInput(new Date(0)),
    (err: unknown) => err instanceof InputError && err.field === '(input)',
  );
});

// Workflow input is history: a field carrying a secret is refused and named.
const secretInputs: Array<[string, Record<string, unknown>]> = [
  ['executor with --password', { executor: 'tool --run {run_id} --password hunter2' }],
  ['executor with a DSN', { executor: 'tool --dsn postgresql://u:hunter2@db/x {run_id}' }],
  ['baseline with PGPASSWORD', { baselineCommand: 'env PGPASSWORD=hunter2 make baseline' }],
  ['apiUrl with ?token=', { apiUrl: 'http://127.0.0.1:8000/?token=abc123' }],
];
for (const [name, raw] of secretInputs) {
  test(`parseDrainInput refuses a secret in input: ${name}`, () => {
    assert.throws(
      () => parseDrainInput(raw),
      (e: unknown) => e instanceof InputError && e.field === Object.keys(raw)[0] && /secret/.test(e.message),
    );
  });
}
