/**
 * One failure → one fingerprint; two failures → never one. Pairs of error messages, per
 * class of normalisation, that must share a fingerprint (`same`) or must not (`differ`).
 * Every pair is checked in both orders, every message for idempotence and bounded length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeFingerprint,
  FINGERPRINT_ERROR_MAX,
  type FingerprintInput,
} from '../../src/domain/fingerprint.js';
import { normalizeErrorText } from '../../src/domain/normalize.js';

type Pair = [relation: 'same' | 'differ', a: string, b: string, why: string];

const TB = 'Traceback (most recent call last):\n';
const frame = (file: string, line: number, fn: string, src = 'x()'): string =>
  `  File "${file}", line ${line}, in ${fn}\n    ${src}\n`;
/** A traceback with a long common preamble (well over 200 characters) before `last`. */
const deep = (last: string, innerLine = 88, root = '/srv/app'): string =>
  TB +
  frame(`${root}/main.py`, 10, '<module>', 'main()') +
  frame(`${root}/runner.py`, 120, 'run', 'self.step(phase)') +
  frame(`${root}/steps/build_something_long.py`, 55, 'step', 'return parse_config(raw_value)') +
  frame(`${root}/config/parser.py`, innerLine, 'parse_config', 'value = table[key]') +
  last +
  '\n';
const red = (s: string): string => `\x1b[31m${s}\x1b[0m`;
const bold = (s: string): string => `\x1b[1m${s}\x1b[22m`;
const wide = (s: string): string => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));
const script = (s: string, zero: number): string =>
  s.replace(/[0-9]/g, (d) => String.fromCodePoint(zero + Number(d)));
const ARABIC = 0x660;
const DEVANAGARI = 0x966;

