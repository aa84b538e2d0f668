/**
 * Prometheus metrics of a drain worker, on ONE endpoint: the Temporal SDK's own runtime
 * metrics (`temporal_*`, exported by the SDK's Prometheus exporter) and ours (`drain_*`),
 * recorded through the same runtime's metric meter.
 *
 * `installMetrics(port, host)` installs the Temporal Runtime with a Prometheus exporter; it
 * must run before anything creates a NativeConnection or a Worker, and the Runtime can be
 * installed once per process: installing again on the same address does nothing, on another
 * address (or after the Runtime was created without metrics) is an error that says so.
 * The record functions are no-ops until then, and never throw: a metric must not fail a drain.
 *
 * Names as the exporter writes them (checked against a real scrape by test/e2e/metrics.test.ts):
 * custom metrics get no `temporal_` prefix, no unit suffix and no `_total` (so our counters
 * carry `_total` in their names); SDK counters have no `_total` either and SDK latencies are
 * histograms in milliseconds (the SDK defaults, which Temporal's own dashboards use).
 */
import net from 'node:net';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { MetricCounter, MetricGauge, MetricHistogram } from '@temporalio/common';
import { judgeAttempt } from '../domain/judge.js';
import { yieldPerMinute } from '../domain/zero-yield.js';
import type { AttemptOutcome, FailureCategory } from '../domain/types.js';

type MetricKind = 'counter' | 'gauge' | 'histogram';

/** Our metrics, by name, with the Prometheus type they are exported as. */
export const DRAIN_METRICS = {
  drain_attempts_total: 'counter',
  drain_attempt_duration_seconds: 'histogram',
  drain_telemetry_events_total: 'counter',
  drain_telemetry_yield_per_minute: 'histogram',
  drain_executors_running: 'gauge',
  drain_leases_held: 'gauge',
  drain_processes_reaped_total: 'counter',
} as const satisfies Record<string, MetricKind>;

/** The SDK's metrics that deploy/grafana uses, as a `drain worker` exports them after draining. */
const SDK_METRICS = {
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_activity_execution_latency: 'histogram',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_workflow_task_execution_latency: 'histogram',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
  temporal_workflow_completed: 'counter',
  temporal_request: 'counter',
  temporal_num_pollers: 'gauge',
} as const satisfies Record<string, MetricKind>;

/** Every metric family a dashboard may use. */
export const EXPORTED_METRICS: Readonly<Record<string, MetricKind>> = { ...SDK_METRICS, ...DRAIN_METRICS };

/** Bucket bounds of our histograms (the SDK's default buckets are milliseconds). */
const HISTOGRAM_BUCKETS = {
  drain_attempt_duration_seconds: [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600],
  drain_telemetry_yield_per_minute: [0.5, 1, 2, 5, 10, 20, 50, 100, 200],
};

/** The drain_attempts row status an attempt was recorded with. */
export type AttemptStatus = 'finished' | 'reconciled' | 'cancelled' | 'interrupted' | 'lost' | 'abandoned';
type OutcomeLabel =
  'success' | 'failed' | 'timeout' | 'cancelled' | 'reconciled' | 'interrupted' | 'lost' | 'abandoned';

/** The `outcome` label of an attempt: its row status, or for a finished one success|timeout|failed. */
export function outcomeLabel(o: AttemptOutcome, status: AttemptStatus): OutcomeLabel {
  if (status === 'reconciled' || (status === 'finished' && o.reconciled)) return 'reconciled';
  if (status !== 'finished') return status;
  if (o.success) return 'success';
  return o.timedOut ? 'timeout' : 'failed';
}

/**
 * Where the endpoint binds unless --metrics-host / DRAIN_METRICS_HOST says otherwise: this host
 * only (docker-compose.yml sets 0.0.0.0 for its workers, which Prometheus scrapes over the network).
 */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface MetricsEndpoint {
  port: number;
  host: string;
  /** `host:port`, `[host]:port` for IPv6: what the exporter binds. */
  bindAddress: string;
}

/** Validates a port and an IP literal; throws a message naming what is wrong (as `names` calls them). */
export function metricsEndpoint(
  port: string | number,
  host: string,
  names = { port: 'metrics port', host: 'metrics host' },
): MetricsEndpoint {
  const raw = String(port).trim();
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) {
    throw new Error(`${names.port} must be an integer from 1 to 65535, got "${raw}"`);
  }
  const version = net.isIP(host);
  if (!version)
    throw new Error(`${names.host} must be an IP address (e.g. 0.0.0.0, 127.0.0.1), got "${host}"`);
  return { port: n, host, bindAddress: version === 6 ? `[${host}]:${n}` : `${host}:${n}` };
}

interface Instruments {
  runtime: Runtime;
  attempts: MetricCounter;
  duration: MetricHistogram;
  events: MetricCounter;
  tokens: MetricCounter;
  yieldPerMinute: MetricHistogram;
  executors: MetricGauge;
  leases: MetricGauge;
  reaped: MetricCounter;
}

