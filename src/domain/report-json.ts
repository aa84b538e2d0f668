/**
 * The session JSON (the original's `<session-id>.json`) built from the workflow's durable
 * state and the drain_attempts rows. Pure: no Node builtins, no I/O — it also runs inside
 * Temporal's workflow sandbox. The output is always plain JSON: no Set/Map/Date/undefined/
 * NaN/Infinity anywhere, so JSON.parse(JSON.stringify(x)) deep-equals x.
 */
import type { AttemptRow, CaptureRow } from './rows.js';
import type { SessionState } from './session-state.js';
import type { DrainConfig } from './types.js';
import { peakParallel, spansOf } from './overlap.js';
import { unpackSkips } from './skip-reasons.js';

/** The session state without the bulky bookkeeping the report does not need. */
export type SessionSnapshot = Omit<SessionState, 'attempts' | 'done' | 'recent' | 'log'>;

export function snapshotOf(s: SessionState): SessionSnapshot {
  const { attempts: _a, done: _d, recent: _r, log: _l, ...rest } = s;
  return rest;
}

/** One entry of `results[]`: the original DrainResult fields (snake_case) plus ours. */
export interface DrainResultJson {
  run_id: string;
  phase_id: string;
  attempt: number;
  try: number;
  status: string;
  initial_state: string | null;
  final_state: string | null;
  success: boolean;
  error_message: string | null;
  last_failure_reason: string | null;
  timed_out: boolean;
  /** Stopped by --stall-seconds (timed_out is true as well); present only when true. */
  stalled?: boolean;
  signal: string | null;
  subprocess_returncode: number | null;
  subprocess_duration_seconds: number | null;
  subprocess_stdout_path: string | null;
  subprocess_stderr_path: string | null;
  subprocess_stdout_excerpt: string | null;
  subprocess_stderr_excerpt: string | null;
  stdout_bytes: number | null;
  stderr_bytes: number | null;
  failure_fingerprint: string | null;
  failure_category: string | null;
  telemetry_events_collected: number | null;
  telemetry_global_delta: number | null;
  telemetry_yield_per_minute: number | null;
  llm_boundary_hit: boolean;
  zero_yield_reason: string | null;
  baseline_commit: string | null;
  worker_identity: string | null;
  /** started_at, ISO 8601 (null only if the row's timestamp is unreadable). */
  timestamp: string | null;
  finished_at: string | null;
  /**
   * Tokens the phase spent during the try (phases.tokens_used at end − at start; null: unknown,
   * e.g. a backlog without the column), the run's meanwhile, and the readings. Absent in rows of
   * older versions.
   */
  tokens_spent?: number | null;
  run_tokens_spent?: number | null;
  phase_tokens_before?: number | null;
  phase_tokens_after?: number | null;
  /** The failure was already known when the attempt started: its fingerprint was stopped (this session) or remembered (failure memory). */
  known_failure?: 'stopped' | 'remembered';
}

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

export interface SkippedJson {
  run_id: string;
  phase_id: string;
  reason: string;
}

export interface PlannedJson {
  run_id: string;
  phase_id: string;
  phase_index: number;
  category: string;
}

/** One T0 baseline capture try (a drain_baseline_captures row). */
export interface BaselineCaptureJson {
  id: string;
  /** The commit (or `nogit:<workspace>:<session>` outside a git checkout). */
  commit: string;
  session_id: string;
  attempt: number;
  /** running | ok | failed | timeout | interrupted; only ok is a baseline. */
  status: string;
  exit_code: number | null;
  signal: string | null;
  duration_seconds: number | null;
  artifact_path: string | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
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
// Value coercion (pg returns bigint as string; activity payloads turn Dates into strings).

/** A finite number, or null (null/undefined/garbage/NaN/±Infinity). */
export function toNum(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && v.trim() !== '') n = Number(v);
  else return null;
  return Number.isFinite(n) ? n : null;
}

const toStr = (v: unknown): string | null =>
  typeof v === 'string' ? v : v === null || v === undefined ? null : String(v);

/** ISO 8601 of a Date, an ISO string or epoch milliseconds; null when absent or invalid. */
export function toIso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  const d = v instanceof Date ? v : typeof v === 'number' ? new Date(v) : null;
  return d !== null && Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/** Code-unit order: deterministic, locale-independent. */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sets an own enumerable property, so keys such as `__proto__` stay ordinary data. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function toArray(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  return [];
}

