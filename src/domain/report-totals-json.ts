/**
 * The session JSON's totals (report-json.ts): the counters of the session state, the attempts'
 * sums, how many ran at once, and the tokens spent. Pure: no Node builtins, no I/O — it also
 * runs inside Temporal's workflow sandbox.
 */
import type { AttemptRow } from './rows.js';
import type { DrainConfig } from './types.js';
import type { SessionJson, SessionSnapshot } from './report-json.js';
import type { DrainResultJson } from './report-rows-json.js';
import { round2, toNum } from './json-values.js';
import { peakParallel, spansOf } from './overlap.js';

/** The session's tokens (phases.tokens_used); every figure null ("n/a") when none was readable. */
export interface TokensJson {
  spent: number | null;
  /** spent / successes (null without a success or without a known spend). */
  per_success: number | null;
  /** Spent on attempts whose fingerprint had already been stopped or remembered. */
  wasted: number | null;
  wasted_attempts: number;
  /** Executor seconds of those attempts. */
  wasted_seconds: number;
  /** Attempts whose spend could not be read (no tokens_used column). */
  unknown_attempts: number;
}

/** A count: a finite number, else 0. */
const n = (v: unknown): number => toNum(v) ?? 0;

/** The session's counters, generation to overall_yield_per_minute. */
export function sessionCountsJson(
  s: SessionSnapshot,
  config: DrainConfig,
): Pick<
  SessionJson,
  | 'generation'
  | 'batch_size'
  | 'total_processed'
  | 'total_success'
  | 'total_failed'
  | 'total_timeouts'
  | 'total_stalled'
  | 'total_cancelled'
  | 'total_interrupted'
  | 'total_telemetry_events'
  | 'total_telemetry_global_delta'
  | 'total_drain_seconds'
  | 'overall_yield_per_minute'
> {
  const drainSeconds = n(s.drainSeconds);
  const events = n(s.telemetryEvents);
  return {
    generation: n(s.generation),
    batch_size: n(config.batchSize),
    total_processed: n(s.processed),
    total_success: n(s.succeeded),
    total_failed: n(s.failed),
    total_timeouts: n(s.timeouts),
    total_stalled: n(s.stalled),
    total_cancelled: n(s.cancelled),
    total_interrupted: n(s.interrupted),
    total_telemetry_events: events,
    total_telemetry_global_delta: n(s.telemetryGlobalDelta),
    total_drain_seconds: drainSeconds,
    overall_yield_per_minute: drainSeconds > 0 ? round2((events / drainSeconds) * 60) : null,
  };
}

/** LLM boundary hits, attempts lost and abandoned, and processes reaped over all rows. */
export function attemptTotalsJson(
  s: SessionSnapshot,
  rows: AttemptRow[],
): Pick<SessionJson, 'llm_boundary_hits' | 'total_lost' | 'total_abandoned' | 'total_processes_reaped'> {
  return {
    llm_boundary_hits: n(s.llmBoundaryHits),
    total_lost: n(s.lost),
    total_abandoned: n(s.abandoned),
    total_processes_reaped: rows.reduce((sum, row) => sum + n(row.processes_reaped), 0),
  };
}

/** The session's slots, and the most of its settled attempts that ran at the same moment. */
export function parallelismJson(
  config: DrainConfig,
  rows: AttemptRow[],
): Pick<SessionJson, 'concurrency' | 'peak_parallel_attempts'> {
  const settled = rows.filter((r) => r.status !== 'interrupted' && r.status !== 'running');
  return {
    concurrency: n(config.concurrency ?? 1) || 1,
    peak_parallel_attempts: peakParallel(
      spansOf(settled, (r) => ({
        runId: String(r.run_id),
        from: r.started_at,
        to: r.finished_at,
        label: '',
      })),
    ),
  };
}

/** The session's token figures from its settled results (see TokensJson). */
export function tokensJson(results: DrainResultJson[]): TokensJson {
  let spent = 0;
  let known = 0;
  let unknown = 0;
  let successes = 0;
  let wasted = 0;
  let wastedAttempts = 0;
  let wastedSeconds = 0;
  for (const r of results) {
    if (r.success) successes += 1;
    const t = r.tokens_spent;
    if (t === null || t === undefined) unknown += 1;
    else {
      spent += t;
      known += 1;
    }
    if (r.known_failure) {
      wastedAttempts += 1;
      wasted += t ?? 0;
      wastedSeconds += r.subprocess_duration_seconds ?? 0;
    }
  }
  const any = known > 0;
  return {
    spent: any ? spent : null,
    per_success: any && successes > 0 ? Math.round(spent / successes) : null,
    wasted: any ? wasted : null,
    wasted_attempts: wastedAttempts,
    wasted_seconds: round2(wastedSeconds),
    unknown_attempts: unknown,
  };
}