let installedAt: string | null = null;
let instruments: Instruments | null = null;
let executorsRunning = 0;
let leasesHeld = 0;

/** The address metrics are exported on, or null when they are not. */
export function metricsAddress(): string | null {
  return installedAt;
}

/**
 * Installs the Temporal Runtime (WARN logs, no signal handlers: the commands handle signals)
 * with the SDK's Prometheus exporter on host:port. Idempotent for the same address.
 */
export function installMetrics(port: string | number, host: string): MetricsEndpoint {
  const ep = metricsEndpoint(port, host);
  if (installedAt === ep.bindAddress) return ep;
  if (installedAt) {
    throw new Error(
      `metrics are already exported on ${installedAt}; the Temporal Runtime is installed once per process, so not also on ${ep.bindAddress}`,
    );
  }
  if (Runtime._instance) {
    throw new Error(
      'the Temporal Runtime was already created without metrics: install metrics before any connection or worker',
    );
  }
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      shutdownSignals: [],
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: ep.bindAddress, histogramBucketOverrides: HISTOGRAM_BUCKETS } },
      },
    });
  } catch (err) {
    throw new Error(`cannot export metrics on ${ep.bindAddress}: ${(err as Error).message}`);
  }
  installedAt = ep.bindAddress;
  const m = meters();
  // Present from the first scrape, at 0.
  safely(() => {
    m?.events.add(0);
    m?.reaped.add(0);
    m?.executors.set(0);
    m?.leases.set(0);
  });
  return ep;
}

/** Our instruments on the current Runtime (made again if the Runtime was re-created); null when off. */
function meters(): Instruments | null {
  const runtime = Runtime._instance; // never Runtime.instance(): that would create a Runtime
  if (!installedAt || !runtime) return null;
  if (instruments?.runtime === runtime) return instruments;
  const meter = runtime.metricMeter;
  instruments = {
    runtime,
    attempts: meter.createCounter('drain_attempts_total', '', 'Drain attempts by outcome and category'),
    duration: meter.createHistogram('drain_attempt_duration_seconds', 'float', 's', 'Attempt duration'),
    events: meter.createCounter('drain_telemetry_events_total', '', 'Telemetry rows written by attempts'),
    tokens: meter.createCounter(
      'drain_tokens_spent_total',
      '',
      "Tokens attempts spent (their phase's tokens_used, end minus start)",
    ),
    yieldPerMinute: meter.createHistogram(
      'drain_telemetry_yield_per_minute',
      'float',
      '',
      'Telemetry events per minute of finished attempts',
    ),
    executors: meter.createGauge('drain_executors_running', 'int', '', 'Executor processes running'),
    leases: meter.createGauge('drain_leases_held', 'int', '', 'Run leases taken minus released here'),
    reaped: meter.createCounter('drain_processes_reaped_total', '', 'Orphaned executor groups stopped'),
  };
  return instruments;
}

function safely(f: () => void): void {
  try {
    f();
  } catch {
    /* metrics never fail a drain */
  }
}

/**
 * Counts one recorded attempt (`category` defaults to the workflow's judgement of it) with its
 * duration, telemetry events and, when it finished, its yield. Returns `o`.
 */
export function recordAttempt<T extends AttemptOutcome>(
  o: T,
  status: AttemptStatus,
  category?: FailureCategory,
): T {
  const m = meters();
  if (!m) return o;
  safely(() => {
    const outcome = outcomeLabel(o, status);
    m.attempts.add(1, { outcome, category: category ?? judgeAttempt(o).category });
    m.duration.record(Math.max(0, o.durationSeconds || 0), { outcome });
    if (o.telemetryEvents > 0) m.events.add(o.telemetryEvents);
    const spent = o.tokens?.phase ?? null;
    if (spent !== null && spent > 0) m.tokens.add(spent, { outcome });
    if (status === 'finished')
      m.yieldPerMinute.record(yieldPerMinute(o.telemetryEvents, o.durationSeconds) ?? 0);
  });
  return o;
}

export function executorStarted(): void {
  executorsRunning++;
  safely(() => meters()?.executors.set(executorsRunning));
}

export function executorEnded(): void {
  executorsRunning = Math.max(0, executorsRunning - 1);
  safely(() => meters()?.executors.set(executorsRunning));
}

/**
 * +1 when this worker takes a run lease, -1 when it releases one. A lease is often released by
 * another worker than the one that took it, so one worker's value can be negative: sum over workers.
 */
export function leaseHeld(delta: number): void {
  leasesHeld += delta;
  safely(() => meters()?.leases.set(leasesHeld));
}

export function processesReaped(n: number): void {
  if (n > 0) safely(() => meters()?.reaped.add(n));
}