/** Distinct strings, first occurrence order (the original's sets). */
function uniqStrings(v: unknown): string[] {
  const seen = new Set<string>();
  for (const x of toArray(v)) if (typeof x === 'string') seen.add(x);
  return [...seen];
}

function countRecord(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v && typeof v === 'object') {
    for (const [k, c] of Object.entries(v)) {
      const n = toNum(c);
      if (n !== null) setOwn(out, k, n);
    }
  }
  return out;
}

/**
 * A deep copy that is plain JSON: undefined/functions dropped (null inside arrays, like
 * JSON.stringify), non-finite numbers → null, bigint → number (string if unsafe),
 * Date → ISO, Set → array, Map → object, cycles → null.
 */
export function jsonSafe(v: unknown, path: object[] = []): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v !== 'object') return undefined;
  if (v instanceof Date) return toIso(v);
  if (path.includes(v)) return null;
  const inner = [...path, v];
  if (Array.isArray(v) || v instanceof Set) {
    return [...(v as Iterable<unknown>)].map((x) => jsonSafe(x, inner) ?? null);
  }
  const out: Record<string, unknown> = {};
  const entries = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x]) : Object.entries(v);
  for (const [k, x] of entries) {
    const safe = jsonSafe(x, inner);
    if (safe !== undefined) setOwn(out, k as string, safe);
  }
  return out;
}

// ---------------------------------------------------------------------------------------

