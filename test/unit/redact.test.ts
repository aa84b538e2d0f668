import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REDACTED,
  isSecretName,
  redactArgv,
  redactDeep,
  redactSecrets,
  redactUrl,
  secretValuesOf,
} from '../../src/domain/redact.js';

type Case = [name: string, input: string, expected: string];

/** Runs a table through redactSecrets, checking idempotence too. */
function table(title: string, cases: Case[], known?: string[]): void {
  describe(title, () => {
    for (const [name, input, expected] of cases) {
      test(name, () => {
        const once = redactSecrets(input, known);
        assert.equal(once, expected);
        assert.equal(redactSecrets(once, known), once, 'idempotent');
      });
    }
  });
}

const secretNames: Array<[name: string, secret: boolean]> = [
  ['password', true],
  ['Password', true],
  ['passwd', true],
  ['pwd', true],
  ['PWD', true], // the shell's working directory too: ODBC's PWD= is a password
  ['pass', true],
  ['passphrase', true],
  ['sslpassword', true],
  ['PGPASSWORD', true],
  ['db_password', true],
  ['DB-PASSWORD', true],
  ['dbPassword', true],
  ['password2', true],
  ['secret', true],
  ['client_secret', true],
  ['clientSecret', true],
  ['token', true],
  ['access_token', true],
  ['refresh_token', true],
  ['id_token', true],
  ['GITHUB_TOKEN', true],
  ['x-auth-token', true],
  ['auth', true],
  ['basic_auth', true],
  ['authorization', true],
  ['Proxy-Authorization', true],
  ['api_key', true],
  ['apikey', true],
  ['apiKey', true],
  ['APIKey', true],
  ['API-KEY', true],
  ['x-api-key', true],
  ['X-Api-Key', true],
  ['OPENAI_API_KEY', true],
  ['AWS_SECRET_ACCESS_KEY', true],
  ['private_key', true],
  ['privateKey', true],
  ['key', true],
  ['credential', true],
  ['credentials', true],
  ['cookie', true],
  ['Set-Cookie', true],
  ['X-Amz-Signature', true],
  ['sig', true],
  ['--password', true],
  ['spring.datasource.password', true],
  ['user', false],
  ['username', false],
  ['host', false],
  ['port', false],
  ['dbname', false],
  ['sslmode', false],
  ['sslkey', false], // libpq: a file path (the key's passphrase is sslpassword)
  ['sslcert', false],
  ['passfile', false],
  ['password_file', false],
  ['password-stdin', false],
  ['token_type', false],
  ['max_tokens', false],
  ['tokens', false],
  ['keys_total', false],
  ['keyword', false],
  ['monkey', false],
  ['public_key', false],
  ['primary_key', false],
  ['aws_access_key_id', false],
  ['bypass', false],
  ['compass', false],
  ['author', false],
  ['auth_method', false],
  ['secretary', false],
  ['session_id', false],
  ['DATABASE_URL', false],
  ['', false],
  ['___', false],
];

describe('isSecretName', () => {
  for (const [name, secret] of secretNames) {
    test(`${JSON.stringify(name)} → ${secret}`, () => assert.equal(isSecretName(name), secret));
  }
});

