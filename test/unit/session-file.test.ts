/**
 * Session files of every origin (ours, the original controller's v1 and v2) read into our
 * session JSON shape: fixtures → normalised fields, malformed input → clear errors or
 * defaults with notes, and the BATCH DRAIN SUMMARY of each.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  detectFormat,
  MAX_NOTES,
  normalizeSessionFile,
  parseSessionText,
  pythonConstantsToNull,
  type SessionFileFormat,
} from '../../src/domain/session-file.js';
import { formatSummary } from '../../src/domain/report-text.js';

const FIXTURES = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'original-sessions',
);
const rawFixture = (name: string): unknown => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
const load = (name: string) => normalizeSessionFile(rawFixture(name));

const V4 = 'research-system-v4';
const V6 = 'research-system-v6';

// ---------------------------------------------------------------------------------------
// Fixtures

interface FixtureCase {
  file: string;
  format: SessionFileFormat;
  fields: Record<string, unknown>;
  results: number;
  timedOut: number;
  notes: RegExp[];
  summary: string[];
}

const FIXTURE_CASES: FixtureCase[] = [
  {
    file: 'original-v1.json',
    format: 'original-v1',
    fields: {
      session_id: 'batch-drain-20251227-221540',
      status: 'completed',
      batch_size: 5,
      total_processed: 5,
      total_success: 1,
      total_failed: 4,
      // The guide: "Missing fields will be auto-initialized".
      fingerprint_counts: {},
      stopped_fingerprints: [],
      stopped_runs: [],
      total_timeouts: 0,
      total_telemetry_events: 0,
      overall_yield_per_minute: null,
      total_drain_seconds: 0,
      zero_yield_reasons: {},
      llm_boundary_hits: 0,
      config: null,
      db: null,
      interrupted_attempts: [],
    },
    results: 5,
    timedOut: 1,
    notes: [
      /v1 format/,
      /fingerprint_counts → \{\}, stopped_fingerprints → \[\], stopped_runs → \[\], total_timeouts → 0, total_telemetry_events → 0/,
      /total_timeouts is 0 as the guide says, though 1 result\(s\) timed out/,
    ],
    summary: [
      'Session ID: batch-drain-20251227-221540',
      'Completed: 2025-12-27T22:32:47.301822+00:00',
      'Total Processed: 5',
      'Success Rate: 20.0%',
      '  Overall Yield: n/a',
      '  Unique Fingerprints: 0',
      '  fileorg-café-import: 0/1 succeeded, 0 timeouts, 0 events',
      '  research-system-v2: 0/2 succeeded, 1 timeouts, 0 events',
    ],
  },
  {
    file: 'original-v2.json',
    format: 'original-v2',
    fields: {
      session_id: 'batch-drain-20251228-060007',
      status: 'completed',
      total_processed: 10,
      total_success: 3,
      total_failed: 7,
      total_timeouts: 2,
      total_telemetry_events: 27,
      total_telemetry_global_delta: 27,
      stopped_runs: [V4, V6],
      overall_yield_per_minute: 2.45, // the guide's example: over the non-timeout durations
      total_drain_seconds: 2461.23,
      config: null,
    },
    results: 10,
    timedOut: 2,
    notes: [/v2 format/],
    summary: [
      'Total Processed: 10',
      '  [TIMEOUT] Timeouts: 2',
      'Success Rate: 30.0%',
      '  Total Events: 27',
      '  Overall Yield: 2.45 events/minute',
      '  Stopped Runs: 2',
      '  Unique Fingerprints: 5',
      '  Repeat Limit Hits: 2',
      '  build130-schema-validation: 2/3 succeeded, 0 timeouts, 22 events',
      '  research-system-v4 [STOPPED]: 0/4 succeeded, 2 timeouts, 0 events',
      '  research-system-v6 [STOPPED]: 1/3 succeeded, 0 timeouts, 5 events',
    ],
  },
  {
    file: 'autopack-drain.json',
    format: 'autopack-drain',
    fields: {
      session_id: 'batch-drain-20260105-093012',
      total_processed: 4,
      total_timeouts: 1,
      overall_yield_per_minute: 0.82,
      zero_yield_reasons: { failed_before_llm: 1, timeout: 1 },
    },
    results: 4,
    timedOut: 1,
    notes: [],
    summary: [
      '  [INTERRUPTED] Interrupted tries: 1',
      '  Overall Yield: 0.82 events/minute',
      'LLM Boundary Hits: 1',
      '  Stop Reason: no eligible phases left',
      '  research-system-v7: 0/2 succeeded, 1 timeouts, 0 events',
    ],
  },
];

describe('normalizeSessionFile: fixtures', () => {
  for (const c of FIXTURE_CASES) {
    it(`${c.file} → ${c.format}`, () => {
      const n = load(c.file);
      assert.equal(n.format, c.format);
      for (const [k, v] of Object.entries(c.fields)) {
        assert.deepEqual((n.json as unknown as Record<string, unknown>)[k], v, k);
      }
      assert.equal(n.json.results.length, c.results);
      assert.equal(n.json.results.filter((r) => r.timed_out).length, c.timedOut);
      assert.equal(n.notes.length, c.notes.length, n.notes.join('\n'));
      c.notes.forEach((re, i) => assert.match(n.notes[i], re));
      assert.deepEqual(JSON.parse(JSON.stringify(n.json)), n.json, 'plain JSON');
    });

    it(`${c.file}: the BATCH DRAIN SUMMARY`, () => {
      const text = formatSummary(load(c.file).json);
      assert.match(text, /^={80}\nBATCH DRAIN SUMMARY\n={80}\n/);
      for (const line of c.summary) assert.ok(text.split('\n').includes(line), `${line}\nin\n${text}`);
      assert.doesNotMatch(text, /undefined|NaN|null|\[object/);
    });
  }

  it('our own file comes back unchanged', () => {
    assert.deepEqual(load('autopack-drain.json').json, rawFixture('autopack-drain.json'));
  });

  it('original results get our fields, derived the original way, and keep theirs', () => {
    const v1 = load('original-v1.json').json.results;
    const { timestamp, finished_at, ...rest } = v1[3];
    assert.equal(timestamp, '2025-12-27T22:31:04.017655+00:00');
    assert.equal(finished_at, timestamp, 'the original stamped a result after its drain');
    assert.deepEqual(rest, {
      run_id: 'research-system-v2',
      phase_id: 'research-gatherers',
      attempt: 1,
      try: 1,
      status: 'finished',
      initial_state: 'FAILED',
      final_state: 'TIMEOUT',
      success: false,
      error_message: 'Phase drain timed out after 10 minutes',
      last_failure_reason: null,
      timed_out: true,
      signal: null,
      subprocess_returncode: null,
      subprocess_duration_seconds: null,
      subprocess_stdout_path: null,
      subprocess_stderr_path: null,
      subprocess_stdout_excerpt: null,
      subprocess_stderr_excerpt: null,
      stdout_bytes: null,
      stderr_bytes: null,
      failure_fingerprint: null,
      failure_category: null,
      telemetry_events_collected: null,
      telemetry_global_delta: null,
      telemetry_yield_per_minute: null,
      llm_boundary_hit: false,
      zero_yield_reason: null,
      baseline_commit: null,
      worker_identity: null,
      phase_index: 2,
    });
    const v2 = load('original-v2.json').json.results;
    assert.equal(v2[5].subprocess_returncode, -1);
    assert.equal(v2[5].timed_out, true);
    assert.equal(v2[0].telemetry_global_delta, 15);
    assert.equal(v2[0].telemetry_yield_per_minute, 3.75);
    assert.match(String(v2[2].subprocess_stderr_path), /__schema-docs-phase\.stderr\.txt$/);
  });
});

// ---------------------------------------------------------------------------------------
// Not a session file at all

const REJECTED: Array<[string, unknown, RegExp]> = [
  ['null', null, /holds one JSON object, but this one holds null/],
  ['a number', 42, /holds number 42/],
  ['a string', 'batch-drain-1', /holds "batch-drain-1"/],
  ['an array', [{ session_id: 's' }], /holds an array/],
  ['no session_id', { results: [] }, /not a batch drain session file: "session_id" is missing/],
  ['a numeric session_id', { session_id: 7 }, /"session_id" is number 7 \(expected a non-empty string\)/],
  ['a blank session_id', { session_id: '  ' }, /"session_id" is "  "/],
];

describe('normalizeSessionFile: rejects what is not a session file', () => {
  for (const [name, raw, re] of REJECTED) {
    it(name, () => assert.throws(() => normalizeSessionFile(raw), re));
  }
});

// ---------------------------------------------------------------------------------------
// Wrong or missing fields: the default, and a note

interface RepairCase {
  name: string;
  raw: Record<string, unknown>;
  expect: Record<string, unknown>;
  note?: RegExp;
}

/** The original's v1 session fields, all present. */
const ORIGINAL = {
  session_id: 's',
  started_at: 't',
  completed_at: null,
  batch_size: 1,
  total_processed: 1,
  total_success: 0,
  total_failed: 0,
  results: [],
};
const OK_RESULT = { run_id: 'r', phase_id: 'p', success: true };

