/**
 * The database reads of `drain verify` (one statement per function) and their mapping to
 * the plain facts of src/domain/verify.ts.
 */
import type { Queryable } from './pool.js';
import type { AttemptRow } from '../domain/rows.js';
import type { SessionRow } from './sessions.js';
import type { TryFacts, BaselineFacts, OtherSessionTry, RunCounts, SessionFacts } from '../domain/verify.js';

/** The columns of the drain_sessions row that verify reads. */
type SessionRecordRow = Pick<
  SessionRow,
  | 'session_id'
  | 'status'
  | 'started_at'
  | 'completed_at'
  | 'workspace'
  | 'config'
  | 'api_process_pattern'
  | 'api_processes_start'
  | 'api_processes_end'
>;

/** The session's drain_sessions row, or null. */
export async function getSessionRecord(db: Queryable, sessionId: string): Promise<SessionRecordRow | null> {
  const res = await db.query<SessionRecordRow>(
    `SELECT session_id, status, started_at, completed_at, workspace, config,
            api_process_pattern, api_processes_start, api_processes_end
     FROM drain_sessions WHERE session_id = $1`,
    [sessionId],
  );
  return res.rows[0] ?? null;
}

/** The columns of a try that verify reads (TRY_COLUMNS). */
type AttemptTryRow = Required<
  Pick<
    AttemptRow,
    | 'id'
    | 'exec_run_id'
    | 'run_id'
    | 'phase_id'
    | 'attempt'
    | 'try'
    | 'status'
    | 'initial_state'
    | 'final_state'
    | 'success'
    | 'return_code'
    | 'signal'
    | 'timed_out'
    | 'duration_seconds'
    | 'stdout_path'
    | 'stderr_path'
    | 'stdout_bytes'
    | 'stderr_bytes'
    | 'stdout_sha256'
    | 'stderr_sha256'
    | 'host'
    | 'fence_at'
    | 'process_ended_at'
    | 'error_message'
    | 'last_failure_reason'
    | 'baseline_commit'
    | 'baseline_status'
    | 'baseline_skip'
    | 'baseline_capture_id'
    | 'run_counts_before'
    | 'run_counts_after'
    | 'telemetry_by_table'
    | 'phase_changed'
    | 'started_at'
    | 'finished_at'
  >
>;

/** The columns of a try that verify reads (of drain_attempts aliased `a`). */
const TRY_COLUMNS = `a.id::text AS id, a.exec_run_id, a.run_id, a.phase_id, a.attempt, a.try, a.status,
            a.initial_state, a.final_state, a.success, a.return_code, a.signal, a.timed_out, a.duration_seconds,
            a.stdout_path, a.stderr_path, a.stdout_bytes, a.stderr_bytes, a.stdout_sha256, a.stderr_sha256,
            a.host, a.fence_at, a.process_ended_at, a.error_message, a.last_failure_reason, a.baseline_commit,
            a.baseline_status, a.baseline_skip, a.baseline_capture_id::text AS baseline_capture_id,
            a.run_counts_before, a.run_counts_after, a.telemetry_by_table, a.phase_changed, a.started_at,
            a.finished_at`;

/** Every try of the session, in the order they were written. */
export async function listSessionTries(db: Queryable, sessionId: string): Promise<AttemptTryRow[]> {
  const res = await db.query<AttemptTryRow>(
    `SELECT ${TRY_COLUMNS} FROM drain_attempts a WHERE a.session_id = $1 ORDER BY a.id`,
    [sessionId],
  );
  return res.rows;
}

/**
 * Tries of other sessions on the runs of this session's tries that were alive while one of
 * this session's was: each alive from started_at to the executor's recorded end, else the
 * try's end, else now (the same rule criterion 3 judges by, coarser: it also keeps tries
 * that ran no executor, which the criterion leaves out). By id.
 */
export async function listOtherSessionTriesAlongside(
  db: Queryable,
  sessionId: string,
): Promise<Array<AttemptTryRow & { session_id: string }>> {
  const res = await db.query<AttemptTryRow & { session_id: string }>(
    `SELECT ${TRY_COLUMNS}, a.session_id
     FROM drain_attempts a
     WHERE a.run_id IN (SELECT s.run_id FROM drain_attempts s WHERE s.session_id = $1)
       AND a.session_id <> $1
       AND EXISTS (
         SELECT 1 FROM drain_attempts m
         WHERE m.session_id = $1 AND m.run_id = a.run_id
           AND a.started_at < COALESCE(m.process_ended_at, m.finished_at, now())
           AND m.started_at < COALESCE(a.process_ended_at, a.finished_at, now()))
     ORDER BY a.id`,
    [sessionId],
  );
  return res.rows;
}

/** The database's clock now (what a try still running is alive until), ISO. */
export async function databaseNow(db: Queryable): Promise<string> {
  const res = await db.query<{ now: Date }>('SELECT now() AS now');
  return new Date(res.rows[0].now).toISOString();
}

