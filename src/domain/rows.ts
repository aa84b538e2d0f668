/**
 * The rows the domain reads as they come from the database: a try of drain_attempts
 * (src/db/attempts.ts) and a capture of drain_baseline_captures (src/db/baselines.ts). Defined
 * here so that pure code (report-json.ts) needs nothing from src/db; src/db imports them.
 */
import type { AttemptOutcome } from './types.js';
import type { CaptureStatus } from './baseline-decision.js';

/**
 * One row of drain_attempts, every column (`SELECT *`); readers of fewer columns use a
 * `Pick` of it (src/db/verify-facts.ts, src/db/report-facts.ts). The optional columns (pgid
 * and those from tag on) are there in every row read; optional so that rows built by hand
 * (tests, fixtures) need not spell them all.
 */
export interface AttemptRow {
  id: string;
  session_id: string;
  exec_run_id: string;
  run_id: string;
  phase_id: string;
  attempt: number;
  try: number;
  status: string;
  initial_state: string | null;
  final_state: string | null;
  success: boolean | null;
  return_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_seconds: number | null;
  stdout_path: string | null;
  stderr_path: string | null;
  stdout_excerpt: string | null;
  stderr_excerpt: string | null;
  stdout_bytes: string | null;
  stderr_bytes: string | null;
  error_message: string | null;
  last_failure_reason: string | null;
  fingerprint: string | null;
  failure_category: string | null;
  telemetry_events: number | null;
  telemetry_global_delta: number | null;
  yield_per_minute: number | null;
  llm_boundary_hit: boolean | null;
  zero_yield_reason: string | null;
  baseline_commit: string | null;
  worker_identity: string | null;
  pid: number | null;
  started_at: Date;
  finished_at: Date | null;
  run_counts_before: Record<string, number> | null;
  run_counts_after: Record<string, number> | null;
  telemetry_by_table: Record<string, number> | null;
  phase_changed: boolean | null;
  interrupted_tries: number;
  outcome: AttemptOutcome | null;
  processes_reaped: number | null;
  phase_updated_before: Date | null;
  tag: string | null;
  pgid?: number | null;
  /** Baseline capture (migration 005). */
  baseline_status?: string | null;
  baseline_error?: string | null;
  /** bigint: a string from pg. */
  baseline_capture_id?: string | null;
  baseline_skip?: boolean | null;
  /** md5 of the phase's last_failure_reason when the try ended (migration 007). */
  final_reason_md5?: string | null;
  /** Fenced tries (migration 009): the supervisor's fence, host, the executor's end and log digests. */
  fence_at?: Date | null;
  host?: string | null;
  process_ended_at?: Date | null;
  process_exit_code?: number | null;
  process_signal?: string | null;
  supervisor_end?: string | null;
  stdout_sha256?: string | null;
  stderr_sha256?: string | null;
  /** Tokens (migration 010; bigint, so strings from pg; null: unknown). */
  phase_tokens_before?: string | number | null;
  phase_tokens_after?: string | number | null;
  run_tokens_before?: string | number | null;
  run_tokens_after?: string | number | null;
  tokens_spent?: string | number | null;
  run_tokens_spent?: string | number | null;
}

export interface CaptureRow {
  id: string;
  commit_sha: string;
  session_id: string;
  attempt: number;
  status: CaptureStatus;
  exit_code: number | null;
  signal: string | null;
  duration_seconds: number | null;
  artifact_path: string | null;
  error: string | null;
  host: string | null;
  worker_identity: string | null;
  pgid: number | null;
  backfilled: boolean;
  started_at: Date;
  finished_at: Date | null;
  /** A running capture whose claim lapsed (database clock). */
  expired: boolean;
}