const REPAIRS: RepairCase[] = [
  {
    name: 'a count that is a string',
    raw: { ...ORIGINAL, total_processed: 'ten' },
    expect: { total_processed: 0 },
    note: /^total_processed: expected a number, got "ten" → 0$/,
  },
  {
    name: 'completed_at that is a number',
    raw: { ...ORIGINAL, completed_at: 5 },
    expect: { completed_at: null, status: 'incomplete' },
    note: /completed_at: expected a string or null, got number 5 → null/,
  },
  {
    name: 'results that is not an array',
    raw: { ...ORIGINAL, results: 'nope' },
    expect: { results: [] },
    note: /^results: expected an array, got "nope" → \[\]$/,
  },
  {
    name: 'a result that is not an object',
    raw: { ...ORIGINAL, results: [1, OK_RESULT] },
    expect: { total_processed: 1 },
    note: /^results\[0\]: expected an object, got number 1 → dropped$/,
  },
  {
    name: 'result fields of the wrong type',
    raw: { ...ORIGINAL, results: [{ run_id: 5, phase_id: 'p', success: 'yes' }] },
    expect: {},
    note: /^results\[0\]\.run_id: expected a string, got number 5 → ""$/,
  },
  {
    name: 'a result without success',
    raw: { ...ORIGINAL, results: [{ run_id: 'r', phase_id: 'p' }] },
    expect: {},
    note: /^missing fields given their defaults: results\[0\]\.success$/,
  },
  {
    name: 'fingerprint counts that are not numbers',
    raw: { ...ORIGINAL, fingerprint_counts: { a: 'x', b: 2 } },
    expect: { fingerprint_counts: { b: 2 } },
    note: /^fingerprint_counts: 1 entry whose value is not a number dropped$/,
  },
  {
    name: 'stopped_runs that is a string',
    raw: { ...ORIGINAL, stopped_runs: 'r1' },
    expect: { stopped_runs: [] },
    note: /^stopped_runs: expected an array, got "r1" → \[\]$/,
  },
  {
    name: 'stopped_runs with a number and a repeat (a Python set, sorted)',
    raw: { ...ORIGINAL, stopped_runs: ['b', 'a', 3, 'a'] },
    expect: { stopped_runs: ['a', 'b'] },
    note: /^stopped_runs: 1 item\(s\) that are not strings dropped$/,
  },
  {
    name: 'one of our files missing a field',
    raw: { session_id: 's', generation: 0, started_at: 't' },
    expect: { completed_at: null, total_processed: 0, config: null },
    note: /^missing fields given their defaults: completed_at, status, batch_size, .* and \d+ more$/,
  },
  {
    name: 'our config that is not an object',
    raw: { session_id: 's', generation: 0, config: 'fast' },
    expect: { config: null },
    note: /^config: expected an object or null, got "fast" → null$/,
  },
  {
    name: 'a db identity without counts',
    raw: { session_id: 's', generation: 0, db: { url: 'postgresql://x' } },
    expect: { db: null },
    note: /^db: expected \{url, runs, phases\} → null$/,
  },
  {
    name: 'malformed skipped entries',
    raw: {
      session_id: 's',
      generation: 0,
      skipped: [{ run_id: 'r', phase_id: 'p', reason: 'x' }, { run_id: 1 }],
    },
    expect: { skipped: [{ run_id: 'r', phase_id: 'p', reason: 'x' }] },
    note: /^skipped: 1 malformed entr\(ies\) dropped$/,
  },
  {
    name: 'the later original fields (triage, zero-yield reasons, LLM boundary)',
    raw: {
      ...ORIGINAL,
      fingerprint_counts: {},
      consecutive_zero_yield: 3,
      sampled_runs: ['r'],
      deprioritized_runs: ['r'],
      results: [
        {
          ...OK_RESULT,
          success: false,
          telemetry_events_collected: 0,
          zero_yield_reason: 'llm_boundary_hit',
          reached_llm_boundary: true,
        },
        {
          ...OK_RESULT,
          subprocess_returncode: 143,
          telemetry_events_collected: 0,
          zero_yield_reason: 'timeout',
        },
      ],
    },
    expect: {
      consecutive_zero_yield: 3,
      sampled_runs: ['r'],
      deprioritized_runs: ['r'],
      llm_boundary_hits: 1,
      zero_yield_reasons: { llm_boundary_hit: 1, timeout: 1 },
      total_timeouts: 0,
    },
  },
];

