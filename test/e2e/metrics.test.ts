/**
 * `drain worker --metrics-port P` end to end: a real worker subprocess drains a success and a
 * failure, then its /metrics (the Temporal SDK's own Prometheus exporter) is scraped: the SDK's
 * temporal_* families and our drain_* ones, every family the Grafana dashboard uses
 * (EXPORTED_METRICS) with the right type, and values that match the database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { startTestEnv, eventually, type TestEnv } from '../helpers/env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { getFreePort } from '../../src/runtime/ports.js';
import { EXPORTED_METRICS } from '../../src/runtime/metrics.js';
import type { SessionResult } from '../../src/domain/messages.js';

const RUN = 'metrics-run';
const phases: PhaseSeed[] = [
  { runId: RUN, phaseId: 'm1-complete', sim: { scenario: 'complete', events: 3, seconds: 0.3 } },
  {
    runId: RUN,
    phaseId: 'm2-fail',
    lastFailureReason: 'patch apply failed',
    sim: { scenario: 'fail', reason: 'patch apply failed: hunk #2 FAILED', events: 2 },
  },
];

/**
 * The local addresses with a listening TCP socket on `port` (/proc/net/tcp and tcp6): IPv4
 * dotted (`127.0.0.1`, `0.0.0.0`), IPv6 as `::` for the any address, else its 32 hex digits.
 */
function listeningOn(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A: LISTEN
      const [hex, portHex] = f[1].split(':');
      if (parseInt(portHex, 16) !== port) continue;
      if (hex.length === 8)
        out.push(
          (hex.match(/../g) ?? [])
            .map((b) => parseInt(b, 16))
            .reverse()
            .join('.'),
        );
      else out.push(/^0+$/.test(hex) ? '::' : hex);
    }
  }
  return out;
}

/** Sum of the samples of one series name whose labels include all of `labels`. */
function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