describe('redactUrl', () => {
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
    ['https://h?next=a@b', 'https://h?next=a@b'],
    ['https://h:443?next=a@b', 'https://h:443?next=a@b'],
    ['mailto:someone@example.com', 'mailto:someone@example.com'],
    ['', ''],
    ['not a url at all', 'not a url at all'],
    ['://:@', '://:@'],
    ['postgres://', 'postgres://'],
    ['%%%@@@:::///', '%%%@@@:::///'],
    // query parameters
    [
      'postgres://h/db?user=u&password=pw&sslpassword=x&sslmode=require',
      'postgres://h/db?user=u&password=***&sslpassword=***&sslmode=require',
    ],
    ['https://api/x?token=abc', 'https://api/x?token=***'],
    ['https://api/x?access_token=abc&page=2', 'https://api/x?access_token=***&page=2'],
    ['https://api/x?q=1&api_key=abc', 'https://api/x?q=1&api_key=***'],
    ['https://api/x?pass%77ord=abc', 'https://api/x?pass%77ord=***'], // the name is percent-decoded
    ['https://api/x?password=', 'https://api/x?password='],
    ['https://api/x?password', 'https://api/x?password'],
    ['https://api/x?token_type=bearer&max_tokens=5', 'https://api/x?token_type=bearer&max_tokens=5'],
    ['postgres://u:pw@h/db?password=x#frag', 'postgres://u:***@h/db?password=***#frag'],
    // fragments
    [
      'https://app/cb#access_token=abc&token_type=bearer',
      'https://app/cb#access_token=***&token_type=bearer',
    ],
    ['https://app/#/route?token=abc', 'https://app/#/route?token=***'],
    ['https://example.com/page#section-2', 'https://example.com/page#section-2'],
    // a URL inside another one's query
    ['https://proxy/go?to=postgres://u:pw@h/db', 'https://proxy/go?to=postgres://u:***@h/db'],
    // `;` path parameters
    [
      'jdbc:sqlserver://h:1433;databaseName=db;user=u;password=x;',
      'jdbc:sqlserver://h:1433;databaseName=db;user=u;password=***;',
    ],
    ['https://h/a;b?q=1', 'https://h/a;b?q=1'],
    [
      'mongodb://u:pw@h1,h2/db?authSource=admin&password=z',
      'mongodb://u:***@h1,h2/db?authSource=admin&password=***',
    ],
    // a libpq conninfo where a URL was expected
    ['host=db password=pw', 'host=db password=***'],
  ];
  for (const [input, expected] of urls) {
    test(JSON.stringify(input), () => {
      assert.equal(redactUrl(input), expected);
      assert.equal(redactUrl(expected), expected, 'idempotent');
    });
  }
});

table('URLs in free text', [
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
  ['URL in parentheses', '(see postgres://u:pw@h/db)', '(see postgres://u:***@h/db)'],
  ['query string', 'https://h/x?user=a&password=b&c=d', 'https://h/x?user=a&password=***&c=d'],
  ['relative URL', 'GET /callback?code=1&token=abc HTTP/1.1', 'GET /callback?code=1&token=*** HTTP/1.1'],
  ['scheme after digits', 'x1postgres://u:pw@h', 'x1postgres://u:***@h'],
  [
    'URL then a JSON-escaped newline',
    '"postgres://h/db\\nPGPASSWORD=x"',
    '"postgres://h/db\\nPGPASSWORD=***"',
  ],
  ['URL in angle brackets', '<https://h/?token=abc>', '<https://h/?token=***>'],
]);

table('key=value (libpq conninfo, env, forms)', [
  [
    'libpq key/value',
    'host=db port=5432 password=hunter2 dbname=x',
    'host=db port=5432 password=*** dbname=x',
  ],
  ['libpq quoted value', "host=db password='a b\\'c' user=x", "host=db password='***' user=x"],
  ['libpq spaces and quotes', "password = 'x\\'y' host=h", "password = '***' host=h"],
  ['quoted with space', "password='with space' user=x", "password='***' user=x"],
  ['double-quoted value', 'password="a b" x', 'password="***" x'],
  ['unterminated quote', "password='abc def", "password='***' def"],
  ['unterminated double quote', 'password="abc def', 'password="***" def'],
  ['empty values kept', "password='' x password=\ny password=", "password='' x password=\ny password="],
  ['value after a blank (libpq allows it)', 'password= x y', 'password= *** y'],
  [
    'sslpassword',
    'sslmode=require sslpassword=kp sslkey=/k.pem',
    'sslmode=require sslpassword=*** sslkey=/k.pem',
  ],
  [
    'env style keys',
    'PGPASSWORD=s3cr3t DB_PASSWORD=x2 passwd=y pwd=z',
    'PGPASSWORD=*** DB_PASSWORD=*** passwd=*** pwd=***',
  ],
  ['spaces around =', 'password = hunter2', 'password = ***'],
  ['form body', 'user=a&password=b&remember=1', 'user=a&password=***&remember=1'],
  ['ODBC', 'Driver=x;UID=u;PWD=p;Server=s', 'Driver=x;UID=u;PWD=***;Server=s'],
  ['comparison is no assignment', 'if password == x', 'if password == x'],
  ['unicode text untouched', 'Ошибка 🚀 password=ключ', 'Ошибка 🚀 password=***'],
]);

