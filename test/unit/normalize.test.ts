import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanText, failureSummary, normalizeErrorText } from '../../src/domain/normalize.js';

const cases: Array<[name: string, input: string, expected: string]> = [
  [
    'reference guide example',
    'ImportError at line 123: cannot import module from c:\\dev\\Autopack\\file.py:456',
    'importerror at line num: cannot import module from path/file.py:num',
  ],
  ['empty', '', ''],
  ['whitespace only', ' \t\n ', ''],
  ['lower-cases and collapses whitespace', '  Foo\t\tBAR \n baz  ', 'foo bar baz'],
  ['iso date', 'on 2025-12-28 it broke', 'on date it broke'],
  ['slash dates', '2025/12/28 and 12/28/2025 and 1/2/2025', 'date and date and date'],
  ['dash us date', '12-28-2025', 'date'],
  ['time', 'at 06:00:07 sharp', 'at time sharp'],
  ['time with fraction and zone', '06:00:07.123 06:00:07Z 06:00:07+00:00 06:00:07,5', 'time time time time'],
  ['iso timestamp with offset', 'started 2025-12-28T06:00:07+00:00 ok', 'started date time ok'],
  ['iso timestamp utc fraction', '2025-12-28T06:00:07.123456Z', 'date time'],
  ['python logging timestamp', '2025-12-28 06:00:07,123 ERROR x', 'date time error x'],
  ['windows backslash path', 'open c:\\dev\\Autopack\\file.py failed', 'open path/file.py failed'],
  ['windows forward-slash path', 'C:/x/y.txt', 'path/y.txt'],
  ['UNC path', 'at \\\\server\\share\\f.txt', 'at path/f.txt'],
  ['windows relative path', 'see .\\a\\b.py', 'see path/b.py'],
  ['unix absolute path', 'in /usr/lib/x.py', 'in path/x.py'],
  ['unix relative paths', './a/b ../a ~/conf', 'path/b path/a path/conf'],
  ['path keeps :line', '/usr/lib/x.py:12:5', 'path/x.py:num:num'],
  [
    'path in traceback',
    'File "/usr/lib/python3.11/x.py", line 12, in foo',
    'file "path/x.py", line num, in foo',
  ],
  ['trailing sentence dot stays', 'see /var/log/x.log.', 'see path.'],
  ['path after = and :', '--log=/tmp/a.txt error:/etc/x', '--log=path/a.txt error:path/x'],
  [
    'slash inside words is not a path',
    'CI collection/import error and/or 50/50',
    'ci collection/import error and/or num/num',
  ],
  ['lone slash is not a path', 'a / b', 'a / b'],
  ['hex address', 'segfault at 0x7FFD1234 in 0xdeadbeef', 'segfault at addr in addr'],
  ['line number', 'Line 42 and line   7', 'line num and line num'],
  ['colon number', 'host:5432 x:1', 'host:num x:num'],
  ['session id', 'session session-20251228-060007 ended', 'session session-id ended'],
  ['run batch drain ids', 'run-42 batch-7 drain-3a run-20251228-abc', 'run-id batch-id drain-id run-id'],
  ['batch-drain id', 'batch-drain-20251228-060007', 'batch-drain-id'],
  [
    'id-like words without digits stay',
    'run-time batch-size drain-one-phase',
    'run-time batch-size drain-one-phase',
  ],
  ['uuid', 'req 123e4567-e89b-12d3-a456-426614174000 failed', 'req <uuid> failed'],
  ['upper-case uuid', 'id 123E4567-E89B-12D3-A456-426614174000', 'id <uuid>'],
  [
    'url (with credentials) becomes url',
    'connect to postgres://u:pw@127.0.0.1:5432/db failed',
    'connect to url(postgres:<ip>) failed',
  ],
  ['numbers and versions', 'rc 137 after 3.5s python 3.11.4', 'rc 137 after nums python num'],
  ['digits inside words stay', 'build130 phase2', 'build130 phase2'],
  ['unicode kept', 'Ошибка: ファイル 42 — ÉCHEC 🚀', 'ошибка: ファイル num — échec 🚀'],
  ['unicode whitespace collapsed', 'a\u00a0\u2003b', 'a b'],
  [
    'same failure twice normalises equal (different directories and lines)',
    'KeyError at line 9 in /tmp/run-1/a.py',
    'keyerror at line num in path/a.py',
  ],
  [
    'same failure twice, second',
    'KeyError at line 77 in /srv/run-2/a.py',
    'keyerror at line num in path/a.py',
  ],
  // ANSI/VT escapes
  ['SGR colours removed', '\x1b[1;31mImportError\x1b[0m: x', 'importerror: x'],
  ['256 and true colour', '\x1b[38;5;196mE\x1b[38;2;255;0;0mrr\x1b[m', 'err'],
  ['cursor and erase sequences', '\x1b[2K\r\x1b[1Adone\x1b[K', 'done'],
  ['OSC title and hyperlink', '\x1b]0;t\x07\x1b]8;;file:///x\x1b\\link\x1b]8;;\x1b\\', 'link'],
  ['8-bit CSI', '\x9b31mred\x9b0m', 'red'],
  ['charset designation', '\x1b(Bplain', 'plain'],
  ['SGR written out', '\\x1b[31mred\\u001b[0m \\033[1mbold\\e[0m ^[[32mgreen^[[0m', 'red bold green'],
  ['control characters, BOM, zero-width space', '\ufeffa\x00b\x07c\u200bd', 'abcd'],
  ['CRLF and CR', 'a\r\nb\rc', 'a b c'],
  // Unicode digits
  ['full-width digits', 'line １２３ at ：４５６', 'line num at :num'],
  ['full-width identifier', 'Ｅ５０１ line too long', 'e501 line too long'],
  ['arabic-indic digits', 'failed ٣ times', 'failed num times'],
  ['devanagari digits', 'port १२३४', 'port num'],
  ['mathematical digits', 'x 𝟒𝟐', 'x num'],
  ['kept status in other digits', 'exit code ٢, HTTP ४०४', 'exit code 2, http 404'],
  // hashes, ids, timestamps, temp paths, durations
  [
    'short and full commit',
    'commit 13cd68c and 13cd68cfec97a1b2c3d4e5f60718293a4b5c6d7e',
    'commit <hash> and <hash>',
  ],
  ['sha256 digest', 'sha256:' + 'ab12'.repeat(16), 'sha256:<hash>'],
  ['hash needs a digit and a letter', 'deadbeefcafe 1234567 abc123', 'deadbeefcafe num abc123'],
  ['hash inside an identifier stays', 'test_abc1234 x_13cd68c', 'test_abc1234 x_13cd68c'],
  [
    'request id keys',
    'request_id=abc123 X-Request-ID: 7f3a-9b trace_id: 99zz',
    'request_id=<reqid> x-request-id: <reqid> trace_id: <reqid>',
  ],
  ['request id in json', '{"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}', '{"request_id":"<reqid>"}'],
  ['bare req_ id', '(req_011CSHoEeqs5C35K2UUqR7Fy)', '(<reqid>)'],
  ['request id without a digit stays', 'request id missing', 'request id missing'],
  ['compact iso timestamp', 'at 20251228T060007Z', 'at date time'],
  ['temp paths are paths', '/tmp/pytest-of-root/pytest-3/test_a0/x.py:3 /var/tmp/y', 'path/x.py:num path/y'],
  ['pytest-of outside a path', 'in pytest-of-root/pytest-3/test_a0/x.py', 'in path/x.py'],
  ['python tempfile name', 'open tmpk2j3h4l5.json', 'open path.json'],
  ['tmp words stay', 'tmpfiles tmp_dir', 'tmpfiles tmp_dir'],
  [
    'durations',
    '900s 0.52s 12ms 1m30s 2h 3 seconds 2 min 1.5 s 20μs',
    'nums nums nums nums nums nums nums nums nums',
  ],
  ['micro sign', '20µs', 'nums'],
  ['sizes are not durations', '12kb 5mb', 'numkb nummb'],
  // digits inside identifiers
  ['lint codes', 'E501 E711 W605', 'e501 e711 w605'],
  [
    'module names',
    'h11 h2 psycopg2 sqlite3 py311 sha256 x86_64',
    'h11 h2 psycopg2 sqlite3 py311 sha256 x86_64',
  ],
  [
    'digits after a dot or dash are numbers, unless part of a name',
    'python3.11 v1.2.3 thread-12 utf-8',
    'python3.11 v1.num thread-num utf-8',
  ],
  ['number-led tokens', '3rd 64bit 0001_initial', 'numrd numbit num_initial'],
  // kept statuses
  [
    'exit statuses',
    'exit code 1; exit status 2; exit 3; exited with code -9; returned 4',
    'exit code 1; exit status 2; exit 3; exited with code -9; returned 4',
  ],
  ['return codes', 'return code 2 returncode=3 rc=137', 'return code 2 returncode=3 rc=137'],
  [
    'CalledProcessError',
    "Command '['pytest']' returned non-zero exit status 2.",
    "command '['pytest']' returned non-zero exit status 2.",
  ],
  [
    'http statuses',
    'HTTP 404; HTTP/1.1 503; HTTP Error 403: Forbidden; 500 Server Error',
    'http 404; http/1.1 503; http error 403: forbidden; 500 server error',
  ],
  [
    'status codes',
    'status 502 status_code=429 "status_code": 500 error code: 529',
    'status 502 status_code=429 "status_code": 500 error code: 529',
  ],
  [
    'signals and errnos',
    'killed by signal 9 [Errno 13] [WinError 5]',
    'killed by signal 9 [errno 13] [winerror 5]',
  ],
  ['encodings', "'utf-8' 'iso-8859-1' latin-1 cp1252", "'utf-8' 'iso-8859-1' latin-1 cp1252"],
  ['status followed by a unit is a duration', 'status 200ms', 'status nums'],
  [
    'other numbers after words still go',
    'error: 2 tests failed, retry 3',
    'error: num tests failed, retry num',
  ],
  // failure summaries
  [
    'python traceback → innermost frame and final exception',
    'Traceback (most recent call last):\n  File "/srv/app/main.py", line 40, in <module>\n    main()\n  File "/srv/app/parse.py", line 12, in parse\n    return int(s)\n           ^^^^^^\nValueError: invalid literal for int() with base 10: \'abc\'\n',
    "parse.py, in parse: valueerror: invalid literal for int() with base num: 'abc'",
  ],
  [
    'chained traceback → the last exception',
    'Traceback (most recent call last):\n  File "a.py", line 1, in f\nKeyError: \'k\'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File "b.py", line 9, in g\nRuntimeError: boom\n',
    'b.py, in g: runtimeerror: boom',
  ],
  [
    'traceback with text before it and a multi-line message',
    '2025-12-28 06:00:07 ERROR phase failed\nTraceback (most recent call last):\n  File "C:\\\\x\\\\m.py", line 3, in load\npydantic.ValidationError: 1 validation error\nname\n  field required\n\nafter',
    'm.py, in load: pydantic.validationerror: num validation error name field required',
  ],
  [
    'syntax error frame without a function',
    'Traceback (most recent call last):\n  File "x.py", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax',
    'x.py: syntaxerror: invalid syntax',
  ],
  [
    'one-line traceback stays whole',
    'Traceback (most recent call last): ... MemoryError',
    'traceback (most recent call last): ... memoryerror',
  ],
  [
    'traceback without an exception line stays whole',
    'Traceback (most recent call last):\n  File "x.py", line 1, in f\n',
    'traceback (most recent call last): file "x.py", line num, in f',
  ],
  [
    'pytest E lines → file, test and the last block',
    '____ test_x ____\n\n    def test_x():\n>       assert f(1) == 2\nE       assert 3 == 2\nE        +  where 3 = f(1)\n\ntests/test_a.py:12: AssertionError\n',
    'test_a.py, in test_x: assert num == num + where num = f(num)',
  ],
  [
    'pytest summary lines win',
    "E   ValueError: x\n=== short test summary info ===\nFAILED tests/test_a.py::test_x - assert 3 == 2\nERROR tests/test_b.py - ModuleNotFoundError: No module named 'x'\nFAILED tests/test_a.py::test_x - assert 3 == 2\n=== 1 failed in 0.52s ===",
    "failed tests/test_a.py::test_x - assert num == num; error tests/test_b.py - modulenotfounderror: no module named 'x'",
  ],
  ['a lower-case failed line is no summary', 'failed tests/a.py::t - x', 'failed tests/a.py::t - x'],
  // fingerprint v2: dates and times
  ['12-hour clock', 'at 3:05 PM, 01:44:43 p.m. and 11am', 'at time, time and time'],
  ['12-hour clock with a zone', '9:15:02.250 PM EST', 'time'],
  ['iso date-time with AM/PM', '2026-03-04 9:00 PM', 'date time'],
  ['time with a zone name or offset', '13:44:43 UTC 13:44:43 +0100 13:44 CET', 'time time time'],
  ['date(1), C locale', 'Wed Mar  4 09:12:55 CET 2026', 'date time num'],
  ['date(1), en_US', 'Sun 15 Feb 2026 08:00:01 AM UTC', 'date time'],
  ['RFC 2822 date', 'Tue, 03 Feb 2026 10:20:30 +0000', 'date time'],
  ['access log date', '[03/Feb/2026:10:20:30 +0100]', '[date:time]'],
  ['month first, with a year', 'January 5th, 2026 and Sep 30 2027', 'date and date'],
  ['month and day need a year, weekday or time', 'may 2 things; dec 7', 'may num things; dec num'],
  ['CJK dates', '2026年3月4日(水) 12月7日 2026년 3월 4일 수요일 2026. 3. 4. (수)', 'date date date date'],
  ['CJK times and AM/PM', '09時12分55秒 下午9:12 오후 11시 1분 7초', 'time time time'],
  [
    'date and time in names',
    'snapshot_20260304_091255 export-20260304t0912 20260304091255',
    'snapshot_date_time export-date_time date_time',
  ],
  [
    'dashed date and time in names',
    'build_2026-03-04_09-12-55 backup-2026.03.04 events_2026_03_04',
    'build_date_time backup-date events_date',
  ],
  ['unix time in a name', 'job_1772615575 x-1772615575123', 'job_time x-time'],
  ['a date inside a hash is a hash', 'commit 3f20260304ab9c', 'commit <hash>'],
  // fingerprint v2: per-run noise
  ['pytest-xdist workers', '[gw3] worker gw12', '[gw] worker gw'],
  ['pytest progress', 'tests/a.py ..F.s [ 45%] tests/b.py . [100%]', 'tests/a.py [num%] tests/b.py [num%]'],
  ['tqdm bar', ' 42%|████▏     | 42/100', 'num%|| num/num'],
  [
    'pytest summary lines sorted',
    'FAILED tests/b.py::t - x\nERROR tests/c.py - y\nFAILED tests/a.py::t - x',
    'failed tests/a.py::t - x; failed tests/b.py::t - x; error tests/c.py - y',
  ],
  // fingerprint v2: ids
  [
    'phase and run ids',
    `phase 'build-api' of run "nightly-7"; phase_id=p3 run id: x9; {"phase": "p1"}; run 'x' phase`,
    `phase '<id>' of run "<id>"; phase_id=<id> run id: <id>; {"phase": "<id>"}; run '<id>' phase`,
  ],
  ['a quoted command is no id', "failed to run 'make'; phase: build", "failed to run 'make'; phase: build"],
  // fingerprint v2: paths, URLs
  [
    'windows path with spaces',
    'C:\\Program Files (x86)\\My App\\bin\\app.exe failed (code 2)',
    'path/app.exe failed (code 2)',
  ],
  ['a space ends a windows path unless a \\ follows', 'open C:\\x\\y.txt now', 'open path/y.txt now'],
  [
    'logs and temp names are just path',
    '/var/log/x.log /t/run__p__a1.stderr.txt /tmp/tmp.ab12CD34ef',
    'path path path',
  ],
  ['a directory is just path', 'in /srv/app/', 'in path'],
  [
    'url keeps scheme and host',
    'https://user:pw@api.example.com:8443/v1/x?token=abc#f http://[::1]:80/ file:///etc/x',
    'url(https:api.example.com) url(http:<ip>) url(file:)',
  ],
  ['url punctuation stays outside', '(see https://x.example/a).', '(see url(https:x.example)).'],
  // fingerprint v2: statuses, names
  ['a bare status stays', ' Error 2 ', 'error 2'],
  ['only a number', '137', '137'],
  [
    'more statuses',
    'make: *** [all] Error 2; non-zero code: 3; exit value 4; exit(5); code 6',
    'make: *** [all] error 2; non-zero code: 3; exit value 4; exit(5); code 6',
  ],
  [
    'versions in names',
    'gpt-4o-mini claude-3-5-sonnet-20241022 llama-3.1-70b numpy-1.26.4 py3.12 libssl.so.3 mistral-7b',
    'gpt-4o-mini claude-3-5-sonnet-20241022 llama-3.1-70b numpy-1.26.4 py3.12 libssl.so.3 mistral-7b',
  ],
  ['counters are no versions', 'thread-12 worker-3 v1.2.3', 'thread-num worker-num v1.num'],
  // robustness
  ['lone surrogates become U+FFFD', 'a\ud800b\udc00c', 'a\ufffdb\ufffdc'],
  ['our sentinel characters in the input', 'exit \ue001 x\ue009', 'exit \ufffd x\ufffd'],
];