const classes: Record<string, Pair[]> = {
  'ANSI escapes': [
    ['same', red('ImportError: cannot import module'), 'ImportError: cannot import module', 'SGR colour'],
    ['same', bold(red('E501')) + ' line too long', 'E501 line too long', 'nested SGR'],
    ['same', '\x1b[38;5;196mKeyError\x1b[0m: x', 'KeyError: x', '256 colours'],
    ['same', '\x1b[38;2;255;0;0mKeyError\x1b[0m: x', 'KeyError: x', 'true colour'],
    ['same', '\x1b[2K\r\x1b[1Aphase failed\x1b[K', 'phase failed', 'erase and cursor moves'],
    ['same', '\x1b]0;drain\x07\x1b]8;;file:///x\x1b\\boom\x1b]8;;\x1b\\', 'boom', 'OSC title and hyperlink'],
    ['same', '\\u001b[31mboom\\u001b[0m', 'boom', 'SGR written out (JSON)'],
    ['same', '\x9b31mboom\x9b0m', 'boom', '8-bit CSI'],
    [
      'same',
      red('FAILED') + ' tests/a.py::t - ' + red('assert 1 == 2'),
      'FAILED tests/a.py::t - assert 1 == 2',
      'coloured pytest summary',
    ],
    ['same', red('E       assert 1 == 2'), 'E       assert 1 == 2', 'coloured pytest E line'],
    ['differ', red('ValueError: x'), 'KeyError: x', 'colour hides no difference'],
    ['differ', red('exit code 1'), 'exit code 2', 'coloured status'],
    ['differ', red('E501') + ' line too long', 'E711 line too long', 'coloured lint code'],
  ],
  'Unicode digits': [
    ['same', 'error at line １２３', 'error at line 456', 'full-width line number'],
    ['same', 'Ｅ５０１ line too long', 'E501 line too long', 'full-width identifier'],
    ['same', `exit code ${script('2', ARABIC)}`, 'exit code 2', 'arabic-indic kept status'],
    ['same', `HTTP ${script('404', DEVANAGARI)}`, 'HTTP 404', 'devanagari kept status'],
    ['same', `failed ${script('3', ARABIC)} times`, 'failed 7 times', 'arabic-indic count'],
    ['same', wide('port 5432 refused'), 'port 5433 refused', 'full-width port'],
    ['same', 'h𝟏𝟏 protocol error', 'h11 protocol error', 'mathematical digits'],
    ['same', wide('at 2025-12-28T06:00:07Z'), 'at 2026-01-01T00:00:00Z', 'full-width timestamp'],
    ['same', `py${script('311', 0xe50)} failed`, 'py311 failed', 'thai digits in an identifier'],
    ['differ', `exit code ${script('2', ARABIC)}`, 'exit code 1', 'arabic-indic value kept'],
    ['differ', `HTTP ${script('404', DEVANAGARI)}`, 'HTTP 500', 'devanagari value kept'],
    ['differ', wide('E501'), 'E711', 'full-width identifier digits kept'],
    ['differ', 'h１１', 'h２', 'full-width module names'],
  ],
  'volatile tokens (hashes, uuids, ids, timestamps, addresses, temp paths, durations, line numbers)': [
    ['same', 'checkout of commit 13cd68c failed', 'checkout of commit a9f00e2 failed', 'short commit'],
    [
      'same',
      'baseline for 13cd68cfec97a1b2c3d4e5f60718293a4b5c6d7e missing',
      'baseline for 0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a missing',
      'full commit',
    ],
    [
      'same',
      `image sha256:${'ab12'.repeat(16)} not found`,
      `image sha256:${'9f0e'.repeat(16)} not found`,
      'digest',
    ],
    [
      'same',
      'job 123e4567-e89b-12d3-a456-426614174000 lost',
      'job 9B2D6F10-AAAA-4BBB-8CCC-0123456789AB lost',
      'uuids, any case',
    ],
    [
      'same',
      'API error (request_id=req_011CSHoEeqs5C35K2UUqR7Fy)',
      'API error (request_id=req_8f7a6b5c4d3e2f1a)',
      'request ids',
    ],
    [
      'same',
      'upstream 502, x-request-id: 7f3a9b21-22',
      'upstream 502, x-request-id: 0c1d2e3f-98',
      'header request id',
    ],
    [
      'same',
      'span failed trace_id=4bf92f3577b34da6a3ce929d0e0e4736',
      'span failed trace_id=00f067aa0ba902b7',
      'trace ids',
    ],
    [
      'same',
      '2025-12-28 06:00:07,123 ERROR lost lease',
      '2026-02-01 23:59:59,999 ERROR lost lease',
      'log timestamps',
    ],
    [
      'same',
      'started 20251228T060007Z then died',
      'started 20260101T101010Z then died',
      'compact timestamps',
    ],
    [
      'same',
      'segfault at 0x7ffd1234 in <function f at 0x7f3a2b1c4d50>',
      'segfault at 0x1 in <function f at 0xdead>',
      'addresses',
    ],
    [
      'same',
      'PermissionError: /tmp/pytest-of-root/pytest-3/test_a0/out.json',
      'PermissionError: /tmp/pytest-of-ci/pytest-17/test_a1/out.json',
      'pytest temp dirs',
    ],
    ['same', 'FileNotFoundError: tmpk2j3h4l5.json', 'FileNotFoundError: tmp_9zq81mx.json', 'tempfile names'],
    [
      'same',
      'cannot write C:\\Users\\bob\\AppData\\Local\\Temp\\tmpab12cd34\\x.db',
      'cannot write C:\\Users\\ann\\AppData\\Local\\Temp\\tmpzz99yy88\\x.db',
      'windows temp',
    ],
    [
      'same',
      'in pytest-of-root/pytest-3/test_a0/x.py',
      'in pytest-of-bob/pytest-9/test_a2/x.py',
      'relative pytest temp',
    ],
    ['same', 'phase timed out after 900s', 'phase timed out after 600s', 'seconds'],
    ['same', 'request took 950ms', 'request took 1.2s', 'units'],
    ['same', '1 failed, 2 passed in 0.52s', '1 failed, 2 passed in 1m30s', 'pytest duration'],
    ['same', 'gave up after 30 seconds', 'gave up after 2 min', 'spelled-out units'],
    ['same', 'KeyError at line 9 in /srv/a.py', 'KeyError at line 77 in /srv/b.py', 'line numbers'],
    ['same', 'E501 at src/x.py:12:80', 'E501 at src/x.py:13:81', 'file:line:col'],
    ['differ', 'checkout of commit 13cd68c failed', 'checkout of tag v1 failed', 'hash vs word'],
    ['differ', 'request_id=req_abc12345678 failed', 'trace_id=req_abc12345678 failed', 'the key stays'],
    ['differ', 'PermissionError: /tmp/x', 'FileNotFoundError: /tmp/x', 'same temp path, other error'],
    ['differ', 'phase timed out after 900s', 'phase timed out after 900 files', 'duration vs count'],
    ['differ', 'abc123 failed', 'abc124 failed', 'six hex digits are an identifier'],
  ],
  'digits inside identifiers': [
    ['differ', 'E501 line too long', 'E711 comparison to None', 'lint codes with their text'],
    ['differ', 'ruff: E501', 'ruff: E711', 'lint codes alone'],
    ['differ', 'h11._util.LocalProtocolError: bad', 'h2.exceptions.ProtocolError: bad', 'h11 vs h2'],
    ['differ', 'ModuleNotFoundError: psycopg2', 'ModuleNotFoundError: psycopg3', 'psycopg2 vs psycopg3'],
    ['differ', 'sqlite3.OperationalError: locked', 'sqlite2.OperationalError: locked', 'sqlite3 vs sqlite2'],
    ['differ', 'tox env py311 failed', 'tox env py312 failed', 'py311 vs py312'],
    ['differ', 'sha256 mismatch', 'sha512 mismatch', 'sha256 vs sha512'],
    [
      'differ',
      'no wheel for cp311-manylinux_x86_64',
      'no wheel for cp311-manylinux_aarch64',
      'platform tags',
    ],
    ['differ', "'utf-8' codec can't decode", "'utf-16' codec can't decode", 'encodings'],
    ['differ', 'test_case_1 failed', 'test_case_2 failed', 'underscore identifiers'],
    ['same', 'E501 at line 12', 'E501 at line 99', 'the code stays, the line goes'],
    ['same', 'py311: 3 failed', 'py311: 5 failed', 'the env stays, the count goes'],
    ['same', 'h11 error after 2.5s', 'h11 error after 0.5s', 'the module stays, the duration goes'],
    ['same', 'psycopg2.OperationalError: port 5432', 'psycopg2.OperationalError: port 5433', 'port'],
    ['same', 'python 3.11.4 crashed', 'python 3.12.1 crashed', 'free-standing versions'],
  ],
  'exit and HTTP statuses': [
    ['differ', 'exit code 1', 'exit code 2', 'exit code'],
    ['differ', 'exit status 1', 'exit status 2', 'exit status'],
    ['differ', 'sh: exit 1', 'sh: exit 2', 'exit N'],
    [
      'differ',
      "Command '['make']' returned non-zero exit status 1.",
      "Command '['make']' returned non-zero exit status 2.",
      'CalledProcessError',
    ],
    ['differ', 'git returned 1', 'git returned 128', 'returned N'],
    ['differ', 'HTTP 404', 'HTTP 500', 'HTTP N'],
    ['differ', 'HTTP/1.1 503 Service Unavailable', 'HTTP/1.1 502 Service Unavailable', 'status line'],
    ['differ', 'HTTP Error 403: Forbidden', 'HTTP Error 401: Forbidden', 'urllib'],
    ['differ', 'upstream status 502', 'upstream status 504', 'status N'],
    ['differ', 'status_code=429', 'status_code=500', 'status_code='],
    ['differ', '{"status_code": 429}', '{"status_code": 503}', 'JSON status'],
    ['differ', 'Error code: 429 - rate limited', 'Error code: 529 - rate limited', 'error code'],
    ['differ', 'killed by signal 9', 'killed by signal 15', 'signal'],
    ['differ', 'executor exited with return code 1', 'executor exited with return code 2', 'our own message'],
    ['differ', '[Errno 13] denied', '[Errno 2] denied', 'errno'],
    ['same', 'exit code 1 at 06:00:07', 'exit code 1 at 07:11:12', 'time goes, status stays'],
    ['same', 'HTTP 503 after 1.2s', 'HTTP 503 after 950ms', 'duration goes, status stays'],
    [
      'same',
      'status 502 (request id: req_abc12345678)',
      'status 502 (request id: req_zyx98765432)',
      'id goes, status stays',
    ],
    ['same', 'error: 2 tests failed', 'error: 3 tests failed', 'counts are no statuses'],
  ],
  'Python tracebacks and pytest': [
    [
      'differ',
      deep('ValueError: bad value'),
      deep('KeyError: bad value'),
      'exception type after a long preamble',
    ],
    ['differ', deep("KeyError: 'name'"), deep("KeyError: 'email'"), 'final message'],
    [
      'differ',
      TB + frame('/a/x.py', 3, 'parse') + 'ValueError: bad',
      TB + frame('/a/x.py', 3, 'load') + 'ValueError: bad',
      'innermost function',
    ],
    [
      'differ',
      TB + frame('/a/x.py', 3, 'f') + 'ValueError: bad',
      TB + frame('/a/y.py', 3, 'f') + 'ValueError: bad',
      'innermost file',
    ],
    [
      'differ',
      TB +
        frame('a.py', 1, 'f') +
        "KeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\n" +
        TB +
        frame('b.py', 2, 'g') +
        'RuntimeError: one',
      TB +
        frame('a.py', 1, 'f') +
        "KeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\n" +
        TB +
        frame('b.py', 2, 'g') +
        'TypeError: one',
      'last exception of a chain',
    ],
    [
      'differ',
      '____ test_a ____\nE       assert 1 == 2\n\ntests/t.py:3: AssertionError',
      '____ test_a ____\nE       KeyError: 1\n\ntests/t.py:3: KeyError',
      'pytest E lines',
    ],
    [
      'differ',
      'FAILED tests/t.py::test_a - assert 1 == 2',
      'FAILED tests/t.py::test_b - assert 1 == 2',
      'pytest test id',
    ],
    [
      'differ',
      'FAILED tests/t.py::test_a - ValueError: x',
      'FAILED tests/t.py::test_a - KeyError: x',
      'pytest summary error',
    ],
    [
      'differ',
      "ERROR tests/t.py - ModuleNotFoundError: No module named 'a'",
      "ERROR tests/t.py - ModuleNotFoundError: No module named 'b'",
      'collection errors',
    ],
    ['same', deep('ValueError: bad value', 88), deep('ValueError: bad value', 91), 'line numbers'],
    [
      'same',
      deep('ValueError: bad value', 88, '/home/alice/app'),
      deep('ValueError: bad value', 88, '/home/bob/src'),
      'checkout location',
    ],
    [
      'same',
      TB + frame('/a/main.py', 1, '<module>') + frame('/a/x.py', 3, 'parse') + 'ValueError: bad',
      TB + frame('/a/cli.py', 7, 'cli') + frame('/a/x.py', 3, 'parse') + 'ValueError: bad',
      'outer frames',
    ],
    [
      'same',
      '2025-12-28 06:00:07 phase 1 failed\n' + deep('ValueError: bad value'),
      '2026-01-02 10:00:00 phase 7 failed (retry)\n' + deep('ValueError: bad value'),
      'text before the traceback',
    ],
    ['same', red(deep('ValueError: bad value')), deep('ValueError: bad value'), 'coloured traceback'],
    [
      'same',
      '____ test_a ____\nE       assert 3 == 2\nE        +  where 3 = f(1)\n\n/tmp/pytest-of-root/pytest-3/t.py:12: AssertionError',
      '____ test_a ____\nE       assert 4 == 2\nE        +  where 4 = f(2)\n\n/tmp/pytest-of-ci/pytest-9/t.py:15: AssertionError',
      'pytest E lines, values and temp dirs',
    ],
    [
      'same',
      'FAILED tests/t.py::test_a - assert 1 == 2\n=== 1 failed in 0.52s ===',
      '... 80 lines of output ...\nFAILED tests/t.py::test_a - assert 1 == 2\n=== 1 failed, 3 passed in 3.10s ===',
      'pytest summary, whatever else',
    ],
    [
      'same',
      TB +
        frame('a.py', 1, 'f') +
        "KeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\n" +
        TB +
        frame('b.py', 2, 'g') +
        'RuntimeError: boom',
      TB +
        frame('c.py', 5, 'h') +
        'IndexError: 3\n\nDuring handling of the above exception, another exception occurred:\n\n' +
        TB +
        frame('b.py', 2, 'g') +
        'RuntimeError: boom',
      'only the last exception of a chain counts',
    ],
  ],
};