table('CLI flags in text', [
  ['--password X', 'drain-sim --password X --user u', 'drain-sim --password *** --user u'],
  ['--password=X', 'cmd --password=X next', 'cmd --password=*** next'],
  ['--token X', 'gh --token ghp_abc', 'gh --token ***'],
  ['--api-key=X', 'x --api-key=abc', 'x --api-key=***'],
  ['--db-password "a b"', 'x --db-password "a b" next', 'x --db-password "***" next'],
  ['single quotes', "x --token 'a b' y", "x --token '***' y"],
  ['single dash', 'java -password hunter2 -jar x', 'java -password *** -jar x'],
  ['--no- flags are boolean', 'x --no-password --host h', 'x --no-password --host h'],
  ['-p is too ambiguous', 'psql -p 5432 -U u', 'psql -p 5432 -U u'],
  ['value on the next line is not taken', 'x --password\nnext', 'x --password\nnext'],
  ['argv as JSON', '["--password","x","--run-id","r"]', '["--password","***","--run-id","r"]'],
]);

table('environment assignments and env dumps', [
  ['PGPASSWORD', 'PGPASSWORD=x psql', 'PGPASSWORD=*** psql'],
  ['export', 'export GITHUB_TOKEN=ghp_abc123', 'export GITHUB_TOKEN=***'],
  ['quoted', 'OPENAI_API_KEY="sk-abc"', 'OPENAI_API_KEY="***"'],
  ['AWS', 'AWS_SECRET_ACCESS_KEY=wJal/rXU+tnF', 'AWS_SECRET_ACCESS_KEY=***'],
  [
    'env dump',
    [
      'HOME=/root',
      'PATH=/usr/bin:/bin',
      'DATABASE_URL=postgresql://u:pw@h:5432/db',
      'AUTOPACK_API_URL=http://localhost:8000',
      'PGPASSWORD=x',
      'TELEMETRY_DB_ENABLED=1',
      'AWS_ACCESS_KEY_ID=AKIAXXXX',
      'SSLKEY=/k.pem',
      '',
    ].join('\n'),
    [
      'HOME=/root',
      'PATH=/usr/bin:/bin',
      'DATABASE_URL=postgresql://u:***@h:5432/db',
      'AUTOPACK_API_URL=http://localhost:8000',
      'PGPASSWORD=***',
      'TELEMETRY_DB_ENABLED=1',
      'AWS_ACCESS_KEY_ID=AKIAXXXX',
      'SSLKEY=/k.pem',
      '',
    ].join('\n'),
  ],
  ['CRLF', 'PGPASSWORD=x\r\nUSER=u\r\n', 'PGPASSWORD=***\r\nUSER=u\r\n'],
]);