for (const [name, input, expected] of cases) {
  test(`normalizeErrorText: ${name}`, () => {
    assert.equal(normalizeErrorText(input), expected);
  });
}

const digitSets: Array<[script: string, zero: number]> = [
  ['arabic-indic', 0x660],
  ['extended arabic-indic', 0x6f0],
  ['nko', 0x7c0],
  ['devanagari', 0x966],
  ['bengali', 0x9e6],
  ['thai', 0xe50],
  ['tibetan', 0xf20],
  ['myanmar', 0x1040],
  ['khmer', 0x17e0],
  ['mongolian', 0x1810],
  ['full-width', 0xff10],
  ['osmanya', 0x104a0],
  ['mathematical bold', 0x1d7ce],
  ['mathematical monospace', 0x1d7f6],
  ['adlam', 0x1e950],
];

for (const [script, zero] of digitSets) {
  test(`cleanText: ${script} digits are ASCII digits with their values`, () => {
    const digits = Array.from({ length: 10 }, (_, i) => String.fromCodePoint(zero + i)).join('');
    assert.equal(cleanText(`v${digits}`), 'v0123456789');
  });
}

const summaries: Array<[name: string, input: string, expected: string]> = [
  ['plain text is itself', 'ImportError: x', 'ImportError: x'],
  [
    'case is kept here',
    'Traceback (most recent call last):\n  File "a.py", line 1, in f\nKeyError: 1',
    'a.py, in f: KeyError: 1',
  ],
  [
    'lower-case header is no traceback',
    'traceback (most recent call last):\nkeyerror: 1',
    'traceback (most recent call last):\nkeyerror: 1',
  ],
  [
    'indented exception lines are not exceptions',
    'Traceback (most recent call last):\n  | ValueError: x',
    'Traceback (most recent call last):\n  | ValueError: x',
  ],
];
for (const [name, input, expected] of summaries) {
  test(`failureSummary: ${name}`, () => {
    assert.equal(failureSummary(input), expected);
  });
}

