import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lostReasonOf } from '../../activities/drain-try.js';
import { changedSince } from '../../activities/drain-recovery.js';

const req = { runId: 'r', phaseId: 'p', pickedState: 'FAILED' };

// [name, tryNo, check, expected reason pattern or null]
const lostCases: Array<
  [string, number, { leased: boolean; holder: string | null; state: string | null }, RegExp | null]
> = [
  ['held, unchanged', 1, { leased: true, holder: 's', state: 'FAILED' }, null],
  [
    'held by another session',
    1,
    { leased: false, holder: 'other', state: 'FAILED' },
    /lease lost: run r is being drained by session other/,
  ],
  ['phase completed meanwhile', 1, { leased: true, holder: 's', state: 'COMPLETE' }, /FAILED → COMPLETE/],
  ['phase vanished', 1, { leased: true, holder: 's', state: null }, /no longer exists/],
  [
    'a retry finds the executor state (not a change of hands)',
    2,
    { leased: true, holder: 's', state: 'EXECUTING' },
    null,
  ],
  [
    'a retry whose lease went to another session',
    3,
    { leased: false, holder: 'x', state: 'EXECUTING' },
    /lease lost/,
  ],
];
for (const [name, tryNo, check, want] of lostCases) {
  test(`lostReasonOf: ${name}`, () => {
    const got = lostReasonOf(req, tryNo, check);
    if (want === null) assert.equal(got, null);
    else assert.match(String(got), want);
  });
}

const t0 = '2026-01-01T00:00:00.000Z';
// One clock: compare the database's updated_at for change, never against a worker's time.
const changeCases: Array<[string, Date | null, string | null, boolean]> = [
  ['unchanged', new Date(t0), t0, false],
  ['changed a millisecond later', new Date(Date.parse(t0) + 1), t0, true],
  ['changed to an EARLIER time (clock skew)', new Date(Date.parse(t0) - 60_000), t0, true],
  ['had none, still none', null, null, false],
  ['had none, now has one', new Date(t0), null, true],
];
for (const [name, now, then, changed] of changeCases) {
  test(`changedSince: ${name}`, () => {
    assert.equal(changedSince({ updated_at: now }, then), changed);
  });
}