describe('normalizeSessionFile: a wrong field becomes its default, with a note', () => {
  for (const c of REPAIRS) {
    it(c.name, () => {
      const n = normalizeSessionFile(c.raw);
      const json = n.json as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(json[k], v, k);
      if (c.note)
        assert.ok(
          n.notes.some((x) => c.note!.test(x)),
          `${c.note}\nin\n${n.notes.join('\n')}`,
        );
      assert.doesNotMatch(formatSummary(n.json), /undefined|NaN/);
    });
  }

  it('a phase drained twice gets attempts 1 and 2; a 143 counts as a timeout', () => {
    const n = normalizeSessionFile({
      ...ORIGINAL,
      results: [OK_RESULT, { ...OK_RESULT, subprocess_returncode: 143 }],
    });
    assert.deepEqual(
      n.json.results.map((r) => [r.attempt, r.timed_out]),
      [
        [1, false],
        [2, true],
      ],
    );
  });

  it('unknown fields are kept, after ours, as plain JSON', () => {
    const n = normalizeSessionFile({
      ...ORIGINAL,
      operator: { name: 'x' },
      results: [{ ...OK_RESULT, note: 'hi' }],
    });
    const json = n.json as unknown as Record<string, unknown>;
    assert.deepEqual(json.operator, { name: 'x' });
    assert.equal(Object.keys(json).at(-1), 'operator');
    assert.equal((n.json.results[0] as unknown as Record<string, unknown>).note, 'hi');
  });

  it('keys such as __proto__ stay data', () => {
    const n = normalizeSessionFile(JSON.parse('{"session_id":"s","fingerprint_counts":{"__proto__":2}}'));
    assert.ok(Object.hasOwn(n.json.fingerprint_counts, '__proto__'));
    assert.equal(Object.getPrototypeOf(n.json.fingerprint_counts), Object.prototype);
    assert.equal(Object.keys(n.json.fingerprint_counts).length, 1);
  });

  it('an unfinished original session reads as incomplete', () => {
    const text = formatSummary(normalizeSessionFile({ ...ORIGINAL }).json);
    assert.match(text, /^Completed: In progress \(incomplete\)$/m);
  });

  it(`notes stop at ${MAX_NOTES}`, () => {
    const n = normalizeSessionFile({ ...ORIGINAL, results: Array.from({ length: 30 }, (_, i) => i) });
    assert.equal(n.notes.length, MAX_NOTES);
    assert.match(n.notes.at(-1)!, /^… and \d+ more notes$/);
  });
});

