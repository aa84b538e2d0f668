import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeErrorText } from '../../src/domain/normalize.js';

const cases: Array<[name: string, input: string, expected: string]> = [
  [
    'reference guide example',
    'ImportError at line 123: cannot import module from c:\\dev\\Autopack\\file.py:456',
    'importerror at line num: cannot import module from path:num',
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
  ['windows backslash path', 'open c:\\dev\\Autopack\\file.py failed', 'open path failed'],
  ['windows forward-slash path', 'C:/x/y.txt', 'path'],
  ['UNC path', 'at \\\\server\\share\\f.txt', 'at path'],
  ['windows relative path', 'see .\\a\\b.py', 'see path'],
  ['unix absolute path', 'in /usr/lib/x.py', 'in path'],
  ['unix relative paths', './a/b ../a ~/conf', 'path path path'],
  ['path keeps :line', '/usr/lib/x.py:12:5', 'path:num:num'],
  ['path in traceback', 'File "/usr/lib/python3.11/x.py", line 12, in foo', 'file "path", line num, in foo'],
  ['trailing sentence dot stays', 'see /var/log/x.log.', 'see path.'],
  ['path after = and :', '--log=/tmp/a.txt error:/etc/x', '--log=path error:path'],
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
  ['uuid', 'req 123e4567-e89b-12d3-a456-426614174000 failed', 'req uuid failed'],
  [
    'url (with credentials) becomes url',
    'connect to postgres://u:pw@127.0.0.1:5432/db failed',
    'connect to url failed',
  ],
  ['numbers and versions', 'rc 137 after 3.5s python 3.11.4', 'rc num after nums python num'],
  ['digits inside words', 'build130 phase2', 'buildnum phasenum'],
  ['unicode kept', 'Ошибка: ファイル 42 — ÉCHEC 🚀', 'ошибка: ファイル num — échec 🚀'],
  ['unicode whitespace collapsed', 'a\u00a0\u2003b', 'a b'],
  [
    'same failure twice normalises equal (different paths and lines)',
    'KeyError at line 9 in /tmp/run-1/a.py',
    'keyerror at line num in path',
  ],
  ['same failure twice, second', 'KeyError at line 77 in /tmp/run-2/b.py', 'keyerror at line num in path'],
];

for (const [name, input, expected] of cases) {
  test(`normalizeErrorText: ${name}`, () => {
    assert.equal(normalizeErrorText(input), expected);
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