const base: FingerprintInput = {
  success: false,
  finalState: 'FAILED',
  returnCode: 1,
  timedOut: false,
  signal: null,
  errorMessage: null,
};
const fp = (errorMessage: string): string | null => computeFingerprint({ ...base, errorMessage });

for (const [name, pairs] of Object.entries(classes)) {
  test(`pairs: ${name} has at least 8 pairs, both relations`, () => {
    assert.ok(pairs.length >= 8, `${pairs.length} pairs`);
    assert.ok(pairs.some((p) => p[0] === 'same') && pairs.some((p) => p[0] === 'differ'));
  });
  for (const [relation, a, b, why] of pairs) {
    test(`pairs: ${name}: ${relation}: ${why}`, () => {
      const [fa, fb] = [fp(a), fp(b)];
      assert.ok(fa?.startsWith('FAILED|rc1|') && fb?.startsWith('FAILED|rc1|'), `${fa} / ${fb}`);
      if (relation === 'same') {
        assert.equal(fa, fb);
        assert.equal(fp(b), fp(a));
      } else {
        assert.notEqual(fa, fb);
        assert.notEqual(fp(b), fp(a));
      }
    });
  }
}

const allMessages = Object.values(classes).flatMap((pairs) => pairs.flatMap(([, a, b]) => [a, b]));