describe('detectFormat', () => {
  const CASES: Array<[string, Record<string, unknown>, SessionFileFormat]> = [
    ['v1 fields only', { session_id: 's', total_processed: 0, results: [] }, 'original-v1'],
    ['a guide v2 field', { session_id: 's', total_timeouts: 0 }, 'original-v2'],
    ['a v2 result field', { session_id: 's', results: [{ subprocess_returncode: 0 }] }, 'original-v2'],
    ['one of our fields', { session_id: 's', fingerprint_counts: {}, generation: 0 }, 'autopack-drain'],
  ];
  for (const [name, raw, format] of CASES) it(name, () => assert.equal(detectFormat(raw), format));
});

// ---------------------------------------------------------------------------------------
// Text

describe('parseSessionText', () => {
  const OK: Array<[string, string, unknown, number]> = [
    ['plain JSON', '{"a":1}', { a: 1 }, 0],
    ['a leading BOM', '\uFEFF{"a":1}', { a: 1 }, 0],
    [
      "Python's NaN/Infinity outside strings",
      '{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN -Infinity", "d": "say \\"NaN\\""}',
      { a: null, b: [null, null], c: 'NaN -Infinity', d: 'say "NaN"' },
      1,
    ],
  ];
  for (const [name, text, value, notes] of OK) {
    it(name, () => {
      const p = parseSessionText(text);
      assert.deepEqual(p.value, value);
      assert.equal(p.notes.length, notes);
    });
  }

  const BAD: Array<[string, string]> = [
    ['truncated', '{"session_id": "s", '],
    ['empty', ''],
    ['a constant inside a word', '{"a": NaNa}'],
  ];
  for (const [name, text] of BAD) {
    it(`${name} → not valid JSON`, () =>
      assert.throws(() => parseSessionText(text), /^Error: not valid JSON: /));
  }

  it('pythonConstantsToNull leaves strings alone', () => {
    assert.equal(pythonConstantsToNull('["NaN", NaN, "a\\\\", Infinity]'), '["NaN", null, "a\\\\", null]');
  });
});
