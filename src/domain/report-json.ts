/**
 * The session JSON (the original's `<session-id>.json`) built from the workflow's durable
 * state and the drain_attempts rows. Pure: no Node builtins, no I/O — it also runs inside
 * Temporal's workflow sandbox. The output is always plain JSON: no Set/Map/Date/undefined/
 * NaN/Infinity anywhere, so JSON.parse(JSON.stringify(x)) deep-equals x.
 *
 * The session document is put together here; its rows (results, captures, API servers) come
 * from report-rows-json.ts, its totals and tokens from report-totals-json.ts, and the value
 * coercion from json-values.ts. This module re-exports what its importers use of them.
 */
import type { AttemptRow, CaptureRow } from './rows.js';
import type { SessionState } from './session-state.js';
import type { DrainConfig } from './types.js';
import {
  byCodeUnit,
  countRecord,
  jsonSafe,
  setOwn,
  toArray,
  toNum,
  toStr,
  uniqStrings,
} from './json-values.js';
import {
  apiServersOf,
  baselineCaptureJson,
  partitionResults,
  type ApiServersJson,
  type BaselineCaptureJson,
  type DrainResultJson,
} from './report-rows-json.js';
import {
  attemptTotalsJson,
  parallelismJson,
  sessionCountsJson,
  tokensJson,
  type TokensJson,
} from './report-totals-json.js';
import { unpackSkips } from './skip-reasons.js';

export { byCodeUnit } from './json-values.js';
export { drainResultJson, type BaselineCaptureJson, type DrainResultJson } from './report-rows-json.js';
export type { TokensJson } from './report-totals-json.js';

/** The session state without the bulky bookkeeping the report does not need. */
export type SessionSnapshot = Omit<SessionState, 'attempts' | 'done' | 'recent' | 'log'>;

export function snapshotOf(s: SessionState): SessionSnapshot {
  const { attempts: _a, done: _d, recent: _r, log: _l, ...rest } = s;
  return rest;
}

interface SkippedJson {
  run_id: string;
  phase_id: string;
  reason: string;
}

interface PlannedJson {
  run_id: string;
  phase_id: string;
  phase_index: number;
  category: string;
}

/** The backlog a session drains, as its banner and session JSON show it (URL redacted). */
export interface DbIdentity {
  url: string;
  runs: number;
  phases: number;
  /** Phases by state when the session started (absent in files written before it was kept). */
  byState?: Record<string, number>;
}

export interface SessionJson {
  session_id: string;
  started_at: string;
  completed_at: string | null;
  /** running | paused | completed | cancelled | failed */
  status: string;
  generation: number;
  batch_size: number;
  total_processed: number;
  total_success: number;
  total_failed: number;
  total_timeouts: number;
  /** Of the timeouts, those stopped by --stall-seconds (no output, no database change). */
  total_stalled?: number;
  total_cancelled: number;
  total_interrupted: number;
  total_telemetry_events: number;
  total_telemetry_global_delta: number;
  total_drain_seconds: number;
  /** events / total drain seconds × 60, two decimals; null when no drain time was spent. */
  overall_yield_per_minute: number | null;
  fingerprint_counts: Record<string, number>;
  stopped_fingerprints: string[];
  /** Run ids, sorted (the original stored a set). */
  stopped_runs: string[];
  stopped_run_reasons: Record<string, string>;
  consecutive_zero_yield: number;
  sampled_runs: string[];
  promising_runs: string[];
  deprioritized_runs: string[];
  zero_yield_reasons: Record<string, number>;
  llm_boundary_hits: number;
  /** Attempts not judged: the run's lease was gone or the phase changed (lost), out of tries (abandoned). */
  total_lost?: number;
  total_abandoned?: number;
  /** Processes that escaped an executor's group (setsid, double forks) and were reaped: leaks stopped. */
  total_processes_reaped?: number;
  /**
   * Managed API servers (worker --api-command) the session's executors were given, per slot
   * in the order seen: a new pid on a slot is a restart.
   */
  api_servers?: ApiServersJson;
  stop_reason: string | null;
  /** Slots of the session (phases drained at once, never two of one run); absent in older files. */
  concurrency?: number;
  /** The most of its attempts that ran at the same moment (from the rows' start and end times). */
  peak_parallel_attempts?: number;
  skipped: SkippedJson[];
  /** Present only when the snapshot has planned phases (dry run). */
  planned?: PlannedJson[];
  config: DrainConfig;
  db: DbIdentity | null;
  /** The final try of each attempt: rows whose status is neither 'interrupted' nor 'running'. */
  results: DrainResultJson[];
  /** Tries abandoned by a dead worker (status 'interrupted'). */
  interrupted_attempts: DrainResultJson[];
  /** Tries still running when the file was written (status 'running'); empty once settled. */
  in_progress: DrainResultJson[];
  /** T0 baseline captures of this session and of the commits its attempts used; absent when none. */
  baseline_captures?: BaselineCaptureJson[];
  /** Tokens spent, per success, and wasted on known failures; absent in files of older versions. */
  tokens?: TokensJson;
}

