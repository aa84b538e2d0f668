import type { Queryable } from './pool.js';
import type { AttemptOutcome, AttemptVerdict } from '../domain/types.js';

/** Identifies one try of one attempt: `try` is the activity attempt (2+ after a crashed worker). */
export interface AttemptKey {
  sessionId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
}

const KEY_WHERE = 'session_id = $1 AND run_id = $2 AND phase_id = $3 AND attempt = $4 AND try = $5';
const keyParams = (k: AttemptKey) => [k.sessionId, k.runId, k.phaseId, k.attempt, k.tryNo];

/** Writes the row of a try that is starting (idempotent: a repeated start overwrites it). */
export async function startAttempt(
  db: Queryable,
  k: AttemptKey,
  r: {
    initialState: string | null;
    stdoutPath: string;
    stderrPath: string;
    workerIdentity: string;
    baselineCommit: string | null;
    startedAt: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO drain_attempts (session_id, run_id, phase_id, attempt, try, status, initial_state,
       stdout_path, stderr_path, worker_identity, baseline_commit, started_at)
     VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10, $11)
     ON CONFLICT (session_id, run_id, phase_id, attempt, try) DO UPDATE
       SET status = 'running', initial_state = EXCLUDED.initial_state, stdout_path = EXCLUDED.stdout_path,
           stderr_path = EXCLUDED.stderr_path, worker_identity = EXCLUDED.worker_identity,
           baseline_commit = EXCLUDED.baseline_commit, started_at = EXCLUDED.started_at`,
    [
      ...keyParams(k),
      r.initialState,
      r.stdoutPath,
      r.stderrPath,
      r.workerIdentity,
      r.baselineCommit,
      r.startedAt,
    ],
  );
}

export async function setAttemptProcess(db: Queryable, k: AttemptKey, pid: number): Promise<void> {
  await db.query(`UPDATE drain_attempts SET pid = $6, pgid = $6 WHERE ${KEY_WHERE}`, [...keyParams(k), pid]);
}

/** Final facts of a try. status: finished | reconciled | cancelled | interrupted. */
export async function finishAttempt(
  db: Queryable,
  k: AttemptKey,
  status: 'finished' | 'reconciled' | 'cancelled' | 'interrupted',
  o: AttemptOutcome,
): Promise<void> {
  await db.query(
    `INSERT INTO drain_attempts (session_id, run_id, phase_id, attempt, try, status, initial_state, final_state,
       success, return_code, signal, timed_out, duration_seconds, stdout_path, stderr_path, stdout_excerpt,
       stderr_excerpt, stdout_bytes, stderr_bytes, error_message, last_failure_reason, telemetry_events,
       telemetry_global_delta, llm_boundary_hit, baseline_commit, worker_identity, started_at, finished_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28)
     ON CONFLICT (session_id, run_id, phase_id, attempt, try) DO UPDATE SET
       status = EXCLUDED.status, final_state = EXCLUDED.final_state, success = EXCLUDED.success,
       return_code = EXCLUDED.return_code, signal = EXCLUDED.signal, timed_out = EXCLUDED.timed_out,
       duration_seconds = EXCLUDED.duration_seconds, stdout_path = EXCLUDED.stdout_path,
       stderr_path = EXCLUDED.stderr_path, stdout_excerpt = EXCLUDED.stdout_excerpt,
       stderr_excerpt = EXCLUDED.stderr_excerpt, stdout_bytes = EXCLUDED.stdout_bytes,
       stderr_bytes = EXCLUDED.stderr_bytes, error_message = EXCLUDED.error_message,
       last_failure_reason = EXCLUDED.last_failure_reason, telemetry_events = EXCLUDED.telemetry_events,
       telemetry_global_delta = EXCLUDED.telemetry_global_delta, llm_boundary_hit = EXCLUDED.llm_boundary_hit,
       finished_at = EXCLUDED.finished_at`,
    [
      ...keyParams(k),
      status,
      o.initialState,
      o.finalState,
      o.success,
      o.returnCode,
      o.signal,
      o.timedOut,
      o.durationSeconds,
      o.stdoutPath,
      o.stderrPath,
      o.stdoutExcerpt,
      o.stderrExcerpt,
      o.stdoutBytes,
      o.stderrBytes,
      o.errorMessage,
      o.lastFailureReason,
      o.telemetryEvents,
      o.telemetryGlobalDelta,
      o.llmBoundaryHit,
      o.baselineCommit,
      o.workerIdentity,
      o.startedAt,
      o.finishedAt,
    ],
  );
}

/** Marks a try left 'running' by a dead worker as interrupted (its logs stay where they are). */
export async function markInterrupted(db: Queryable, k: AttemptKey, note: string): Promise<number> {
  const res = await db.query(
    `UPDATE drain_attempts SET status = 'interrupted', finished_at = now(),
       duration_seconds = EXTRACT(EPOCH FROM (now() - started_at)), error_message = $6
     WHERE ${KEY_WHERE} AND status = 'running'`,
    [...keyParams(k), note],
  );
  return res.rowCount ?? 0;
}

/** Stores the workflow's judgement on the final try of an attempt. */
export async function recordVerdict(
  db: Queryable,
  k: Omit<AttemptKey, 'tryNo'>,
  v: AttemptVerdict,
): Promise<void> {
  await db.query(
    `UPDATE drain_attempts SET fingerprint = $5, failure_category = $6, yield_per_minute = $7,
       zero_yield_reason = $8
     WHERE session_id = $1 AND run_id = $2 AND phase_id = $3 AND attempt = $4 AND status <> 'interrupted'`,
    [
      k.sessionId,
      k.runId,
      k.phaseId,
      k.attempt,
      v.fingerprint,
      v.category,
      v.yieldPerMinute,
      v.zeroYieldReason,
    ],
  );
}

export interface AttemptRow {
  id: string;
  session_id: string;
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
}

export async function listSessionAttempts(db: Queryable, sessionId: string): Promise<AttemptRow[]> {
  const res = await db.query<AttemptRow>('SELECT * FROM drain_attempts WHERE session_id = $1 ORDER BY id', [
    sessionId,
  ]);
  return res.rows;
}

/** The try of an attempt that already recorded its outcome (a retry after that must not record twice). */
export async function finalTryOf(db: Queryable, k: Omit<AttemptKey, 'tryNo'>): Promise<AttemptRow | null> {
  const res = await db.query<AttemptRow>(
    `SELECT * FROM drain_attempts
     WHERE session_id = $1 AND run_id = $2 AND phase_id = $3 AND attempt = $4
       AND status IN ('finished', 'reconciled')
     ORDER BY try DESC LIMIT 1`,
    [k.sessionId, k.runId, k.phaseId, k.attempt],
  );
  return res.rows[0] ?? null;
}

const n = (v: unknown): number => (v == null ? 0 : Number(v));

/** Rebuilds the outcome a finished try recorded. */
export function outcomeFromRow(r: AttemptRow): AttemptOutcome {
  return {
    runId: r.run_id,
    phaseId: r.phase_id,
    attempt: r.attempt,
    initialState: r.initial_state,
    finalState: r.final_state,
    success: Boolean(r.success),
    returnCode: r.return_code,
    signal: r.signal,
    timedOut: r.timed_out,
    cancelled: false,
    reconciled: r.status === 'reconciled',
    durationSeconds: n(r.duration_seconds),
    stdoutPath: r.stdout_path,
    stderrPath: r.stderr_path,
    stdoutExcerpt: r.stdout_excerpt ?? '',
    stderrExcerpt: r.stderr_excerpt ?? '',
    stdoutBytes: n(r.stdout_bytes),
    stderrBytes: n(r.stderr_bytes),
    lastFailureReason: r.last_failure_reason,
    errorMessage: r.error_message,
    llmBoundaryHit: Boolean(r.llm_boundary_hit),
    telemetryEvents: n(r.telemetry_events),
    telemetryGlobalDelta: n(r.telemetry_global_delta),
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : new Date(r.started_at).toISOString(),
    workerIdentity: r.worker_identity ?? '',
    baselineCommit: r.baseline_commit,
  };
}
