import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets, redactUrl } from '../../src/domain/redact.js';

const urls: Array<[input: string, expected: string]> = [
  ['postgres://user:secret@host:5432/db', 'postgres://user:***@host:5432/db'],
  ['postgresql://user:secret@host/db?sslmode=require', 'postgresql://user:***@host/db?sslmode=require'],
  ['postgres://user@host:5432/db', 'postgres://user@host:5432/db'],
  ['postgres://host:5432/db', 'postgres://host:5432/db'],
  ['postgres://user:@host/db', 'postgres://user:@host/db'], // empty password: nothing to hide
  ['redis://:secret@cache:6379', 'redis://:***@cache:6379'],
  ['postgres://user:p@ss@host/db', 'postgres://user:***@host/db'],
  ['postgres://user:p@ss:w@rd@host:5432/db', 'postgres://user:***@host:5432/db'],
  ['postgres://user:pa:ss@host/db', 'postgres://user:***@host/db'],
  ['postgres://user:p%40ss%3Aw@host/db', 'postgres://user:***@host/db'],
  ['postgres://us%20er:pw@host/db', 'postgres://us%20er:***@host/db'],
  ['postgres://user:pw@host/db?x=a@b', 'postgres://user:***@host/db?x=a@b'],
  ['POSTGRES://User:PW@Host/DB', 'POSTGRES://User:***@Host/DB'],
  ['postgres://user:pässwörd🔑@host/db', 'postgres://user:***@host/db'],
  ['postgres://user:***@host/db', 'postgres://user:***@host/db'], // idempotent
  ['http://localhost:4873/@scope/pkg', 'http://localhost:4873/@scope/pkg'],
  ['http://example.com/a@b', 'http://example.com/a@b'],
  ['mailto:someone@example.com', 'mailto:someone@example.com'],
  ['', ''],
  ['not a url at all', 'not a url at all'],
  ['://:@', '://:@'],
  ['postgres://', 'postgres://'],
  ['%%%@@@:::///', '%%%@@@:::///'],
];

for (const [input, expected] of urls) {
  test(`redactUrl(${JSON.stringify(input)})`, () => {
    assert.equal(redactUrl(input), expected);
  });
}

const texts: Array<[name: string, input: string, expected: string]> = [
  [
    'URL inside a log line',
    'connecting to postgres://drain:hunter2@db:5432/autopack ... failed',
    'connecting to postgres://drain:***@db:5432/autopack ... failed',
  ],
  [
    'two URLs',
    'a=postgres://u:one@h1/db b="mysql://v:two@h2/db"',
    'a=postgres://u:***@h1/db b="mysql://v:***@h2/db"',
  ],
  ['URL in JSON', '{"url":"postgres://u:pw@h/db"}', '{"url":"postgres://u:***@h/db"}'],
  [
    'libpq key/value',
    'host=db port=5432 password=hunter2 dbname=x',
    'host=db port=5432 password=*** dbname=x',
  ],
  ['libpq quoted value', "host=db password='a b\\'c' user=x", "host=db password='***' user=x"],
  ['double-quoted value', 'password="a b" x', 'password="***" x'],
  ['unterminated quote', "password='abc def", "password='***' def"],
  [
    'env style keys',
    'PGPASSWORD=s3cr3t DB_PASSWORD=x2 passwd=y pwd=z',
    'PGPASSWORD=*** DB_PASSWORD=*** passwd=*** pwd=***',
  ],
  ['spaces around =', 'password = hunter2', 'password = ***'],
  ['query string', 'https://h/x?user=a&password=b&c=d', 'https://h/x?user=a&password=***&c=d'],
  ['JSON key', '{"password": "x\\"y", "user": "u"}', '{"password": "***", "user": "u"}'],
  ['dict key', "{'db_password': 'x'}", "{'db_password': '***'}"],
  [
    'word password alone is kept',
    'password authentication failed for user "drain"',
    'password authentication failed for user "drain"',
  ],
  ['already redacted is stable', 'password=*** postgres://u:***@h', 'password=*** postgres://u:***@h'],
  ['empty', '', ''],
  ['unicode text untouched', 'Ошибка 🚀 password=ключ', 'Ошибка 🚀 password=***'],
];

for (const [name, input, expected] of texts) {
  test(`redactSecrets: ${name}`, () => {
    assert.equal(redactSecrets(input), expected);
    assert.equal(redactSecrets(redactSecrets(input)), expected, 'idempotent');
  });
}

test('redaction never throws on garbage', () => {
  for (const g of [undefined, null, 42, {}, '\u0000\ud800', '@'.repeat(1000)] as unknown[]) {
    assert.doesNotThrow(() => redactUrl(g as string));
    assert.doesNotThrow(() => redactSecrets(g as string));
  }
});

const MB = 1 << 20;
const huge: Array<[name: string, input: string]> = [
  ['letters', 'a'.repeat(MB)],
  ['scheme without @', 'postgres://u:' + 'x'.repeat(MB)],
  ['many schemes', 'a://u:'.repeat(MB / 6)],
  ['at signs', '@'.repeat(MB)],
  ['password keys', 'password'.repeat(MB / 8)],
  ['unterminated quotes', "password='".repeat(MB / 10)],
  ['backslashes in quotes', "password='" + '\\'.repeat(MB)],
];
for (const [name, input] of huge) {
  test(`redactSecrets: 1 MB of ${name} is fast`, () => {
    const t0 = performance.now();
    redactSecrets(input);
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
  });
}