// ---------------------------------------------------------------------------------------

/** What the session remembers of fingerprints, runs and zero-yield reasons. */
function memoryJson(
  s: SessionSnapshot,
): Pick<
  SessionJson,
  | 'fingerprint_counts'
  | 'stopped_fingerprints'
  | 'stopped_runs'
  | 'stopped_run_reasons'
  | 'consecutive_zero_yield'
  | 'sampled_runs'
  | 'promising_runs'
  | 'deprioritized_runs'
  | 'zero_yield_reasons'
> {
  const reasons: Record<string, string> = {};
  const stoppedRuns = Object.keys(s.stoppedRuns ?? {}).sort(byCodeUnit);
  for (const run of stoppedRuns) setOwn(reasons, run, String(s.stoppedRuns[run]));
  return {
    fingerprint_counts: countRecord(s.fingerprintCounts),
    stopped_fingerprints: uniqStrings(s.stoppedFingerprints),
    stopped_runs: stoppedRuns,
    stopped_run_reasons: reasons,
    consecutive_zero_yield: toNum(s.consecutiveZeroYield) ?? 0,
    sampled_runs: uniqStrings(s.sampledRuns),
    promising_runs: uniqStrings(s.promisingRuns),
    deprioritized_runs: uniqStrings(s.deprioritizedRuns),
    zero_yield_reasons: countRecord(s.zeroYield),
  };
}

/** The phases passed over, with why (packed in newer payloads, records in older ones). */
function skippedJson(s: SessionSnapshot): SkippedJson[] {
  return toArray(s.packedSkips ? unpackSkips(s.packedSkips).skipped : s.skipped).map((k) => {
    const x = k as SessionSnapshot['skipped'][number];
    return { run_id: String(x.runId), phase_id: String(x.phaseId), reason: String(x.reason) };
  });
}

/** The parts present only when there is something to show, in the file's key order. */
function addOptionalParts(
  json: SessionJson,
  rows: AttemptRow[],
  captureRows: CaptureRow[] | undefined,
  planned: SessionSnapshot['planned'],
): void {
  const api = apiServersOf(rows);
  if (api) json.api_servers = api;
  // Rows of older versions have no token columns: no figures rather than zeros.
  if (json.results.some((r) => 'tokens_spent' in r)) json.tokens = tokensJson(json.results);
  const captures = toArray(captureRows) as CaptureRow[];
  if (captures.length > 0) json.baseline_captures = captures.map(baselineCaptureJson);
  if (planned.length > 0) {
    json.planned = planned.map((p) => ({
      run_id: String(p.runId),
      phase_id: String(p.phaseId),
      phase_index: toNum(p.phaseIndex) ?? 0,
      category: String(p.category),
    }));
  }
}

export function buildSessionJson(o: {
  snapshot: SessionSnapshot;
  config: DrainConfig;
  attempts: AttemptRow[];
  status: string;
  completedAt: string | null;
  dbIdentity?: DbIdentity | null;
  /** drain_baseline_captures rows (src/db/baselines.ts listSessionCaptures). */
  baselineCaptures?: CaptureRow[];
  /** Attempt row id → its failure was already known (src/db/tokens.ts knownFailureAttempts). */
  knownFailures?: Record<string, 'stopped' | 'remembered'>;
}): SessionJson {
  const s = o.snapshot;
  const rows = toArray(o.attempts) as AttemptRow[];
  const { results, interrupted, inProgress } = partitionResults(rows, o.knownFailures ?? {});
  const planned = toArray(s.planned) as SessionSnapshot['planned'];
  const json: SessionJson = {
    session_id: String(s.sessionId),
    started_at: String(s.startedAt),
    completed_at: o.completedAt ?? null,
    status: String(o.status),
    ...sessionCountsJson(s, o.config),
    ...memoryJson(s),
    ...attemptTotalsJson(s, rows),
    stop_reason: toStr(s.stopReason),
    ...parallelismJson(o.config, rows),
    skipped: skippedJson(s),
    config: o.config,
    db: o.dbIdentity ?? null,
    results,
    interrupted_attempts: interrupted,
    in_progress: inProgress,
  };
  addOptionalParts(json, rows, o.baselineCaptures, planned);
  // Final pass: whatever arrived (config, db identity), the file is plain JSON.
  return jsonSafe(json) as SessionJson;
}