table('JSON and Python dicts', [
  ['JSON key', '{"password": "x\\"y", "user": "u"}', '{"password": "***", "user": "u"}'],
  ['compact JSON', '{"token":"abc","n":1}', '{"token":"***","n":1}'],
  ['dict key', "{'db_password': 'x'}", "{'db_password': '***'}"],
  ['dict token', "{'token': 'x', 'user': 'u'}", "{'token': '***', 'user': 'u'}"],
  ['URL value', '{"DATABASE_URL": "postgres://u:pw@h/db"}', '{"DATABASE_URL": "postgres://u:***@h/db"}'],
  ['non-string values stay', '{"token": null, "password": 5}', '{"token": null, "password": 5}'],
  ['JSON inside a JSON string', '{"e":"{\\"password\\":\\"x\\"}"}', '{"e":"{\\"password\\":\\"***\\"}"}'],
  ['truncated excerpt', '{"password":"abc', '{"password":"***"'],
  ['flag inside a JSON string', '{"cmd":"x --password=abc\\" y"}', '{"cmd":"x --password=***\\" y"}'],
]);

table('HTTP headers and YAML', [
  ['Bearer', 'Authorization: Bearer abc.def', 'Authorization: Bearer ***'],
  ['Basic', 'Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic ***'],
  ['no scheme', 'authorization: abc', 'authorization: ***'],
  ['X-Api-Key', 'X-Api-Key: abc', 'X-Api-Key: ***'],
  ['mid-line header', '> sent X-Auth-Token: abc', '> sent X-Auth-Token: ***'],
  ['Cookie', 'Cookie: session=abc; theme=dark', 'Cookie: ***'],
  [
    'curl -H',
    'curl -H "Authorization: Bearer abc" https://x',
    'curl -H "Authorization: Bearer ***" https://x',
  ],
  [
    'headers block',
    'Host: h\r\nAuthorization: Bearer t\r\nAccept: */*',
    'Host: h\r\nAuthorization: Bearer ***\r\nAccept: */*',
  ],
  ['YAML', 'db:\n  user: u\n  password: hunter2\n', 'db:\n  user: u\n  password: ***\n'],
  ['YAML quoted', 'password: "a b" # x', 'password: "***" # x'],
  ['secret word mid-line is prose', 'error: invalid token: expected x', 'error: invalid token: expected x'],
  ['util.inspect', "{ user: 'u', password: 'x', n: 1 }", "{ user: 'u', password: '***', n: 1 }"],
  ['util.inspect, multi-line', "{\n  token: 'abc',\n  key: 'k'\n}", "{\n  token: '***',\n  key: '***'\n}"],
]);