describe('drain worker --metrics-port', () => {
  let env: TestEnv;
  let worker: ChildProcess & { output?: string };
  let port: number;
  let result: SessionResult;
  let text: string;

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, phases);
    port = await getFreePort();
    // No --metrics-host: the default binds this host only.
    worker = env.spawnWorker({ DRAIN_METRICS_HOST: '' }, ['--metrics-port', String(port)]);
    await eventually(() => /worker running/.test(worker.output ?? ''), 60_000, 'the worker to start');
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'metrics-session',
      args: [{ batchSize: 2, phaseTimeoutSeconds: 30, maxAttemptsPerPhase: 1 }],
    });
    result = (await handle.result()) as SessionResult;
    // finishPhase (lease release) and the SDK's task metrics land just after the result.
    text = await eventually(
      async () => {
        const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return sampleSum(t, 'drain_leases_held') === 0 && /temporal_workflow_completed/.test(t) ? t : '';
      },
      20_000,
      'settled metrics',
    );
  });
  after(() => env?.teardown());

  test('the session drained one success and one failure', () => {
    assert.equal(result.processed, 2);
    assert.equal(result.succeeded, 1);
    assert.equal(result.failed, 1);
    assert.match(worker.output ?? '', new RegExp(`metrics: +http://127\\.0\\.0\\.1:${port}/metrics`));
  });

  test('the endpoint binds 127.0.0.1 by default, else the --metrics-host / DRAIN_METRICS_HOST address', async () => {
    assert.deepEqual(listeningOn(port), ['127.0.0.1'], 'the default worker listens on loopback only');
    const started: ChildProcess[] = [];
    try {
      const cases: Array<[env: NodeJS.ProcessEnv, flags: string[], want: string]> = [
        [{}, ['--metrics-host', '127.0.0.2'], '127.0.0.2'],
        [{ DRAIN_METRICS_HOST: '0.0.0.0' }, [], '0.0.0.0'],
      ];
      for (const [extra, flags, want] of cases) {
        const p = await getFreePort();
        const w = env.spawnWorker(extra, ['--metrics-port', String(p), ...flags]) as ChildProcess & {
          output?: string;
        };
        started.push(w);
        // The banner arrives in several chunks: wait for its metrics line, not only its first.
        const banner = new RegExp(`metrics: +http://${want.replace(/\./g, '\\.')}:${p}/metrics`);
        await eventually(
          () => /worker running/.test(w.output ?? '') && banner.test(w.output ?? ''),
          60_000,
          `a worker on ${want}:${p} saying so`,
        );
        assert.deepEqual(listeningOn(p), [want], `${JSON.stringify(extra)} ${flags.join(' ')}`);
        assert.match(w.output ?? '', banner);
        const res = await fetch(`http://${want === '0.0.0.0' ? '127.0.0.1' : want}:${p}/metrics`);
        assert.equal(res.status, 200);
        await res.text();
      }
    } finally {
      for (const w of started) if (w.exitCode === null) w.kill('SIGTERM');
      await Promise.all(started.map((w) => (w.exitCode === null ? once(w, 'exit') : null)));
    }
  });

  test('every family the dashboard uses is exported, with its type', (t) => {
    for (const [name, kind] of Object.entries(EXPORTED_METRICS))
      assert.match(text, new RegExp(`^# TYPE ${name} ${kind}$`, 'm'), `${name} (${kind}) in the scrape`);
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    t.diagnostic(`families: ${families.join(', ')}`);
    for (const line of text.split('\n'))
      if (/^drain_/.test(line) && !/_bucket\{/.test(line)) t.diagnostic(line);
  });

  test('SDK metrics come from the same endpoint', () => {
    assert.ok((sampleSum(text, 'temporal_workflow_completed') ?? 0) >= 1, 'a completed workflow');
    assert.ok(
      (sampleSum(text, 'temporal_worker_task_slots_available', { worker_type: 'ActivityWorker' }) ?? 0) > 0,
    );
    assert.match(text, /^temporal_activity_execution_latency_bucket\{.*activity_type="drainPhase".*\} \d+$/m);
  });

  test('attempts by outcome and category, durations, telemetry events, executors back to 0', async () => {
    assert.equal(sampleSum(text, 'drain_attempts_total', { outcome: 'success' }), 1);
    assert.equal(sampleSum(text, 'drain_attempts_total', { outcome: 'failed', category: 'patch' }), 1);
    assert.equal(sampleSum(text, 'drain_attempts_total'), 2);
    assert.equal(sampleSum(text, 'drain_attempt_duration_seconds_count'), 2);
    assert.match(text, /^drain_attempt_duration_seconds_bucket\{outcome="success",le="\+Inf"\} 1$/m);
    assert.match(text, /^drain_attempt_duration_seconds_bucket\{outcome="failed",le="\+Inf"\} 1$/m);
    const { rows } = await env.pool.query(
      `SELECT (SELECT count(*) FROM token_estimation_v2_events WHERE run_id = $1)
            + (SELECT count(*) FROM token_budget_escalation_events WHERE run_id = $1) AS n`,
      [RUN],
    );
    assert.equal(Number(rows[0].n), 5, 'the executor wrote the seeded events');
    assert.equal(sampleSum(text, 'drain_telemetry_events_total'), 5);
    assert.equal(sampleSum(text, 'drain_telemetry_yield_per_minute_count'), 2);
    assert.equal(sampleSum(text, 'drain_executors_running'), 0);
    assert.equal(sampleSum(text, 'drain_processes_reaped_total'), 0);
  });

  test('a second worker on the same metrics port exits with a clear error', async () => {
    const second = env.spawnWorker({}, [
      '--metrics-port',
      String(port),
      '--metrics-host',
      '127.0.0.1',
    ]) as ChildProcess & {
      output?: string;
    };
    const [code] = await once(second, 'exit');
    assert.notEqual(code, 0);
    assert.match(
      second.output ?? '',
      new RegExp(`cannot export metrics on 127\\.0\\.0\\.1:${port}: .*in use`, 'i'),
    );
  });
});
