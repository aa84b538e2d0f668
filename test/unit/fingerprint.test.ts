import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a32Hex } from '../../src/domain/files.js';
import {
  computeFingerprint,
  fingerprintError,
  returnCodeBucket,
  sliceCodePoints,
  type FingerprintInput,
} from '../../src/domain/fingerprint.js';

const buckets: Array<
  [rc: number | null, timedOut: boolean, signal: string | null | undefined, expected: string]
> = [
  [0, false, null, 'rc0'],
  [1, false, null, 'rc1'],
  [2, false, undefined, 'rc2'],
  [137, false, null, 'rc137'],
  [-9, false, null, 'rc-9'],
  [-1, false, null, 'timeout'], // the original's timeout marker
  [143, false, null, 'timeout143'],
  [null, false, 'SIGTERM', 'timeout143'],
  [null, false, 'sigterm', 'timeout143'],
  [1, false, 'SIGTERM', 'timeout143'],
  [null, true, 'SIGTERM', 'timeout'], // our own timeout wins
  [null, true, 'SIGKILL', 'timeout'],
  [0, true, null, 'timeout'],
  [143, true, null, 'timeout'],
  [null, false, 'SIGKILL', 'sigkill'],
  [null, false, 'SIGSEGV', 'sigsegv'],
  [null, false, 'HUP', 'sighup'],
  [null, false, '', 'rcnone'],
  [null, false, null, 'rcnone'],
  [null, false, undefined, 'rcnone'],
];

for (const [rc, timedOut, signal, expected] of buckets) {
  test(`returnCodeBucket(${rc}, ${timedOut}, ${signal}) = ${expected}`, () => {
    assert.equal(returnCodeBucket(rc, timedOut, signal), expected);
  });
}

const base: FingerprintInput = {
  success: false,
  finalState: 'FAILED',
  returnCode: 1,
  timedOut: false,
  signal: null,
  errorMessage: null,
};

const fingerprints: Array<[name: string, input: Partial<FingerprintInput>, expected: string | null]> = [
  ['success → null', { success: true, finalState: 'COMPLETE', returnCode: 0 }, null],
  ['success with an error message → still null', { success: true, errorMessage: 'x' }, null],
  [
    'reference: FAILED|rc1|importerror',
    { errorMessage: 'ImportError: cannot import module' },
    'FAILED|rc1|importerror: cannot import module',
  ],
  [
    'reference: normalised ImportError example',
    { errorMessage: 'ImportError at line 123: cannot import module from c:\\dev\\Autopack\\file.py:456' },
    'FAILED|rc1|importerror at line num: cannot import module from path/file.py:num',
  ],
  [
    'reference: TIMEOUT|timeout143|phase timed out (state TIMEOUT, SIGTERM exit 143)',
    { finalState: 'TIMEOUT', returnCode: 143, errorMessage: 'phase timed out' },
    'TIMEOUT|timeout143|phase timed out',
  ],
  [
    'our own timeout → TIMEOUT|timeout',
    {
      timedOut: true,
      returnCode: null,
      signal: 'SIGTERM',
      finalState: 'EXECUTING',
      errorMessage: 'phase timed out',
    },
    'TIMEOUT|timeout|phase timed out',
  ],
  ['no error message → STATE|bucket', {}, 'FAILED|rc1'],
  ['blank error message → STATE|bucket', { errorMessage: ' \n ' }, 'FAILED|rc1'],
  [
    'null final state → UNKNOWN',
    { finalState: null, returnCode: null, signal: 'SIGKILL' },
    'UNKNOWN|sigkill',
  ],
  ['blank final state → UNKNOWN', { finalState: '  ', returnCode: null }, 'UNKNOWN|rcnone'],
  ['exit 0 but not complete', { finalState: 'QUEUED', returnCode: 0, errorMessage: 'x' }, 'QUEUED|rc0|x'],
  [
    'token escalation reason',
    { errorMessage: 'TOKEN_ESCALATION at 2025-12-28T06:00:07Z' },
    'FAILED|rc1|token_escalation at date time',
  ],
  [
    'our timeout message: the duration is one token',
    { timedOut: true, returnCode: null, errorMessage: 'phase timed out after 900s' },
    'TIMEOUT|timeout|phase timed out after nums',
  ],
  [
    'python traceback: innermost frame and final exception',
    {
      errorMessage:
        'Traceback (most recent call last):\n  File "/srv/a/main.py", line 3, in <module>\n    run()\n' +
        '  File "/srv/a/db.py", line 41, in connect\n    raise OperationalError(msg)\n' +
        'psycopg2.OperationalError: connection to server at "db" (10.0.0.7), port 5432 failed\n',
    },
    'FAILED|rc1|db.py, in connect: psycopg2.operationalerror: connection to server at "db" (num), port num failed',
  ],
  [
    'pytest summary',
    { errorMessage: '\x1b[31mFAILED\x1b[0m tests/test_x.py::test_e501 - AssertionError: E501 in 3 files' },
    'FAILED|rc1|failed tests/test_x.py::test_e501 - assertionerror: e501 in num files',
  ],
  [
    'exit status and commit kept apart',
    { returnCode: 2, errorMessage: 'git checkout 13cd68cfec97 returned 128' },
    'FAILED|rc2|git checkout <hash> returned 128',
  ],
  ['lone surrogate → U+FFFD', { errorMessage: 'bad \ud800 byte' }, 'FAILED|rc1|bad \ufffd byte'],
];