table('PEM private keys', [
  [
    'RSA',
    'k=-----BEGIN RSA PRIVATE KEY-----\nMIIEab\ncd==\n-----END RSA PRIVATE KEY-----\nnext',
    'k=-----BEGIN RSA PRIVATE KEY-----\n***\n-----END RSA PRIVATE KEY-----\nnext',
  ],
  [
    'JSON-escaped',
    '"-----BEGIN PRIVATE KEY-----\\nMIIEab\\n-----END PRIVATE KEY-----\\n"',
    '"-----BEGIN PRIVATE KEY-----\\n***\\n-----END PRIVATE KEY-----\\n"',
  ],
  ['truncated', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl', '-----BEGIN OPENSSH PRIVATE KEY-----\n***'],
  [
    'certificates are public',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  ],
]);

table(
  'known values',
  [
    ['anywhere', 'auth failed: hunter22 was rejected', 'auth failed: *** was rejected'],
    ['percent-decoded form', 'pw p@ss/w0rd', 'pw ***'],
    ['percent-encoded form', 'x p%40ss%2Fw0rd y', 'x *** y'],
    ['JSON-escaped form', '{"m":"said q\\"uote"}', '{"m":"said ***"}'],
    ['short values are ignored', 'a abc b', 'a abc b'],
  ],
  ['hunter22', 'p@ss/w0rd', 'abc', 'q"uote', ''],
);

describe('text without secrets is byte-identical', () => {
  const plain = [
    '',
    'connect ECONNREFUSED 127.0.0.1:5432',
    'password authentication failed for user "drain"',
    'FATAL:  password authentication failed for user "postgres"',
    `Unexpected token '}', "{"a":}" is not valid JSON`,
    'SyntaxError: Unexpected token } in JSON at position 5',
    'max_tokens=4096 token_type=bearer tokens=12 keys_total=3 keyword=x monkey=y',
    'sslkey=/etc/ssl/client.key sslmode=require passfile=/home/u/.pgpass sslcert=/c',
    '--password-stdin --token-file /run/t --no-token',
    'public_key=ssh-ed25519 AAAA aws_access_key_id=AKIA',
    'git@github.com:org/repo.git ssh://git@github.com/org/repo.git',
    'https://example.com/path?q=1&page=2#section',
    '{"session_id":"s1","fingerprint_counts":{"a":1},"total_failed":0}',
    'Token budget: 4000 tokens',
    '    at Object.<anonymous> (/work/main/src/x.ts:10:5)',
    'password=*** postgres://u:***@h', // already redacted
    'Ошибка 🚀 日本 \u0000 \ud800',
    '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----',
  ];
  for (const text of plain) {
    test(JSON.stringify(text).slice(0, 60), () => assert.equal(redactSecrets(text), text));
  }
});

describe('same and different pairs', () => {
  const pairs: Array<[a: string, b: string, same: boolean]> = [
    ['postgres://u:one@h/db', 'postgres://u:two@h/db', true],
    ['postgres://u:pw@h1/db', 'postgres://u:pw@h2/db', false],
    ['postgres://u1:pw@h/db', 'postgres://u2:pw@h/db', false],
    ['host=db password=a', 'host=db password=b', true],
    ['host=db1 password=a', 'host=db2 password=a', false],
    ['PGPASSWORD=a', 'PGPASSWORD=bbbbbb', true],
    ['--token a --run r1', '--token b --run r1', true],
    ['--token a --run r1', '--token a --run r2', false],
    ['{"password":"a","u":1}', '{"password":"b","u":1}', true],
    ['{"password":"a","u":1}', '{"password":"a","u":2}', false],
    ['Authorization: Bearer a', 'Authorization: Bearer b', true],
    ['Authorization: Bearer a', 'Authorization: Basic a', false],
    ['x?token=a&page=1', 'x?token=b&page=1', true],
    ['x?token=a&page=1', 'x?token=a&page=2', false],
  ];
  for (const [a, b, same] of pairs) {
    test(`${a} ${same ? '==' : '!='} ${b}`, () => {
      assert.equal(redactSecrets(a) === redactSecrets(b), same);
    });
  }
});

test('redacted JSON text stays valid JSON, also double-encoded', () => {
  const value = {
    password: 'p"w\\',
    url: 'postgres://u:pw@h/db?sslpassword=x',
    argv: ['--token', 't', '--api-key=k'],
    log: 'PGPASSWORD=x\nAuthorization: Bearer abc',
    n: 1,
  };
  for (const text of [JSON.stringify(value), JSON.stringify(JSON.stringify(value))]) {
    const out = redactSecrets(text, ['p"w\\']);
    const parsed = JSON.parse(out);
    const again = typeof parsed === 'string' ? JSON.parse(parsed) : parsed;
    assert.deepEqual(again, {
      password: REDACTED,
      url: 'postgres://u:***@h/db?sslpassword=***',
      argv: ['--token', REDACTED, '--api-key=***'],
      log: 'PGPASSWORD=***\nAuthorization: Bearer ***',
      n: 1,
    });
  }
});

describe('redactArgv', () => {
  const cases: Array<[name: string, argv: string[], expected: string[]]> = [
    ['--password X', ['--password', 'a b', '--user', 'u'], ['--password', '***', '--user', 'u']],
    ['--token X', ['--token', '-starts-with-dash'], ['--token', '***']],
    ['--password=X keeps nothing of X', ['--password=a,b c'], ['--password=***']],
    ['env assignment', ['PGPASSWORD=a;b', 'psql'], ['PGPASSWORD=***', 'psql']],
    ['--no-password is boolean', ['--no-password', '--host', 'h'], ['--no-password', '--host', 'h']],
    ['-p is left alone', ['-p', '5432'], ['-p', '5432']],
    ['flag last', ['x', '--token'], ['x', '--token']],
    ['empty value', ['--token', ''], ['--token', '']],
    ['URL argument', ['--url', 'postgres://u:pw@h/db'], ['--url', 'postgres://u:***@h/db']],
    ['header argument', ['-H', 'Authorization: Bearer abc'], ['-H', 'Authorization: Bearer ***']],
    [
      'phase ids untouched',
      ['--run-id', 'run 1/α', '--phase-id', `p "q" 'x' 日本 🧪`],
      ['--run-id', 'run 1/α', '--phase-id', `p "q" 'x' 日本 🧪`],
    ],
  ];
  for (const [name, argv, expected] of cases) {
    test(name, () => {
      const copy = [...argv];
      assert.deepEqual(redactArgv(argv), expected);
      assert.deepEqual(argv, copy, 'not mutated');
      assert.deepEqual(redactArgv(expected), expected, 'idempotent');
    });
  }
  test('known values', () => {
    assert.deepEqual(redactArgv(['--note', 'hunter22!'], ['hunter22']), ['--note', '***!']);
  });
});

describe('redactDeep', () => {
  test('strings, secret-named keys, other values', () => {
    const input = {
      password: 'x',
      token: '',
      api_key: 42,
      nested: [{ Authorization: 'Bearer a', url: 'postgres://u:pw@h/db', ok: true }],
      log: 'PGPASSWORD=x',
      n: 1.5,
      none: null,
      'postgres://u:pw@h': 'key with a secret',
    };
    assert.deepEqual(redactDeep(input), {
      password: REDACTED,
      token: '',
      api_key: 42,
      nested: [{ Authorization: REDACTED, url: 'postgres://u:***@h/db', ok: true }],
      log: 'PGPASSWORD=***',
      n: 1.5,
      none: null,
      'postgres://u:***@h': 'key with a secret',
    });
  });
  test('never mutates and returns new objects', () => {
    const input = { a: { password: 'x' }, list: ['postgres://u:pw@h'] };
    const snapshot = structuredClone(input);
    const out = redactDeep(input);
    assert.deepEqual(input, snapshot);
    assert.notEqual(out, input);
    assert.notEqual(out.a, input.a);
    assert.notEqual(out.list, input.list);
  });
  test('cycles become ***, shared objects stay shared', () => {
    const shared = { password: 'x' };
    const cyclic: Record<string, unknown> = { shared, again: shared, list: [] as unknown[] };
    cyclic.self = cyclic;
    (cyclic.list as unknown[]).push(cyclic.list);
    const out = redactDeep(cyclic) as Record<string, unknown>;
    assert.equal(out.self, REDACTED);
    assert.deepEqual(out.list, [REDACTED]);
    assert.deepEqual(out.shared, { password: REDACTED });
    assert.equal(out.shared, out.again);
  });
  test('scalars and known values', () => {
    assert.equal(redactDeep('said hunter22', ['hunter22']), 'said ***');
    for (const v of [1, true, null, undefined]) assert.equal(redactDeep(v), v);
  });
  test('a __proto__ key stays data', () => {
    const out = redactDeep(JSON.parse('{"__proto__": {"password": "x"}}')) as object;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { password: REDACTED });
  });
});

