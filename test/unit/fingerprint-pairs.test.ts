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
/** A message whose normalised text is well past the 200 code points a fingerprint keeps. */
const LONG =
  'executor log: builder output could not be applied to the workspace because the patch context did not ' +
  'match the file on disk; the builder was asked again and produced the same patch; the phase gives up: ';
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
    ['same', 'KeyError at line 9 in /srv/a.py', 'KeyError at line 77 in /opt/x/a.py', 'line numbers'],
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
  // ---- fingerprint v2 (issue 18 item 4): one failure → one fingerprint
  '12-hour clocks': [
    ['same', 'retry scheduled for 3:05 PM', 'retry scheduled for 11:40 AM', 'h:mm AM/PM'],
    ['same', 'lease lost at 01:44:43 p.m.', 'lease lost at 12:00:09 a.m.', 'a.m./p.m. with seconds'],
    ['same', 'cron fired at 7am and failed', 'cron fired at 11 PM and failed', 'the hour alone'],
    ['same', 'backup aborted 9:15:02.250 PM EST', 'backup aborted 4:59:59.001 AM PST', 'fraction and zone'],
    ['same', '[10:03:11 PM] ERROR disk full', '[6:30:00 AM] ERROR disk full', 'log prefix'],
    ['same', 'next window 2026-03-04 9:00 PM', 'next window 2027-11-21 10:30 AM', 'after a date'],
    ['differ', 'rate limit hit at 4:15 PM', 'quota exceeded at 4:15 PM', 'the words stay'],
    ['differ', 'exit status 3 at 10:00 PM', 'exit status 4 at 10:00 PM', 'the status stays'],
    ['differ', '9:00 AM: E501 line too long', '9:00 AM: E711 comparison to None', 'the lint code stays'],
  ],
  'month and weekday names': [
    [
      'same',
      'backup failed on Wed Mar  4 09:12:55 CET 2026',
      'backup failed on Sat Nov 21 23:01:07 CET 2027',
      'date(1), C locale',
    ],
    [
      'same',
      'Sun 15 Feb 2026 08:00:01 AM UTC: mirror sync failed',
      'Thu 02 Jul 2026 06:45:10 PM UTC: mirror sync failed',
      'date(1), en_US',
    ],
    [
      'same',
      'Last-Modified: Tue, 03 Feb 2026 10:20:30 GMT mismatch',
      'Last-Modified: Fri, 30 Oct 2026 01:02:03 GMT mismatch',
      'HTTP and mail dates',
    ],
    ['same', 'Feb  3 10:20:30 web1 kernel: oom-kill', 'Oct 30 01:02:03 web1 kernel: oom-kill', 'syslog'],
    [
      'same',
      '127.0.0.1 - - [03/Feb/2026:10:20:30 +0100] "POST /api" 502',
      '127.0.0.1 - - [30/Oct/2026:01:02:03 +0100] "POST /api" 502',
      'access log',
    ],
    [
      'same',
      'certificate expired on January 5th, 2026',
      'certificate expired on September 30, 2027',
      'long month names, ordinals',
    ],
    ['same', 'token valid until 14 March 2026', 'token valid until 1 Aug 2027', 'day first'],
    ['same', 'Mon Jan  5 2026: nightly red', 'Friday, June 12 2026: nightly red', 'weekday, no time'],
    ['differ', 'connection reset on Mar 4, 2026', 'connection refused on Mar 4, 2026', 'the words stay'],
    ['differ', 'Mar 4, 2026: return code 3', 'Mar 4, 2026: return code 5', 'the status stays'],
    ['differ', 'this may 2 break: E501', 'this may 2 break: E711', 'may is a word'],
  ],
  'CJK dates and times': [
    [
      'same',
      '2026年3月4日 09時12分55秒 にビルドが失敗しました',
      '2027年11月21日 23時01分07秒 にビルドが失敗しました',
      'Japanese date and time',
    ],
    [
      'same',
      '2026年 3月  4日 水曜日 09:12:55 JST: 同期失敗',
      '2026年 11月 21日 土曜日 23:01:07 JST: 同期失敗',
      'date(1), ja_JP',
    ],
    [
      'same',
      '2026年03月04日 星期三 09:12:55 CST 构建失败',
      '2026年11月21日 星期六 23:01:07 CST 构建失败',
      'date(1), zh_CN',
    ],
    [
      'same',
      '2026년 3월 4일 수요일 오전 9시 12분 55초 빌드 실패',
      '2026년 11월 21일 토요일 오후 11시 1분 7초 빌드 실패',
      'Korean',
    ],
    [
      'same',
      '2026. 3. 4. (수) 09:12:55 KST 동기화 실패',
      '2026. 11. 21. (토) 23:01:07 KST 동기화 실패',
      'date(1), ko_KR',
    ],
    ['same', '3月4日 周三 下午9:12 任务失败', '11月21日 周六 上午10:05 任务失败', 'no year, 上午/下午'],
    ['same', '令和8年3月4日にエラー', '令和9年11月21日にエラー', 'era years'],
    ['same', '２０２６年３月４日 失敗', '2027年11月21日 失敗', 'full-width digits'],
    ['differ', '2026年3月4日 ビルド失敗: E501', '2026年3月4日 ビルド失敗: E711', 'the lint code stays'],
    ['differ', '3月4日 ビルド失敗', '3月4日 テスト失敗', 'the words stay'],
  ],
  'dates and times inside names': [
    [
      'same',
      'cannot write snapshot_20260304_091255.tar',
      'cannot write snapshot_20271121_230107.tar',
      'YYYYMMDD_HHMMSS',
    ],
    [
      'same',
      'lock held by export-20260304T0912 expired',
      'lock held by export-20271121T2301 expired',
      'compact date, T, HHMM',
    ],
    ['same', 'dump 20260304091255.sql is corrupt', 'dump 20271121230107.sql is corrupt', 'fourteen digits'],
    [
      'same',
      'missing build_2026-03-04_09-12-55.tgz',
      'missing build_2027-11-21_23-01-07.tgz',
      'dashed date and time',
    ],
    [
      'same',
      'upload of backup-2026.03.04.zip failed',
      'upload of backup-2027.11.21.zip failed',
      'dotted date',
    ],
    [
      'same',
      'relation events_2026_03_04 does not exist',
      'relation events_2027_11_21 does not exist',
      'underscored date',
    ],
    ['same', 'job_1772615575 was killed', 'job_1795302067 was killed', 'unix time'],
    [
      'same',
      'artifact nightly-20260304.whl not found',
      'artifact nightly-20271121.whl not found',
      'date only',
    ],
    [
      'same',
      'see /root/.npm/_logs/2026-03-04T09_12_55_123Z-debug-0.log',
      'see /root/.npm/_logs/2027-11-21T23_01_07_999Z-debug-0.log',
      'npm log names',
    ],
    [
      'differ',
      'relation events_2026_03_04 does not exist',
      'relation audit_2026_03_04 does not exist',
      'the name stays',
    ],
    ['differ', 'snapshot_20260304.tar missing', 'snapshot_20260304.zip missing', 'the extension stays'],
    ['differ', 'job_1772615575 was killed', 'job_1772615575 was evicted', 'the words stay'],
  ],
  'per-run noise of test runners': [
    [
      'same',
      '[gw5] node down: Not properly terminated',
      '[gw11] node down: Not properly terminated',
      'xdist worker ids',
    ],
    [
      'same',
      "worker 'gw2' crashed while running 'tests/test_db.py::test_migrate'",
      "worker 'gw7' crashed while running 'tests/test_db.py::test_migrate'",
      'crashed worker',
    ],
    ['same', 'tests/test_api.py ...F..s.x [ 12%]', 'tests/test_api.py .F...... [100%]', 'progress line'],
    [
      'same',
      '[gw1] [ 37%] FAILED tests/test_io.py::test_read',
      '[gw4] [ 82%] FAILED tests/test_io.py::test_read',
      'xdist verbose line',
    ],
    [
      'same',
      'FAILED tests/a.py::t1 - x\nERROR tests/c.py - y\nFAILED tests/b.py::t2 - y',
      'ERROR tests/c.py - y\nFAILED tests/b.py::t2 - y\nFAILED tests/a.py::t1 - x',
      'summary lines in another order',
    ],
    [
      'same',
      ' 42%|████▏     | 42/100 [00:21<00:29,  1.98it/s]\nRuntimeError: CUDA out of memory',
      ' 97%|█████████▋| 97/100 [00:49<00:01,  1.97it/s]\nRuntimeError: CUDA out of memory',
      'tqdm progress bar',
    ],
    [
      'same',
      'Using --randomly-seed=3582617\nFAILED tests/t.py::test_x - assert 0',
      'Using --randomly-seed=99\nFAILED tests/t.py::test_x - assert 0',
      'random seed',
    ],
    ['differ', '[gw5] node down: Not properly terminated', '[gw5] node down: Timeout', 'the reason stays'],
    [
      'differ',
      'FAILED tests/a.py::t1 - x\nFAILED tests/b.py::t2 - y',
      'FAILED tests/a.py::t1 - x\nFAILED tests/c.py::t3 - y',
      'the failed tests stay',
    ],
    ['differ', 'tests/test_api.py ..F [ 50%]', 'tests/test_cli.py ..F [ 50%]', 'the test file stays'],
  ],
  'phase and run ids quoted in a message': [
    [
      'same',
      "Phase 'db-migrations' exceeded max attempts",
      "Phase 'frontend-build' exceeded max attempts",
      'phase name',
    ],
    [
      'same',
      'phase_id=p12 failed: builder returned invalid JSON',
      'phase_id=setup-env failed: builder returned invalid JSON',
      'phase_id=',
    ],
    [
      'same',
      '{"run_id": "fileorg-2026-q1", "phase_id": "p3", "error": "patch rejected"}',
      '{"run_id": "autopack-demo", "phase_id": "p9", "error": "patch rejected"}',
      'JSON fields',
    ],
    [
      'same',
      'no deliverables for phase "tests" of run \'research-x\'',
      'no deliverables for phase "docs" of run \'shop-api\'',
      'phase and run',
    ],
    [
      'same',
      "run 'nightly-shop' phase 'lint' failed: E501",
      "run 'weekly-crm' phase 'types' failed: E501",
      'run … phase …',
    ],
    [
      'same',
      'session "nightly-apr" refused: lease held',
      'session "adhoc-ops" refused: lease held',
      'session',
    ],
    ['same', "run_id='fileorg' phase='p2' FAILED", "run_id='crm' phase='p7' FAILED", 'key=value'],
    ['differ', "Phase 'db' exceeded max attempts", "Phase 'db' exceeded token budget", 'the failure stays'],
    ['differ', "failed to run 'npm ci'", "failed to run 'pip install -e .'", 'a quoted command is no id'],
    ['differ', "failed to run 'make'", "failed to run 'cmake'", 'a one-word command is no id'],
    ['differ', 'phase_id=p3 failed: ImportError', 'phase_id=p3 failed: KeyError', 'the error stays'],
  ],
  'Windows paths with spaces': [
    [
      'same',
      "can't open file 'C:\\Users\\Ana Lima\\proj\\manage.py'",
      "can't open file 'C:\\Users\\Bo Chen Wu\\src\\manage.py'",
      'user names with spaces',
    ],
    [
      'same',
      'D:\\Build Agents\\agent 2\\_work\\1\\s\\setup.py failed',
      'D:\\Build Agents\\agent 7\\_work\\33\\s\\setup.py failed',
      'CI agent directories',
    ],
    [
      'same',
      'cl.exe not found in C:\\Program Files (x86)\\Microsoft Visual Studio\\2022\\BuildTools\\VC\\bin',
      'cl.exe not found in C:\\Program Files\\Microsoft Visual Studio\\2019\\Community\\VC\\bin',
      'parentheses in a directory',
    ],
    [
      'same',
      'E:\\My Documents\\repo\\x.ps1 : access denied',
      'C:\\Shared Drives\\team repo\\x.ps1 : access denied',
      'several spaced directories',
    ],
    [
      'same',
      '"C:\\Program Files\\nodejs\\node.exe" exited with code 1',
      '"C:\\Program Files (x86)\\nodejs\\node.exe" exited with code 1',
      'quoted',
    ],
    [
      'same',
      'C:\\Users\\Ana Lima\\AppData\\Local\\Temp\\tmpk2j3h4l5\\cache.db is locked',
      'C:\\Users\\Bo Chen\\AppData\\Local\\Temp\\tmp_9zq81mx\\cache.db is locked',
      'temp directory',
    ],
    [
      'differ',
      "can't open file 'C:\\Users\\Ana Lima\\proj\\manage.py'",
      "can't open file 'C:\\Users\\Ana Lima\\proj\\wsgi.py'",
      'the file stays',
    ],
    [
      'differ',
      'D:\\Build Agents\\a\\x.py failed to compile',
      'D:\\Build Agents\\a\\x.py failed to link',
      'the words after it stay',
    ],
    [
      'differ',
      'C:\\My Stuff\\a.txt (permission denied)',
      'C:\\My Stuff\\a.txt (file locked)',
      'a parenthesis after it stays',
    ],
  ],
  // ---- fingerprint v2 (issue 18 item 4): two failures → two fingerprints
  'the file at the end of a path': [
    [
      'differ',
      'E302 expected 2 blank lines at /srv/ci/repo/src/models.py:14:1',
      'E302 expected 2 blank lines at /srv/ci/repo/src/views.py:14:1',
      'lint error in another file',
    ],
    [
      'differ',
      "FileNotFoundError: [Errno 2] No such file or directory: '/etc/app/config.yaml'",
      "FileNotFoundError: [Errno 2] No such file or directory: '/etc/app/secrets.yaml'",
      'missing file',
    ],
    [
      'differ',
      'permission denied: C:\\repo\\build\\out.dll',
      'permission denied: C:\\repo\\build\\out.pdb',
      'windows',
    ],
    [
      'differ',
      'cannot import name x from ./lib/util.js',
      'cannot import name x from ./lib/util.ts',
      'extension',
    ],
    [
      'differ',
      '~/project/test_login.py:33: AssertionError',
      '~/project/test_signup.py:33: AssertionError',
      'home',
    ],
    [
      'differ',
      'tsc: ../app/src/index.ts(4,7): error TS2322',
      'tsc: ../app/src/main.ts(4,7): error TS2322',
      'compiler location',
    ],
    [
      'same',
      'E302 expected 2 blank lines at /home/ann/repo/src/models.py:14:1',
      'E302 expected 2 blank lines at /builds/ci/7/repo/src/models.py:22:1',
      'another checkout',
    ],
    [
      'same',
      'ruff: C:\\a\\src\\models.py:3:1: F401',
      'ruff: /mnt/c/a/src/models.py:9:1: F401',
      'windows and unix',
    ],
    ['same', 'see /var/log/drain/worker-3.log', 'see /var/log/drain/worker-7.log', 'log files say nothing'],
    [
      'same',
      'stderr: /tmp/d/logs/runA__p1__a1.stderr.txt (20 bytes)',
      'stderr: /tmp/e/logs/runB__p9__a2.stderr.txt (31 bytes)',
      'our attempt logs',
    ],
    [
      'same',
      'write to /tmp/tmpa8f3kq_1/out.db failed',
      'write to /tmp/tmpzz0912ab/out.db failed',
      'temp dir',
    ],
    ['same', 'open /tmp/tmp.Xk29sLq0aB failed', 'open /tmp/tmp.9aPq02LmzY failed', "mktemp's names"],
  ],
  'the host of a URL': [
    [
      'differ',
      'GET https://pypi.org/simple/requests/ timed out',
      'GET https://files.pythonhosted.org/packages/requests.whl timed out',
      'two hosts',
    ],
    [
      'differ',
      'POST https://api.mistral.ai/v1/chat failed: 401',
      'POST https://api.cohere.ai/v1/chat failed: 401',
      'two providers',
    ],
    ['differ', 'redis://cache:6379/0 refused', 'postgres://cache:5432/app refused', 'two schemes'],
    [
      'differ',
      'fetch http://localhost:3000/health failed',
      'fetch http://metrics.internal:3000/health failed',
      'local and remote',
    ],
    [
      'same',
      'GET https://api.example.com/v1/jobs/8f2k1/status returned 500',
      'GET https://api.example.com/v1/jobs/9zq3/status returned 500',
      'ids in the path',
    ],
    [
      'same',
      'webhook https://hooks.slack.com/services/T000/B000/XXXX returned 500',
      'webhook https://hooks.slack.com/services/T111/B222/YYYY returned 500',
      'a secret path',
    ],
    [
      'same',
      'clone of https://oauth2:ghp_abc@github.com/org/repo.git failed',
      'clone of https://x-access-token:ghs_def@github.com/org/repo.git failed',
      'credentials',
    ],
    [
      'same',
      'connect http://10.2.3.4:8080/x refused',
      'connect http://172.16.0.9:18080/x refused',
      'IP and port',
    ],
    [
      'same',
      'PUT https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc1 failed',
      'PUT https://bucket.s3.amazonaws.com/k?X-Amz-Signature=def2 failed',
      'signed query',
    ],
    [
      'same',
      '(see https://docs.example.com/errors#E12).',
      '(see https://docs.example.com/faq).',
      'punctuation',
    ],
  ],
  'bare exit statuses': [
    ['differ', 'make: *** [Makefile:40: check] Error 1', 'make: *** [Makefile:40: check] Error 2', 'make'],
    [
      'differ',
      "The command '/bin/sh -c pip install .' returned a non-zero code: 1",
      "The command '/bin/sh -c pip install .' returned a non-zero code: 137",
      'docker build',
    ],
    [
      'differ',
      "Process 'command 'java'' finished with non-zero exit value 1",
      "Process 'command 'java'' finished with non-zero exit value 3",
      'gradle',
    ],
    ['differ', '1', '2', 'the message is only a status'],
    ['differ', 'Error: 126', 'Error: 127', 'a status after a word'],
    ['differ', 'subprocess exit(4)', 'subprocess exit(5)', 'exit(N)'],
    ['differ', 'script failed with code 1', 'script failed with code 7', 'code N'],
    [
      'same',
      'make: *** [Makefile:40: check] Error 2',
      'make: *** [Makefile:57: check] Error 2',
      'the line goes',
    ],
    ['same', 'exit(3) after 1.2s', 'exit(3) after 950ms', 'the duration goes'],
    ['same', 'tests: 3 failed', 'tests: 9 failed', 'a count is no status'],
  ],
  'versions inside library and model names': [
    ['differ', 'ImportError in pydantic-1.10.13', 'ImportError in pydantic-2.5.3', 'library version'],
    [
      'differ',
      'model claude-3-5-sonnet-20240620 rejected the request',
      'model claude-3-5-sonnet-20241022 rejected the request',
      'model snapshot date',
    ],
    ['differ', 'gemini-1.5-pro: quota exceeded', 'gemini-2.0-pro: quota exceeded', 'model generation'],
    ['differ', 'llama-3.1-8b-instruct OOM', 'llama-3.1-70b-instruct OOM', 'model size'],
    [
      'differ',
      'libcudart.so.11.0: cannot open shared object file',
      'libcudart.so.12: cannot open shared object file',
      'soname',
    ],
    [
      'differ',
      'interpreter pypy3.9 is not supported',
      'interpreter pypy3.10 is not supported',
      'glued version',
    ],
    ['differ', 'qwen2.5-coder failed to load', 'qwen2-coder failed to load', 'model family version'],
    ['differ', 'node-v18.19.0 is too old', 'node-v20.11.1 is too old', 'v-prefixed'],
    ['differ', 'gcc-12: internal compiler error', 'gcc-13: internal compiler error', 'compiler'],
    [
      'same',
      'pydantic-2.5.3 ValidationError at 2026-03-04',
      'pydantic-2.5.3 ValidationError at 2027-11-21',
      'the version stays, the date goes',
    ],
    ['same', 'worker thread-12 died', 'worker thread-3 died', 'a counter is no version'],
    ['same', 'o3-mini rate limited after 2.5s', 'o3-mini rate limited after 0.5s', 'the duration goes'],
    [
      'same',
      'claude-3-5-sonnet-20241022 overloaded (request_id=req_011abc)',
      'claude-3-5-sonnet-20241022 overloaded (request_id=req_999xyz)',
      'the request id goes',
    ],
    ['same', 'ubuntu-22.04 runner lost after 30 seconds', 'ubuntu-22.04 runner lost after 2 min', 'platform'],
  ],
  'messages that differ past the cut': [
    ['differ', LONG + 'ValueError: bad', LONG + 'KeyError: bad', 'the exception'],
    ['differ', LONG + 'in models.py', LONG + 'in views.py', 'the file'],
    ['differ', LONG + 'return code 3', LONG + 'return code 4', 'the status'],
    ['differ', LONG.repeat(3) + 'a', LONG.repeat(3) + 'b', 'one letter, far past the cut'],
    [
      'same',
      LONG + 'at 2026-03-04 09:12:55 in /srv/a/models.py:12',
      LONG + 'at 2027-11-21 23:01:07 in /home/b/models.py:99',
      'noise past the cut',
    ],
    ['same', LONG + 'request_id=req_abc123456', LONG + 'request_id=req_zzz987654', 'an id past the cut'],
    ['same', LONG + 'x   ', LONG + 'x', 'trailing space'],
    ['same', red(LONG + 'boom'), LONG + 'boom', 'colours'],
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
