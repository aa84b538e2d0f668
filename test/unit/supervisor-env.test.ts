// supervisorEnv / recordsMayUseTls (src/runtime/supervisor-pool.ts): a supervisor keeps
// NODE_EXTRA_CA_CERTS exactly when its records connection may use TLS, and nothing else changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordsMayUseTls, supervisorEnv } from '../../src/runtime/supervisor-pool.js';

const CASES: Array<[url: string, env: NodeJS.ProcessEnv, tls: boolean]> = [
  ['postgres://drain:pw@127.0.0.1:5432/autopack', {}, false],
  ['postgresql://drain@db.example.com/autopack?application_name=x', {}, false],
  ['postgres:///autopack?host=/var/run/postgresql', {}, false],
  ['postgres://h/db?sslmode=require', {}, true],
  ['postgres://h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem', {}, true],
  ['postgres://h/db?sslmode=prefer', {}, true],
  ['postgres://h/db?sslmode=disable', {}, false],
  ['postgres://h/db?ssl=true', {}, true],
  ['postgres://h/db?ssl=false', {}, false],
  ['postgres://h/db?ssl=0', {}, false],
  ['postgres://h/db?sslrootcert=/etc/ca.pem', {}, true],
  ['postgres://h/db', { PGSSLMODE: 'require' }, true],
  ['postgres://h/db', { PGSSLMODE: 'disable' }, false],
  ['not a url', {}, true],
];

test('recordsMayUseTls: as pg decides from the URL and PGSSLMODE', () => {
  for (const [url, env, tls] of CASES)
    assert.equal(recordsMayUseTls(url, env), tls, `${url} ${JSON.stringify(env)}`);
});

test('supervisorEnv drops NODE_EXTRA_CA_CERTS only when TLS cannot be used, and keeps everything else', () => {
  const base = { PATH: '/usr/bin', HOME: '/root', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca.pem' };
  for (const [url, env, tls] of CASES) {
    const out = supervisorEnv({ ...base, ...env }, url);
    assert.equal(out.NODE_EXTRA_CA_CERTS, tls ? base.NODE_EXTRA_CA_CERTS : undefined, url);
    assert.deepEqual(
      { ...out, NODE_EXTRA_CA_CERTS: undefined },
      { ...base, ...env, NODE_EXTRA_CA_CERTS: undefined },
    );
  }
  const none = { PATH: '/usr/bin' };
  assert.equal(supervisorEnv(none, 'postgres://h/db'), none, 'nothing to drop: the same object');
});
