import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSessionId } from '../../src/domain/session-id.js';

const cases: Array<[iso: string, expected: string]> = [
  ['2025-12-28T06:00:07Z', 'batch-drain-20251228-060007'], // reference guide session id
  ['2025-12-28T06:00:07+02:00', 'batch-drain-20251228-040007'], // UTC, not local
  ['2025-12-31T23:59:59.999Z', 'batch-drain-20251231-235959'],
  ['2026-01-01T00:00:00Z', 'batch-drain-20260101-000000'],
  ['2024-02-29T12:34:56Z', 'batch-drain-20240229-123456'],
  ['0999-01-02T03:04:05Z', 'batch-drain-09990102-030405'],
];

for (const [iso, expected] of cases) {
  test(`defaultSessionId(${iso}) = ${expected}`, () => {
    assert.equal(defaultSessionId(new Date(iso)), expected);
  });
}

test('defaultSessionId matches the workflow id shape', () => {
  assert.match(defaultSessionId(new Date(0)), /^batch-drain-\d{8}-\d{6}$/);
});

test('defaultSessionId rejects an invalid date', () => {
  assert.throws(() => defaultSessionId(new Date('nope')), /invalid date/);
});