describe('secretValuesOf', () => {
  const cases: Array<[input: string, values: string[]]> = [
    ['postgres://drain:p%40ss%2Fw0rd@h:5432/db', ['p%40ss%2Fw0rd', 'p@ss/w0rd']],
    ['postgres://u:plain@h/db', ['plain']],
    ['postgres://h/db?user=u&password=a%20b&sslpassword=k', ['a%20b', 'a b', 'k']],
    ['postgres://u@h/db', []],
    ['postgres://u:***@h/db', []],
    ["host=db password='x\\'y'", ["x\\'y", "x'y"]],
    ['not a url', []],
    ['', []],
  ];
  for (const [input, values] of cases) {
    test(JSON.stringify(input), () => assert.deepEqual(secretValuesOf(input), values));
  }
});

describe('with the worker DATABASE_URL (from the old sim redactSecrets)', () => {
  const url = 'postgres://drain:p%40ss%2Fw0rd@127.0.0.1:5432/autopack';
  test('removes the URL password, encoded or not, and any user:password@ part', () => {
    const text = `failed for ${url} (pw p@ss/w0rd) and mysql://u:other@h/db`;
    const r = redactSecrets(text, secretValuesOf(url));
    assert.equal(
      r,
      'failed for postgres://drain:***@127.0.0.1:5432/autopack (pw ***) and mysql://u:***@h/db',
    );
  });
  test('leaves text without secrets alone', () => {
    const known = secretValuesOf('postgres://u:pw@h/db');
    assert.equal(
      redactSecrets('connect ECONNREFUSED 127.0.0.1:5432', known),
      'connect ECONNREFUSED 127.0.0.1:5432',
    );
    assert.equal(redactSecrets('x', secretValuesOf('not a url')), 'x');
  });
});