test('normalizeErrorText is idempotent on its own output', () => {
  for (const [, input] of cases) {
    const once = normalizeErrorText(input);
    assert.equal(normalizeErrorText(once), once, input);
  }
});

const MB = 1 << 20;
const huge: Array<[name: string, input: string]> = [
  ['letters', 'a'.repeat(MB)],
  ['digits', '1'.repeat(MB)],
  ['slashes', '/'.repeat(MB)],
  ['spaced paths', ' /a'.repeat(MB / 3)],
  ['run- prefixes', 'run-'.repeat(MB / 4)],
  ['id without digit', 'run-' + 'x'.repeat(MB)],
  ['line words', 'line '.repeat(MB / 5)],
  ['drive letters', 'c:\\'.repeat(MB / 3)],
  ['hex prefixes', '0x'.repeat(MB / 2)],
  ['scheme-like', 'a://'.repeat(MB / 4)],
  ['colons and digits', '1:2:'.repeat(MB / 4)],
  ['dates glued', '2025-12-28'.repeat(MB / 10)],
  ['whitespace', ' \t\n'.repeat(MB / 3)],
  ['hex run', 'a1'.repeat(MB / 2)],
  ['hex tokens', 'abc1234 '.repeat(MB / 8)],
  ['ANSI colours', '\x1b[31mx\x1b[0m'.repeat(MB / 10)],
  ['unterminated OSC', '\x1b]'.repeat(MB / 2)],
  ['unterminated CSI', '\x1b[' + '1;'.repeat(MB / 2)],
  ['written-out SGR prefixes', '\\x1b['.repeat(MB / 5)],
  ['request id keys', 'request_id='.repeat(MB / 11)],
  ['request id key and spaces', 'request_id' + ' '.repeat(MB)],
  ['status key and spaces', 'exit' + ' '.repeat(MB / 2) + ':' + ' '.repeat(MB / 2)],
  ['status keys', 'exit code '.repeat(MB / 10)],
  ['traceback headers', 'Traceback (most recent call last):\n'.repeat(MB / 35)],
  [
    'traceback frames',
    'Traceback (most recent call last):\n' + '  File "x.py", line 1, in f\n'.repeat(MB / 28),
  ],
  ['exception lines', 'Traceback (most recent call last):\n' + 'ValueError: x\n'.repeat(MB / 14)],
  ['pytest E lines', 'E   x\n'.repeat(MB / 6)],
  ['pytest summary lines', 'FAILED a.py::t - x\n'.repeat(MB / 19)],
  ['one long summary line', 'FAILED ' + 'a.py'.repeat(MB / 4) + ' x'],
  ['underscore header', '___ ' + '_'.repeat(MB) + ' x ___\nE   y'],
  ['full-width digits', '１'.repeat(MB)],
  ['arabic-indic digits', '٣'.repeat(MB)],
  ['lone surrogates', '\ud800'.repeat(MB)],
  ['sentinel characters', '\ue000'.repeat(MB)],
  ['durations', '1 s '.repeat(MB / 4)],
  ['compound durations', '1h2m'.repeat(MB / 4)],
  ['temp prefixes', 'tmp'.repeat(MB / 3) + ' ' + 'pytest-of-'.repeat(MB / 10)],
  // fingerprint v2 rules (about 1 MB each)
  ['quoted id keys', "phase '".repeat(MB / 21) + 'run_id='.repeat(MB / 21) + 'of run "'.repeat(MB / 24)],
  ['month and weekday names', 'mon dec 7 '.repeat(MB / 20) + 'dec '.repeat(MB / 8)],
  ['12-hour clocks', '1:44 '.repeat(MB / 10) + '1 am '.repeat(MB / 10)],
  ['CJK dates', '2026年12月'.repeat(MB / 16) + '下午'.repeat(MB / 4)],
  ['compact dates', '20261207'.repeat(MB / 16) + 'ab20261207'.repeat(MB / 20)],
  ['progress dots', ' ' + '.'.repeat(MB / 2) + ' [ 45%]' + '[ 45%]'.repeat(MB / 12)],
  ['windows paths with spaces', 'c:\\a' + ' b'.repeat(MB / 4) + ('c:\\x' + ' abc'.repeat(4)).repeat(MB / 40)],
  ['name versions', 'python3.'.repeat(MB / 24) + 'gpt' + '-4'.repeat(MB / 6) + 'run-'.repeat(MB / 12)],
  ['sonames', 'a.so.'.repeat(MB / 10) + 'ab-1.'.repeat(MB / 10)],
  ['urls', 'http://a/ '.repeat(MB / 20) + 'http://' + 'a'.repeat(MB / 2)],
  [
    'mixed error lines',
    'ImportError at line 123: from c:\\dev\\file.py:456 0x7ffd 2025-12-28T06:00:07Z\n'.repeat(MB / 80),
  ],
];

for (const [name, input] of huge) {
  test(`normalizeErrorText: 1 MB of ${name} is fast`, () => {
    const t0 = performance.now();
    const out = normalizeErrorText(input);
    const ms = performance.now() - t0;
    assert.equal(typeof out, 'string');
    assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
  });
}