export function drainResultJson(row: AttemptRow): DrainResultJson {
  return {
    run_id: String(row.run_id),
    phase_id: String(row.phase_id),
    attempt: toNum(row.attempt) ?? 0,
    try: toNum(row.try) ?? 1,
    status: String(row.status),
    initial_state: toStr(row.initial_state),
    final_state: toStr(row.final_state),
    success: row.success === true,
    error_message: toStr(row.error_message),
    last_failure_reason: toStr(row.last_failure_reason),
    timed_out: row.timed_out === true,
    ...(row.outcome?.stalled === true ? { stalled: true } : {}),
    signal: toStr(row.signal),
    subprocess_returncode: toNum(row.return_code),
    subprocess_duration_seconds: toNum(row.duration_seconds),
    subprocess_stdout_path: toStr(row.stdout_path),
    subprocess_stderr_path: toStr(row.stderr_path),
    subprocess_stdout_excerpt: toStr(row.stdout_excerpt),
    subprocess_stderr_excerpt: toStr(row.stderr_excerpt),
    stdout_bytes: toNum(row.stdout_bytes),
    stderr_bytes: toNum(row.stderr_bytes),
    failure_fingerprint: toStr(row.fingerprint),
    failure_category: toStr(row.failure_category),
    telemetry_events_collected: toNum(row.telemetry_events),
    telemetry_global_delta: toNum(row.telemetry_global_delta),
    telemetry_yield_per_minute: toNum(row.yield_per_minute),
    llm_boundary_hit: row.llm_boundary_hit === true,
    zero_yield_reason: toStr(row.zero_yield_reason),
    baseline_commit: toStr(row.baseline_commit),
    worker_identity: toStr(row.worker_identity),
    timestamp: toIso(row.started_at),
    finished_at: toIso(row.finished_at),
    ...('tokens_spent' in row
      ? {
          tokens_spent: toNum(row.tokens_spent),
          run_tokens_spent: toNum(row.run_tokens_spent),
          phase_tokens_before: toNum(row.phase_tokens_before),
          phase_tokens_after: toNum(row.phase_tokens_after),
        }
      : {}),
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

export function baselineCaptureJson(row: CaptureRow): BaselineCaptureJson {
  return {
    id: String(row.id),
    commit: String(row.commit_sha),
    session_id: String(row.session_id),
    attempt: toNum(row.attempt) ?? 0,
    status: String(row.status),
    exit_code: toNum(row.exit_code),
    signal: toStr(row.signal),
    duration_seconds: toNum(row.duration_seconds),
    artifact_path: toStr(row.artifact_path),
    error: toStr(row.error),
    started_at: toIso(row.started_at),
    finished_at: toIso(row.finished_at),
  };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export interface ApiServersJson {
  started: number;
  restarted: number;
  slots: Array<{ slot: number; url: string; pids: number[] }>;
}

/** The managed API servers seen in the attempts' outcomes (null when none was managed). */
export function apiServersOf(rows: AttemptRow[]): ApiServersJson | null {
  const slots = new Map<number, { slot: number; url: string; pids: number[] }>();
  for (const row of rows) {
    const a = row.outcome?.apiServer;
    if (!a) continue;
    const s = slots.get(a.slot) ?? { slot: a.slot, url: a.url, pids: [] };
    if (!s.pids.includes(a.pid)) s.pids.push(a.pid);
    slots.set(a.slot, s);
  }
  if (slots.size === 0) return null;
  const list = [...slots.values()].sort((x, y) => x.slot - y.slot);
  const started = list.reduce((n, s) => n + s.pids.length, 0);
  return { started, restarted: started - list.length, slots: list };
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
  const n = (v: unknown): number => toNum(v) ?? 0;
  const drainSeconds = n(s.drainSeconds);
  const events = n(s.telemetryEvents);

  const reasons: Record<string, string> = {};
  const stoppedRuns = Object.keys(s.stoppedRuns ?? {}).sort(byCodeUnit);
  for (const run of stoppedRuns) setOwn(reasons, run, String(s.stoppedRuns[run]));

  const rows = toArray(o.attempts) as AttemptRow[];
  const results: DrainResultJson[] = [];
  const interrupted: DrainResultJson[] = [];
  const inProgress: DrainResultJson[] = [];
  const knownFailures = o.knownFailures ?? {};
  for (const row of rows) {
    const r = drainResultJson(row);
    const known = Object.hasOwn(knownFailures, String(row.id)) ? knownFailures[String(row.id)] : undefined;
    if (known) r.known_failure = known;
    if (r.status === 'interrupted') interrupted.push(r);
    else if (r.status === 'running') inProgress.push(r);
    else results.push(r);
  }

  const settled = rows.filter((r) => r.status !== 'interrupted' && r.status !== 'running');
  const planned = toArray(s.planned) as SessionSnapshot['planned'];
  const json: SessionJson = {
    session_id: String(s.sessionId),
    started_at: String(s.startedAt),
    completed_at: o.completedAt ?? null,
    status: String(o.status),
    generation: n(s.generation),
    batch_size: n(o.config.batchSize),
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
    fingerprint_counts: countRecord(s.fingerprintCounts),
    stopped_fingerprints: uniqStrings(s.stoppedFingerprints),
    stopped_runs: stoppedRuns,
    stopped_run_reasons: reasons,
    consecutive_zero_yield: n(s.consecutiveZeroYield),
    sampled_runs: uniqStrings(s.sampledRuns),
    promising_runs: uniqStrings(s.promisingRuns),
    deprioritized_runs: uniqStrings(s.deprioritizedRuns),
    zero_yield_reasons: countRecord(s.zeroYield),
    llm_boundary_hits: n(s.llmBoundaryHits),
    total_lost: n(s.lost),
    total_abandoned: n(s.abandoned),
    total_processes_reaped: rows.reduce((sum, row) => sum + n(row.processes_reaped), 0),
    stop_reason: toStr(s.stopReason),
    concurrency: n(o.config.concurrency ?? 1) || 1,
    peak_parallel_attempts: peakParallel(
      spansOf(settled, (r) => ({
        runId: String(r.run_id),
        from: r.started_at,
        to: r.finished_at,
        label: '',
      })),
    ),
    skipped: toArray(s.packedSkips ? unpackSkips(s.packedSkips).skipped : s.skipped).map((k) => {
      const x = k as SessionSnapshot['skipped'][number];
      return { run_id: String(x.runId), phase_id: String(x.phaseId), reason: String(x.reason) };
    }),
    config: o.config,
    db: o.dbIdentity ?? null,
    results,
    interrupted_attempts: interrupted,
    in_progress: inProgress,
  };
  const api = apiServersOf(rows);
  if (api) json.api_servers = api;
  // Rows of older versions have no token columns: no figures rather than zeros.
  if (results.some((r) => 'tokens_spent' in r)) json.tokens = tokensJson(results);
  const captures = toArray(o.baselineCaptures) as CaptureRow[];
  if (captures.length > 0) json.baseline_captures = captures.map(baselineCaptureJson);
  if (planned.length > 0) {
    json.planned = planned.map((p) => ({
      run_id: String(p.runId),
      phase_id: String(p.phaseId),
      phase_index: n(p.phaseIndex),
      category: String(p.category),
    }));
  }
  // Final pass: whatever arrived (config, db identity), the file is plain JSON.
  return jsonSafe(json) as SessionJson;
}