test('redaction never throws on garbage', () => {
  const garbage = [
    undefined,
    null,
    42,
    {},
    [],
    '\u0000\ud800',
    '@'.repeat(1000),
    '\\'.repeat(99),
  ] as unknown[];
  for (const g of garbage) {
    assert.doesNotThrow(() => redactUrl(g as string));
    assert.doesNotThrow(() => redactSecrets(g as string, g as string[]));
    assert.doesNotThrow(() => redactArgv(g as string[], g as string[]));
    assert.doesNotThrow(() => redactDeep(g, g as string[]));
    assert.doesNotThrow(() => secretValuesOf(g as string));
    assert.doesNotThrow(() => isSecretName(g as string));
  }
  assert.equal(redactSecrets(42 as unknown as string), '');
});

describe('large inputs', () => {
  test('5 MB of URLs, key=values and flags: each unit is redacted as on its own', () => {
    const unit =
      'postgres://u:hunter22@h/db?password=secret99&a=b=c token=abcdefgh x=y --password s3cr3t "token": "tt" ';
    const count = Math.ceil((5 << 20) / unit.length);
    const one = redactSecrets(unit);
    assert.equal(one.length, unit.length - 17);
    const out = redactSecrets(unit.repeat(count));
    assert.equal(out.length, one.length * count);
    assert.equal(out, one.repeat(count));
  });

  const MB = 1 << 20;
  const adversarial: Array<[name: string, input: string]> = [
    ['letters', 'a'.repeat(MB)],
    ['scheme without @', 'postgres://u:' + 'x'.repeat(MB)],
    ['many schemes', 'a://u:'.repeat(MB / 6)],
    ['at signs', '@'.repeat(MB)],
    ['equals signs', '='.repeat(MB)],
    ['password keys', 'password'.repeat(MB / 8)],
    ['unterminated quotes', "password='".repeat(MB / 10)],
    ['backslashes in quotes', "password='" + '\\'.repeat(MB)],
    ['escaped JSON keys', '\\"password\\":\\"'.repeat(MB / 16)],
    ['JSON keys', '"password":"'.repeat(MB / 12)],
    ['PEM headers', '-----BEGIN '.repeat(MB / 11)],
    ['flags', '--password "'.repeat(MB / 12)],
    ['URLs without slashes', 'x://y?a#b '.repeat(MB / 10)],
    ['one long name', 'a_'.repeat(MB / 2) + 'password=xyzw'],
  ];
  for (const [name, input] of adversarial) {
    test(`1 MB of ${name}: redacted, never longer`, () => {
      const out = redactSecrets(input);
      assert.ok(out.length <= input.length, `${out.length} > ${input.length}`);
      assert.equal(redactSecrets(out), out, 'idempotent');
    });
  }
});
