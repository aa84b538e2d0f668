import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DatabaseUrlError,
  databaseUrlFromEnv,
  parseDatabaseUrl,
  type BacklogLocation,
} from '../../src/db/database-url.js';
import { databaseTargets } from '../../src/db/targets.js';

const WS = '/srv/autopack';

test('parseDatabaseUrl: the URL forms Autopack resolves', () => {
  const cases: Array<[string, BacklogLocation]> = [
    [
      'sqlite:///autopack.db',
      {
        kind: 'sqlite',
        path: '/srv/autopack/autopack.db',
        url: 'sqlite:////srv/autopack/autopack.db',
        windows: false,
      },
    ],
    [
      'sqlite:///data/x.db',
      {
        kind: 'sqlite',
        path: '/srv/autopack/data/x.db',
        url: 'sqlite:////srv/autopack/data/x.db',
        windows: false,
      },
    ],
    [
      'sqlite:///../other/x.db',
      { kind: 'sqlite', path: '/srv/other/x.db', url: 'sqlite:////srv/other/x.db', windows: false },
    ],
    [
      'sqlite:////abs/path.db',
      { kind: 'sqlite', path: '/abs/path.db', url: 'sqlite:////abs/path.db', windows: false },
    ],
    [
      'sqlite:////abs/./dir/../path.db',
      { kind: 'sqlite', path: '/abs/path.db', url: 'sqlite:////abs/path.db', windows: false },
    ],
    [
      'sqlite:///with%20space.db',
      {
        kind: 'sqlite',
        path: '/srv/autopack/with space.db',
        url: 'sqlite:////srv/autopack/with space.db',
        windows: false,
      },
    ],
    [
      'SQLITE+pysqlite:///autopack.db',
      {
        kind: 'sqlite',
        path: '/srv/autopack/autopack.db',
        url: 'sqlite:////srv/autopack/autopack.db',
        windows: false,
      },
    ],
    [
      'sqlite:///C:/dev/x.db',
      { kind: 'sqlite', path: 'C:/dev/x.db', url: 'sqlite:///C:/dev/x.db', windows: true },
    ],
    [
      'sqlite:///C:\\dev\\x.db',
      { kind: 'sqlite', path: 'C:/dev/x.db', url: 'sqlite:///C:/dev/x.db', windows: true },
    ],
    [
      'sqlite:///d:\\Program Files\\auto pack.db',
      {
        kind: 'sqlite',
        path: 'd:/Program Files/auto pack.db',
        url: 'sqlite:///d:/Program Files/auto pack.db',
        windows: true,
      },
    ],
    [
      '  sqlite:///autopack.db\n',
      {
        kind: 'sqlite',
        path: '/srv/autopack/autopack.db',
        url: 'sqlite:////srv/autopack/autopack.db',
        windows: false,
      },
    ],
    ['postgres://u:p@h/db', { kind: 'postgres', url: 'postgres://u:p@h/db' }],
    [
      'postgresql://h:5433/db?sslmode=require',
      { kind: 'postgres', url: 'postgresql://h:5433/db?sslmode=require' },
    ],
    ['postgresql+psycopg2://u:p@h/db', { kind: 'postgres', url: 'postgresql://u:p@h/db' }],
  ];
  for (const [raw, want] of cases) assert.deepEqual(parseDatabaseUrl(raw, { workspace: WS }), want, raw);
});

test('parseDatabaseUrl: bad URLs are clear errors that never echo a password', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['sqlite://autopack.db', /three slashes/],
    ['sqlite:///', /not a file two processes can share/],
    ['sqlite:///:memory:', /not a file two processes can share/],
    ['sqlite:///x.db?mode=ro', /options .* not supported/],
    ['sqlite:///bad%zz.db', /%-escape/],
    ['mysql://root:hunter2@h/db', /unsupported database URL \(a mysql: URL\)/],
    ['hunter2', /unsupported database URL \(a value without a scheme\)/],
  ];
  for (const [raw, want] of cases) {
    assert.throws(
      () => parseDatabaseUrl(raw, { workspace: WS }),
      (err: Error) =>
        err instanceof DatabaseUrlError && want.test(err.message) && !err.message.includes('hunter2'),
      raw,
    );
  }
});

test('databaseUrlFromEnv: DATABASE_URL_FILE wins, is trimmed, and its errors name the file, not the content', () => {
  const files: Record<string, string> = { '/run/secrets/db': 'postgres://u:s3cret@h/db\n', '/empty': '  \n' };
  const read = (f: string) => {
    if (!(f in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return files[f];
  };
  assert.equal(
    databaseUrlFromEnv({ DATABASE_URL_FILE: '/run/secrets/db', DATABASE_URL: 'sqlite:///x.db' }, read),
    'postgres://u:s3cret@h/db',
  );
  assert.equal(databaseUrlFromEnv({ DATABASE_URL: ' sqlite:///x.db ' }, read), 'sqlite:///x.db');
  assert.equal(databaseUrlFromEnv({ DATABASE_URL: '' }, read), null);
  assert.equal(databaseUrlFromEnv({}, read), null);
  assert.throws(
    () => databaseUrlFromEnv({ DATABASE_URL_FILE: '/missing' }, read),
    /\/missing cannot be read \(ENOENT\)/,
  );
  assert.throws(() => databaseUrlFromEnv({ DATABASE_URL_FILE: '/empty' }, read), /\/empty is empty/);
});

test('databaseTargets: where the backlog and our records are', () => {
  const none = () => {
    throw new Error('no file');
  };
  assert.deepEqual(databaseTargets({}, WS, none), { backlog: null, recordsUrl: null });
  assert.deepEqual(
    databaseTargets({ DATABASE_URL: 'postgres://h/db', DRAIN_RECORDS_URL: 'postgres://o/r' }, WS, none),
    {
      backlog: { kind: 'postgres', url: 'postgres://h/db' },
      recordsUrl: 'postgres://h/db',
    },
  );
  const sqlite = databaseTargets({ DATABASE_URL: 'sqlite:///autopack.db' }, WS, none);
  assert.equal(sqlite.recordsUrl, null, 'the embedded Postgres keeps the records');
  assert.equal(sqlite.backlog?.kind === 'sqlite' && sqlite.backlog.path, '/srv/autopack/autopack.db');
  assert.equal(
    databaseTargets(
      { DATABASE_URL: 'sqlite:///a.db', DRAIN_RECORDS_URL: 'postgresql+psycopg2://r/db' },
      WS,
      none,
    ).recordsUrl,
    'postgresql://r/db',
  );
  assert.throws(
    () => databaseTargets({ DATABASE_URL: 'sqlite:///a.db', DRAIN_RECORDS_URL: 'sqlite:///b.db' }, WS, none),
    /DRAIN_RECORDS_URL must be a PostgreSQL URL/,
  );
});