for (const [name, partial, expected] of fingerprints) {
  test(`computeFingerprint: ${name}`, () => {
    assert.equal(computeFingerprint({ ...base, ...partial }), expected);
  });
}

test('computeFingerprint: the same failure with different details gives one fingerprint', () => {
  const a = computeFingerprint({ ...base, errorMessage: 'KeyError at line 9 in /tmp/run-1/a.py' });
  const b = computeFingerprint({ ...base, errorMessage: 'KeyError at line 77 in /srv/run-2/a.py' });
  assert.equal(a, b);
});

test('computeFingerprint: the same error in another file is another failure', () => {
  const a = computeFingerprint({ ...base, errorMessage: 'KeyError at line 9 in /tmp/run-1/a.py' });
  const b = computeFingerprint({ ...base, errorMessage: 'KeyError at line 9 in /tmp/run-1/b.py' });
  assert.notEqual(a, b);
});

test('computeFingerprint: a normalised error of 200 code points is kept whole', () => {
  const fp = computeFingerprint({ ...base, errorMessage: 'x'.repeat(200) })!;
  assert.equal(fp, 'FAILED|rc1|' + 'x'.repeat(200));
});

test('computeFingerprint: a longer one is cut to 190 code points and the digest of all of it', () => {
  const fp = computeFingerprint({ ...base, errorMessage: 'x'.repeat(1000) })!;
  assert.equal(fp, `FAILED|rc1|${'x'.repeat(190)} #${fnv1a32Hex('x'.repeat(1000))}`);
  assert.equal([...fp.slice('FAILED|rc1|'.length)].length, 200);
  // Two errors that differ only past the cut keep two fingerprints.
  assert.notEqual(fp, computeFingerprint({ ...base, errorMessage: 'x'.repeat(999) + 'y' }));
});

test('computeFingerprint: cut never splits a surrogate pair', () => {
  const fp = computeFingerprint({ ...base, errorMessage: '🚀'.repeat(300) })!;
  const err = fp.split('|')[2];
  assert.equal([...err].length, 200);
  assert.equal(err, `${'🚀'.repeat(190)} #${fnv1a32Hex('🚀'.repeat(300))}`);
});

const errors: Array<[name: string, normalised: string, expected: string]> = [
  ['empty', '', ''],
  ['short', 'boom', 'boom'],
  ['trailing space trimmed', 'boom ', 'boom'],
  ['200 code points', 'a'.repeat(200), 'a'.repeat(200)],
  ['201 code points', 'a'.repeat(201), `${'a'.repeat(190)} #${fnv1a32Hex('a'.repeat(201))}`],
  [
    'space at the cut',
    'a'.repeat(189) + ' ' + 'b'.repeat(50),
    `${'a'.repeat(189)} #${fnv1a32Hex('a'.repeat(189) + ' ' + 'b'.repeat(50))}`,
  ],
];
for (const [name, normalised, expected] of errors) {
  test(`fingerprintError: ${name}`, () => {
    assert.equal(fingerprintError(normalised), expected);
  });
}

test('computeFingerprint: 1 MB error message is fast', () => {
  const t0 = performance.now();
  const fp = computeFingerprint({
    ...base,
    errorMessage: 'ImportError at line 1 /a/b.py:2 '.repeat(1 << 15),
  });
  assert.ok(fp!.startsWith('FAILED|rc1|importerror at line num path/b.py:num'));
  assert.ok(performance.now() - t0 < 3000);
});

const slices: Array<[s: string, n: number, expected: string]> = [
  ['', 5, ''],
  ['abc', 2, 'ab'],
  ['abc', 10, 'abc'],
  ['a🚀b', 2, 'a🚀'],
  ['🚀🚀', 1, '🚀'],
  ['\ud800x', 1, '\ud800'], // lone high surrogate counts as one
];
for (const [s, n, expected] of slices) {
  test(`sliceCodePoints(${JSON.stringify(s)}, ${n})`, () => {
    assert.equal(sliceCodePoints(s, n), expected);
  });
}
