/**
 * src/runtime/metrics.ts: outcome labels, endpoint validation, the flag/env resolution of
 * `drain worker|dev --metrics-port`, and the real SDK exporter in this test process (install
 * once, our drain_* families on its /metrics, a second install on another port refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DRAIN_METRICS,
  executorEnded,
  executorStarted,
  installMetrics,
  leaseHeld,
  metricsAddress,
  metricsEndpoint,
  outcomeLabel,
  processesReaped,
  recordAttempt,
  type AttemptStatus,
} from '../../src/runtime/metrics.js';
import { metricsFrom } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/env.js';
import { getFreePort } from '../../src/runtime/ports.js';
import { outcome } from '../helpers/session-fixtures.js';

test('outcome labels: the row status, else success | timeout | failed', () => {
  const cases: [Partial<Parameters<typeof outcome>[2]>, AttemptStatus, string][] = [
    [{ success: true }, 'finished', 'success'],
    [{ success: false }, 'finished', 'failed'],
    [{ success: false, timedOut: true }, 'finished', 'timeout'],
    [{ success: true, reconciled: true }, 'finished', 'reconciled'],
    [{ success: false }, 'reconciled', 'reconciled'],
    [{ success: false, cancelled: true }, 'cancelled', 'cancelled'],
    [{ success: false }, 'interrupted', 'interrupted'],
    [{ success: false }, 'lost', 'lost'],
    [{ success: false }, 'abandoned', 'abandoned'],
  ];
  for (const [over, status, want] of cases) {
    assert.equal(outcomeLabel(outcome('r', 'p', over), status), want, `${JSON.stringify(over)} ${status}`);
  }
});

test('metricsEndpoint: ports 1-65535, IP literals only, IPv6 in brackets', () => {
  assert.deepEqual(metricsEndpoint('9464', '0.0.0.0'), {
    port: 9464,
    host: '0.0.0.0',
    bindAddress: '0.0.0.0:9464',
  });
  assert.equal(metricsEndpoint(9464, '::1').bindAddress, '[::1]:9464');
  for (const bad of ['0', '65536', 'abc', '12.5', '-1', ''])
    assert.throws(() => metricsEndpoint(bad, '127.0.0.1'), /metrics port must be an integer from 1 to 65535/);
  assert.throws(() => metricsEndpoint(9464, 'localhost'), /metrics host must be an IP address.*"localhost"/);
});

test('--metrics-port / DRAIN_METRICS_PORT: off by default; host 127.0.0.1 unless --metrics-host / DRAIN_METRICS_HOST', () => {
  assert.equal(metricsFrom({}, {}), null);
  assert.equal(metricsFrom({}, { DRAIN_METRICS_PORT: ' ' }), null);
  assert.equal(metricsFrom({ metricsPort: '9464' }, {})?.bindAddress, '127.0.0.1:9464');
  assert.equal(metricsFrom({}, { DRAIN_METRICS_PORT: '9500' })?.bindAddress, '127.0.0.1:9500');
  assert.equal(metricsFrom({ metricsPort: '9464', metricsHost: '0.0.0.0' }, {})?.bindAddress, '0.0.0.0:9464');
  const env = { DRAIN_METRICS_PORT: '9500', DRAIN_METRICS_HOST: '10.0.0.5' };
  assert.equal(metricsFrom({}, env)?.bindAddress, '10.0.0.5:9500');
  assert.equal(metricsFrom({ metricsPort: '9600', metricsHost: '::' }, env)?.bindAddress, '[::]:9600');
  assert.throws(() => metricsFrom({ metricsPort: 'x' }, {}), UsageError);
  assert.throws(() => metricsFrom({ metricsPort: 'x' }, {}), /^UsageError: --metrics-port must be/);
  assert.throws(() => metricsFrom({}, { DRAIN_METRICS_PORT: 'x' }), /^UsageError: DRAIN_METRICS_PORT must/);
  assert.throws(
    () => metricsFrom({ metricsPort: '1', metricsHost: 'db' }, {}),
    /--metrics-host must be an IP/,
  );
});

test('the record functions are no-ops before metrics are installed', () => {
  assert.equal(metricsAddress(), null);
  const o = outcome('r', 'p', { success: true });
  assert.equal(recordAttempt(o, 'finished'), o);
  executorStarted();
  executorEnded();
  leaseHeld(1);
  leaseHeld(-1);
  processesReaped(2);
});

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

test('installMetrics: drain_* on the SDK exporter, once per process', async () => {
  const port = await getFreePort();
  installMetrics(port, '127.0.0.1');
  assert.equal(metricsAddress(), `127.0.0.1:${port}`);
  installMetrics(String(port), '127.0.0.1'); // the same address again: nothing to do
  assert.throws(
    () => installMetrics(port + 1, '127.0.0.1'),
    new RegExp(`already exported on 127\\.0\\.0\\.1:${port}.*once per process.*:${port + 1}`),
  );
  let text = await scrape(port);
  for (const name of ['drain_telemetry_events_total', 'drain_processes_reaped_total'])
    assert.match(text, new RegExp(`^${name} 0$`, 'm'), `${name} present at 0`);

  recordAttempt(outcome('r', 'p', { success: true, durationSeconds: 42, telemetryEvents: 7 }), 'finished');
  recordAttempt(
    outcome('r', 'q', { lastFailureReason: 'patch apply failed', durationSeconds: 3 }),
    'finished',
  );
  executorStarted();
  executorStarted();
  executorEnded();
  leaseHeld(+1);
  processesReaped(3);
  text = await scrape(port);
  for (const [name, kind] of Object.entries(DRAIN_METRICS))
    assert.match(text, new RegExp(`^# TYPE ${name} ${kind}$`, 'm'), `${name} is a ${kind}`);
  assert.match(text, /^drain_attempts_total\{category="unknown",outcome="success"\} 1$/m);
  assert.match(text, /^drain_attempts_total\{category="patch",outcome="failed"\} 1$/m);
  assert.match(text, /^drain_attempt_duration_seconds_bucket\{outcome="success",le="60"\} 1$/m);
  assert.match(text, /^drain_attempt_duration_seconds_bucket\{outcome="success",le="30"\} 0$/m);
  assert.match(text, /^drain_telemetry_events_total 7$/m);
  assert.match(text, /^drain_telemetry_yield_per_minute_count 2$/m);
  assert.match(text, /^drain_executors_running 1$/m);
  assert.match(text, /^drain_leases_held 1$/m);
  assert.match(text, /^drain_processes_reaped_total 3$/m);
});