test('pairs: every message normalises idempotently', () => {
  for (const m of allMessages) {
    const once = normalizeErrorText(m);
    assert.equal(normalizeErrorText(once), once, JSON.stringify(m));
  }
});

test('pairs: a fingerprint of a normalised message is the fingerprint of the message', () => {
  for (const m of allMessages) {
    assert.equal(fp(normalizeErrorText(m)), fp(m), JSON.stringify(m));
  }
});

const MB = 1 << 20;
const hostile: Array<[name: string, input: string]> = [
  ['lone high surrogates', '\ud800'.repeat(MB)],
  ['lone low surrogates', 'x\udc00'.repeat(MB / 2)],
  ['reversed surrogate pairs', '\udc00\ud800'.repeat(MB / 2)],
  ['replacement characters', '\ufffd'.repeat(MB)],
  ['binary-ish bytes', Array.from({ length: MB }, (_, i) => String.fromCharCode(i % 256)).join('')],
  ['NUL bytes', '\x00'.repeat(MB)],
  ['a huge traceback', TB + frame('/a/x.py', 1, 'f').repeat(MB / 40) + 'ValueError: ' + 'v'.repeat(MB)],
  ['huge pytest output', ('E       assert 1 == 2\n' + 'x'.repeat(100) + '\n').repeat(MB / 124)],
  ['combining marks', 'e\u0301'.repeat(MB / 2)],
  ['emoji', '🚀'.repeat(MB / 2)],
  ['every status key', 'exit code status_code HTTP/1.1 signal errno rc '.repeat(MB / 48)],
];

for (const [name, input] of hostile) {
  test(`pairs: ${name} never throws and gives a bounded fingerprint`, () => {
    const t0 = performance.now();
    const f = fp(input);
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(typeof f, 'string');
    const [state, bucket, ...rest] = f!.split('|');
    assert.equal(`${state}|${bucket}`, 'FAILED|rc1');
    const err = rest.join('|');
    assert.ok([...err].length <= FINGERPRINT_ERROR_MAX, `${[...err].length} code points`);
    assert.ok(
      !/[\ud800-\udfff]/.test(f!.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')),
      'no lone surrogate',
    );
    assert.equal(normalizeErrorText(normalizeErrorText(input)), normalizeErrorText(input));
  });
}

test('pairs: every fingerprint is STATE|bucket|at most 200 code points', () => {
  for (const m of [...allMessages, 'x'.repeat(5000), '🚀 '.repeat(5000)]) {
    const f = fp(m)!;
    assert.match(f, /^FAILED\|rc1(\|.+)?$/s);
    assert.ok([...f.slice('FAILED|rc1|'.length)].length <= FINGERPRINT_ERROR_MAX, f);
  }
});