interface BaselineRecordRow {
  id: string;
  commit_sha: string;
  session_id: string | null;
  attempt: number;
  status: string;
  exit_code: number | null;
  duration_seconds: number | null;
  error: string | null;
  backfilled: boolean;
  started_at: Date;
  finished_at: Date | null;
}

/** drain_baseline_captures rows (every capture try) of the given commits, by commit and id. */
export async function listBaselinesOfCommits(db: Queryable, commits: string[]): Promise<BaselineRecordRow[]> {
  const res = await db.query<BaselineRecordRow>(
    `SELECT id::text AS id, commit_sha, session_id, attempt, status, exit_code, duration_seconds, error,
            backfilled, started_at, finished_at
     FROM drain_baseline_captures WHERE commit_sha = ANY($1::text[]) ORDER BY commit_sha, id`,
    [commits],
  );
  return res.rows;
}

/**
 * token_budget_escalation_events rows of each final try's run/phase written while the try
 * ran (started_at .. finished_at), by drain_attempts id; tries without rows are absent.
 */
export async function countEscalationsByAttempt(
  db: Queryable,
  sessionId: string,
): Promise<Record<string, number>> {
  const res = await db.query<{ id: string; n: number }>(
    `SELECT a.id::text AS id, count(e.event_id)::int AS n
     FROM drain_attempts a
     JOIN token_budget_escalation_events e
       ON e.run_id = a.run_id AND e.phase_id = a.phase_id
      AND (e.timestamp AT TIME ZONE 'UTC') >= a.started_at
      AND (e.timestamp AT TIME ZONE 'UTC') <= coalesce(a.finished_at, now())
     WHERE a.session_id = $1 AND a.status IN ('finished', 'reconciled', 'cancelled', 'lost', 'abandoned')
     GROUP BY a.id`,
    [sessionId],
  );
  return Object.fromEntries(res.rows.map((r) => [r.id, Number(r.n)]));
}

// ---------------------------------------------------------------------------------------
// Rows → facts.

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A jsonb object of counts ({"QUEUED":2,...}) as numbers; null when absent or not an object. */
function countsOf(v: unknown): RunCounts | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, Number(x) || 0]),
  );
}

export function sessionFacts(r: SessionRecordRow): SessionFacts {
  return {
    status: r.status,
    startedAt: iso(r.started_at),
    completedAt: iso(r.completed_at),
    workspace: r.workspace,
    config: r.config && typeof r.config === 'object' ? r.config : null,
    apiProcessPattern: r.api_process_pattern,
    apiProcessesStart: num(r.api_processes_start),
    apiProcessesEnd: num(r.api_processes_end),
  };
}

export function tryFacts(r: AttemptTryRow): TryFacts {
  return {
    id: r.id,
    execRunId: r.exec_run_id ?? '',
    runId: r.run_id,
    phaseId: r.phase_id,
    attempt: r.attempt,
    tryNo: r.try,
    status: r.status,
    initialState: r.initial_state,
    finalState: r.final_state,
    success: r.success,
    returnCode: r.return_code,
    signal: r.signal,
    timedOut: r.timed_out,
    durationSeconds: num(r.duration_seconds),
    stdoutPath: r.stdout_path,
    stderrPath: r.stderr_path,
    stdoutBytes: num(r.stdout_bytes),
    stderrBytes: num(r.stderr_bytes),
    stdoutSha256: r.stdout_sha256 ?? null,
    stderrSha256: r.stderr_sha256 ?? null,
    host: r.host ?? null,
    fenceAt: iso(r.fence_at ?? null),
    processEndedAt: iso(r.process_ended_at ?? null),
    errorMessage: r.error_message,
    lastFailureReason: r.last_failure_reason,
    baselineCommit: r.baseline_commit,
    baselineStatus: r.baseline_status ?? null,
    baselineSkip: r.baseline_skip ?? null,
    baselineCaptureId: r.baseline_capture_id ?? null,
    runCountsBefore: countsOf(r.run_counts_before),
    runCountsAfter: countsOf(r.run_counts_after),
    telemetryByTable: countsOf(r.telemetry_by_table),
    phaseChanged: r.phase_changed,
    startedAt: iso(r.started_at) as string,
    finishedAt: iso(r.finished_at),
  };
}

export function otherSessionTryFacts(r: AttemptTryRow & { session_id: string }): OtherSessionTry {
  return { ...tryFacts(r), sessionId: r.session_id };
}

export function baselineFacts(r: BaselineRecordRow): BaselineFacts {
  return {
    id: r.id,
    commitSha: r.commit_sha,
    sessionId: r.session_id,
    attempt: r.attempt,
    status: r.status,
    exitCode: r.exit_code,
    durationSeconds: num(r.duration_seconds),
    error: r.error,
    backfilled: r.backfilled === true,
    startedAt: iso(r.started_at) as string,
    finishedAt: iso(r.finished_at),
  };
}
