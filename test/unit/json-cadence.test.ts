import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SESSION_JSON_WRITE_FRACTION, sessionJsonDue } from '../../src/domain/json-cadence.js';

test('sessionJsonDue: every phase while the file is small, then once 1/16 of its results are new', () => {
  const cases: Array<[number, number, boolean]> = [
    [1, 0, true],
    [1, 1, true],
    [1, 31, true],
    [1, 32, false],
    [2, 32, true],
    [99, 1600, false],
    [100, 1600, true],
    [1249, 20_000, false],
    [1250, 20_000, true],
  ];
  for (const [since, results, want] of cases) {
    assert.equal(sessionJsonDue(since, results), want, `${since} new of ${results}`);
  }
});

/** Results written in all by a session of n phases (each write carries every result so far). */
function resultsWritten(n: number): { writes: number; results: number } {
  let since = 0;
  const out = { writes: 0, results: 0 };
  for (let done = 1; done <= n; done++) {
    since += 1;
    if (sessionJsonDue(since, done) || done === n) {
      out.writes += 1;
      out.results += done;
      since = 0;
    }
  }
  return out;
}

test('the bytes a session writes grow linearly with its length: O(1) per phase', () => {
  const perPhase = [500, 5000, 20_000].map((n) => resultsWritten(n).results / n);
  for (const r of perPhase) assert.ok(r <= SESSION_JSON_WRITE_FRACTION + 2, `${r} results written per phase`);
  // A rewrite after every phase would write n/2 results per phase: 10,000 at 20,000 phases.
  assert.ok(perPhase[2] < 1.2 * perPhase[0], perPhase.join(' → '));
  assert.ok(resultsWritten(20_000).writes < 200, `${resultsWritten(20_000).writes} writes`);
});
