/**
 * Attempt and capture rows as the session JSON (report-json.ts) shows them: `results[]`,
 * `baseline_captures[]` and the managed API servers the attempts' outcomes name. Pure: no Node
 * builtins, no I/O — it also runs inside Temporal's workflow sandbox.
 */
import type { AttemptRow, CaptureRow } from './rows.js';
import { toIso, toNum, toStr } from './json-values.js';

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

/** The attempts of a session, by what became of their tries. */
interface PartitionedResults {
  /** The final try of each attempt: rows whose status is neither 'interrupted' nor 'running'. */
  results: DrainResultJson[];
  /** Tries abandoned by a dead worker (status 'interrupted'). */
  interrupted: DrainResultJson[];
  /** Tries still running (status 'running'). */
  inProgress: DrainResultJson[];
}

/**
 * Each row as a result, marked known_failure when its id is in `knownFailures` (attempt row id →
 * stopped | remembered), and sorted into settled, interrupted and still running, in row order.
 */
export function partitionResults(
  rows: AttemptRow[],
  knownFailures: Record<string, 'stopped' | 'remembered'>,
): PartitionedResults {
  const out: PartitionedResults = { results: [], interrupted: [], inProgress: [] };
  for (const row of rows) {
    const r = drainResultJson(row);
    const known = Object.hasOwn(knownFailures, String(row.id)) ? knownFailures[String(row.id)] : undefined;
    if (known) r.known_failure = known;
    if (r.status === 'interrupted') out.interrupted.push(r);
    else if (r.status === 'running') out.inProgress.push(r);
    else out.results.push(r);
  }
  return out;
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
