/**
 * The worker's known secret values come from every source it and its executors use: the
 * database URL, DATABASE_URL_FILE, PGPASSWORD, the pgpass file (PGPASSFILE or ~/.pgpass) and
 * secret-named environment variables; an executor printing one bare has it redacted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MIN_NAMED_SECRET,
  isSecretVarName,
  knownSecretValues,
  pgpassPasswords,
} from '../../src/domain/known-secrets.js';
import { redactSecrets } from '../../src/domain/redact.js';
import { collectKnownSecrets, pgpassPath } from '../../src/runtime/secret-sources.js';

const has = (values: string[], ...want: string[]) => {
  for (const w of want) assert.ok(values.includes(w), `${w} in ${JSON.stringify(values)}`);
};
const lacks = (values: string[], ...unwanted: string[]) => {
  for (const w of unwanted) assert.ok(!values.includes(w), `${w} not in ${JSON.stringify(values)}`);
};

test('environment variables named like *PASSWORD*, *TOKEN*, *SECRET*, *_KEY (any case)', () => {
  const env = {
    GITHUB_TOKEN: 'ghp_0123456789',
    openai_api_key: 'sk-abcdef123',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI',
    DB_PASSWORD: 'hunter22',
    SecretSauce: 'ketchup-mayo',
    STRIPE_KEY: 'rk_live_xyz',
    // not secret-named
    HOME: '/home/drain',
    KEYBOARD: 'qwerty-layout',
    PATH: '/usr/bin:/bin',
  };
  const v = knownSecretValues({ env });
  has(v, 'ghp_0123456789', 'sk-abcdef123', 'wJalrXUtnFEMI', 'hunter22', 'ketchup-mayo', 'rk_live_xyz');
  lacks(v, '/home/drain', 'qwerty-layout', '/usr/bin:/bin');
  for (const name of ['PGPASSWORD', 'x_token', 'MY_SECRET_2', 'api_key', 'Api_Key'])
    assert.ok(isSecretVarName(name), name);
  for (const name of ['KEYS', 'MONKEY', 'DB_PASSWORD_FILE', 'TOKEN_URL', 'SECRETS_DIR', 'HOME'])
    assert.ok(!isSecretVarName(name), name);
});

test(`secret-named values under ${MIN_NAMED_SECRET} characters, numbers and booleans are not taken`, () => {
  const v = knownSecretValues({
    env: {
      SHORT_TOKEN: 'abc12',
      MAX_TOKENS: '100000',
      TOKENIZERS_PARALLELISM: 'false',
      USE_SECRET: 'yes',
      LONG_ENOUGH_TOKEN: 'abc123',
    },
  });
  assert.deepEqual(v, ['abc123']);
});

test('PGPASSWORD is taken whatever its length (redactSecrets ignores values under 4 characters)', () => {
  has(knownSecretValues({ env: { PGPASSWORD: 'pw12' } }), 'pw12');
  assert.equal(
    redactSecrets('login pw12 ok', knownSecretValues({ env: { PGPASSWORD: 'pw12' } })),
    'login *** ok',
  );
});

test('pgpass: the password field of every line, escaped colons and backslashes, comments skipped', () => {
  const text = [
    '# host:port:db:user:password',
    'db.example:5432:autopack:drain:plain-pass',
    '*:*:*:admin:with\\:colon\\\\and-backslash',
    'h\\:weird:5432:*:u:after-escaped-host',
    'short:line:only',
    'h:5432:db:u:',
    'h:5432:db:u:ends:here',
    'crlf:5432:db:u:crlf-pass\r',
    '',
  ].join('\n');
  assert.deepEqual(pgpassPasswords(text), [
    'plain-pass',
    'with:colon\\and-backslash',
    'after-escaped-host',
    'ends',
    'crlf-pass',
  ]);
  has(knownSecretValues({ env: {}, pgpass: text }), 'plain-pass', 'with:colon\\and-backslash');
});

test('DATABASE_URL_FILE: the password of the URL in the file; the worker URL and DATABASE_URL too', () => {
  const v = knownSecretValues({
    databaseUrls: ['postgres://drain:worker-pw-1@db/autopack', 'postgres://rec:records-pw-0@rec/db'],
    env: { DATABASE_URL: 'postgresql://drain:env%40pw-2@db/autopack' },
    databaseUrlFile: 'postgresql://drain:file-pw-3@db:5432/autopack?sslpassword=ssl-pw-4\n',
  });
  has(v, 'worker-pw-1', 'records-pw-0', 'env%40pw-2', 'env@pw-2', 'file-pw-3', 'ssl-pw-4');
});

test('secret forms inside any variable are taken (a URL password, a conninfo password=)', () => {
  const v = knownSecretValues({
    env: {
      REDIS_URL: 'redis://:redis-pw-5@cache:6379/0',
      SERVICE_DSN: 'host=db port=5432 password=dsn-pw-6 dbname=x',
    },
  });
  has(v, 'redis-pw-5', 'dsn-pw-6');
});

test('collectKnownSecrets reads PGPASSFILE (else ~/.pgpass) and DATABASE_URL_FILE', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drain-secrets-'));
  try {
    const pgpass = path.join(dir, 'pgpass');
    writeFileSync(pgpass, 'db:5432:*:drain:from\\:pgpass-file\n');
    const urlFile = path.join(dir, 'url');
    writeFileSync(urlFile, 'postgres://drain:from-url-file@db/autopack\n');
    const env = { PGPASSFILE: pgpass, DATABASE_URL_FILE: urlFile, PGPASSWORD: 'from-pgpassword' };
    const v = collectKnownSecrets('postgres://drain:from-worker-url@db/x', env, '/nonexistent');
    has(v, 'from:pgpass-file', 'from-url-file', 'from-pgpassword', 'from-worker-url');

    // ~/.pgpass when PGPASSFILE is not set
    writeFileSync(path.join(dir, '.pgpass'), 'db:5432:*:drain:from-home-pgpass\n');
    assert.equal(pgpassPath({}, dir), path.join(dir, '.pgpass'));
    has(collectKnownSecrets(null, {}, dir), 'from-home-pgpass');
    // missing files are no source, never an error
    assert.deepEqual(
      collectKnownSecrets(null, { DATABASE_URL_FILE: path.join(dir, 'nope') }, '/nonexistent'),
      [],
    );

    const printed = 'connecting as drain with from:pgpass-file and from-url-file, PGPASSWORD from-pgpassword';
    assert.equal(redactSecrets(printed, v), 'connecting as drain with *** and ***, PGPASSWORD ***');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
