import type pg from 'pg';
import type { Queryable } from './pool.js';
import type { AttemptOutcome, AttemptVerdict } from '../domain/types.js';
import type { TokenCounters } from '../domain/tokens.js';
import type { AttemptRow } from '../domain/rows.js';

export type { AttemptRow };
export { listSessionAttempts, listSessionAttemptsChanged, phasesStillFailed } from './session-attempts.js';

/**
 * Identifies one try of one attempt. `execRunId` is the workflow run that scheduled it (a
 * reset replays attempt 1 / try 1 in a new run and so gets rows of its own); `tryNo` is the
 * activity attempt (2+ after a crashed worker).
 */
export interface AttemptKey {
  sessionId: string;
  execRunId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
}
type AttemptOf = Omit<AttemptKey, 'tryNo'>;

const KEY_WHERE =
  'session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5 AND try = $6';
/**
 * A later try of the same attempt exists (`x`): this try is superseded, whatever its row says.
 * A try of a paused worker may start after a later try did; it must change nothing.
 */
const LATER_TRY = `x.session_id = $1 AND x.exec_run_id = $2 AND x.run_id = $3 AND x.phase_id = $4
  AND x.attempt = $5 AND x.try > $6`;
/** Serialises the tries of one attempt claiming their rows (a transaction-scoped advisory lock). */
const ATTEMPT_LOCK = `hashtextextended($1 || chr(31) || $2 || chr(31) || $3 || chr(31) || $4 || chr(31) || $5::text, 727)`;
const keyParams = (k: AttemptKey) => [k.sessionId, k.execRunId, k.runId, k.phaseId, k.attempt, k.tryNo];
const attemptParams = (k: AttemptOf) => [k.sessionId, k.execRunId, k.runId, k.phaseId, k.attempt];

/** What a try's row starts with. */
interface StartFacts {
  initialState: string | null;
  stdoutPath: string;
  stderrPath: string;
  workerIdentity: string;
  baselineCommit: string | null;
  startedAt: string;
  runCountsBefore: Record<string, number> | null;
  /** The phase's updated_at when the try started (database clock). */
  phaseUpdatedBefore?: Date | null;
  tag?: string | null;
  baseline?: { status?: string; error?: string | null; captureId?: string | null; skip: boolean } | null;
  /** The worker's host name. */
  host?: string | null;
  /** phases.tokens_used and runs.tokens_used when the try started (null: no such column). */
  tokensBefore?: TokenCounters | null;
  /**
   * The try will run an executor under a supervisor: its fence starts now (a retry waits for
   * it). Rows of tries that run nothing (reconciled, abandoned, lost before starting) have none.
   */
  fenced?: boolean;
}

/**
 * Writes the row of a try that is starting. A try starts once: an existing row (the same
 * try seen twice) is never overwritten. Returns false when the row existed.
 */
export async function startAttempt(pool: pg.Pool, k: AttemptKey, r: StartFacts): Promise<boolean> {
  // One attempt's tries claim their rows one at a time, each statement seeing the rows the
  // others committed: a try of a paused worker that starts after a later try claimed its row
  // inserts nothing (and so runs nothing), and a later try sees every earlier row to wait for.
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    await db.query(`SELECT pg_advisory_xact_lock(${ATTEMPT_LOCK})`, keyParams(k).slice(0, 5));
    const landed = await insertAttemptRow(db, k, r);
    await db.query('COMMIT');
    return landed;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    db.release();
  }
}

async function insertAttemptRow(db: Queryable, k: AttemptKey, r: StartFacts): Promise<boolean> {
  const res = await db.query(
    `INSERT INTO drain_attempts (session_id, exec_run_id, run_id, phase_id, attempt, try, status,
       initial_state, stdout_path, stderr_path, worker_identity, baseline_commit, started_at, run_counts_before,
       phase_updated_before, tag, baseline_status, baseline_error, baseline_capture_id, baseline_skip,
       host, fence_at, phase_tokens_before, run_tokens_before)
     SELECT $1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
       $20, CASE WHEN $23::boolean THEN now() END, $21, $22
     WHERE NOT EXISTS (SELECT 1 FROM drain_attempts x WHERE ${LATER_TRY})
     ON CONFLICT DO NOTHING`,
    [
      ...keyParams(k),
      r.initialState,
      r.stdoutPath,
      r.stderrPath,
      r.workerIdentity,
      r.baselineCommit,
      r.startedAt,
      r.runCountsBefore === null ? null : JSON.stringify(r.runCountsBefore),
      r.phaseUpdatedBefore ?? null,
      r.tag ?? null,
      r.baseline?.status ?? null,
      r.baseline?.error ?? null,
      r.baseline?.captureId ?? null,
      r.baseline?.skip ?? null,
      r.host ?? null,
      r.tokensBefore?.phase ?? null,
      r.tokensBefore?.run ?? null,
      r.fenced ?? false,
    ],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Are the earlier tries of an attempt over, provably, on any host? A try is over when its
 * supervisor recorded the executor's end, when it never had a fence (an earlier release), or
 * when its fence is older than `overAfterSeconds` (S: its supervisor has ended the executor by
 * then, or is gone and its executor with it). Database clock. Returns the tries still not over.
 */
export async function earlierTriesNotOver(
  db: Queryable,
  k: AttemptKey,
  overAfterSeconds: number,
): Promise<number[]> {
  const res = await db.query<{ try: number }>(
    `SELECT try FROM drain_attempts
     WHERE session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5 AND try < $6
       AND process_ended_at IS NULL AND fence_at IS NOT NULL
       AND fence_at > now() - make_interval(secs => $7::double precision)
     ORDER BY try`,
    [...keyParams(k), overAfterSeconds],
  );
  return res.rows.map((r) => r.try);
}

/**
 * The end of an earlier try that was proven over without its supervisor recording it: the last
 * sign of life of its fence (+ S at most, never later than now), instead of when it was marked.
 */
export async function closeEarlierTries(
  db: Queryable,
  k: AttemptKey,
  overAfterSeconds: number,
): Promise<void> {
  await db.query(
    `UPDATE drain_attempts
        SET finished_at = COALESCE(process_ended_at,
                                   least(now(), fence_at + make_interval(secs => $7::double precision))),
            duration_seconds = EXTRACT(EPOCH FROM (COALESCE(process_ended_at,
                                   least(now(), fence_at + make_interval(secs => $7::double precision))) - started_at))
      WHERE session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5 AND try < $6
        AND status = 'interrupted' AND fence_at IS NOT NULL`,
    [...keyParams(k), overAfterSeconds],
  );
}

export async function setAttemptProcess(db: Queryable, k: AttemptKey, pid: number): Promise<void> {
  await db.query(`UPDATE drain_attempts SET pid = $7, pgid = $7 WHERE ${KEY_WHERE} AND status = 'running'`, [
    ...keyParams(k),
    pid,
  ]);
}

/**
 * A try that found an earlier try still running after it had claimed its row, and waited for
 * it to end, starts its executor only now: its row's start says so (its records never overlap
 * the earlier try's).
 */
export async function restampAttemptStart(db: Queryable, k: AttemptKey, startedAt: string): Promise<void> {
  await db.query(`UPDATE drain_attempts SET started_at = $7 WHERE ${KEY_WHERE} AND status = 'running'`, [
    ...keyParams(k),
    startedAt,
  ]);
}

/**
 * How a try ended: finished (the executor ran to its end), reconciled (a retry found the
 * outcome), cancelled, interrupted (its worker died or stopped; retried), lost (the run's
 * lease was gone or the phase changed: not judged), abandoned (out of tries).
 */
type FinalStatus = 'finished' | 'reconciled' | 'cancelled' | 'interrupted' | 'lost' | 'abandoned';

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/**
 * Final facts of a try. status: finished | reconciled | cancelled | interrupted. Lands only
 * while the try is still the current one (its row is 'running'): a stale try that outlived
 * its retry finds its row marked interrupted and writes nothing. Returns whether it landed.
 * With `digests`, the logs' sha256 land in the same statement (null: left as they are).
 */
export async function finishAttempt(
  db: Queryable,
  k: AttemptKey,
  status: FinalStatus,
  o: AttemptOutcome,
  digests: LogDigests | null = null,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE drain_attempts SET status = $7, final_state = $8, success = $9, return_code = $10, signal = $11,
       timed_out = $12, duration_seconds = $13, stdout_path = $14, stderr_path = $15, stdout_excerpt = $16,
       stderr_excerpt = $17, stdout_bytes = $18, stderr_bytes = $19, error_message = $20,
       last_failure_reason = $21, telemetry_events = $22, telemetry_global_delta = $23, llm_boundary_hit = $24,
       finished_at = $25, run_counts_after = $26, telemetry_by_table = $27, phase_changed = $28,
       interrupted_tries = $29, outcome = $30, processes_reaped = $31,
       phase_tokens_before = COALESCE($32, phase_tokens_before), phase_tokens_after = $33,
       run_tokens_before = COALESCE($34, run_tokens_before), run_tokens_after = $35,
       tokens_spent = $36, run_tokens_spent = $37,
       stdout_sha256 = COALESCE($38, stdout_sha256), stderr_sha256 = COALESCE($39, stderr_sha256),
       final_reason_md5 = (SELECT md5(p.last_failure_reason) FROM phases p WHERE p.run_id = $3 AND p.phase_id = $4)
     WHERE ${KEY_WHERE} AND status = 'running'`,
    [
      ...keyParams(k),
      status,
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
      o.finishedAt,
      json(o.runCountsAfter),
      json(o.telemetryByTable),
      o.phaseChanged,
      o.interruptedTries,
      json(o),
      o.processesReaped,
      o.tokens?.phaseBefore ?? null,
      o.tokens?.phaseAfter ?? null,
      o.tokens?.runBefore ?? null,
      o.tokens?.runAfter ?? null,
      o.tokens?.phase ?? null,
      o.tokens?.run ?? null,
      digests?.stdoutSha256 ?? null,
      digests?.stderrSha256 ?? null,
    ],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Marks a try left 'running' by a dead worker as interrupted (its logs stay where they are). */
export async function markInterrupted(db: Queryable, k: AttemptKey, note: string): Promise<number> {
  const res = await db.query(
    `UPDATE drain_attempts SET status = 'interrupted', finished_at = now(),
       duration_seconds = EXTRACT(EPOCH FROM (now() - started_at)), error_message = $7
     WHERE ${KEY_WHERE} AND status = 'running'`,
    [...keyParams(k), note],
  );
  return res.rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------
// The logs' sha256 (issue 17 item 7): a log on another host is reported with its recorded
// size and sha256, not as missing.

/** The sha256 (hex) of a try's logs as they were hashed; null: not readable. */
export interface LogDigests {
  stdoutSha256: string | null;
  stderrSha256: string | null;
}

/** An interrupted earlier try whose logs were never hashed. */
interface UnhashedTry {
  id: string;
  try: number;
  stdout_path: string | null;
  stderr_path: string | null;
}

/** The interrupted earlier tries of an attempt that ran on `host` and whose logs were never hashed. */
export async function unhashedInterruptedTries(
  db: Queryable,
  k: AttemptKey,
  host: string,
): Promise<UnhashedTry[]> {
  const res = await db.query<UnhashedTry>(
    `SELECT id::text AS id, try, stdout_path, stderr_path FROM drain_attempts
     WHERE session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5 AND try < $6
       AND status = 'interrupted' AND host = $7 AND stdout_sha256 IS NULL AND stderr_sha256 IS NULL
     ORDER BY try`,
    [...keyParams(k), host],
  );
  return res.rows;
}

/** Records the sha256 of an interrupted try's logs (hashed by a retry on its host), once. */
export async function recordInterruptedLogDigests(
  db: Queryable,
  id: string,
  d: LogDigests,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE drain_attempts SET stdout_sha256 = $2, stderr_sha256 = $3
     WHERE id = $1::bigint AND status = 'interrupted' AND stdout_sha256 IS NULL AND stderr_sha256 IS NULL`,
    [id, d.stdoutSha256, d.stderrSha256],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Stores the workflow's judgement on the final try of an attempt. */
export async function recordVerdict(db: Queryable, k: AttemptOf, v: AttemptVerdict): Promise<void> {
  await db.query(
    `UPDATE drain_attempts SET fingerprint = $6, failure_category = $7, yield_per_minute = $8,
       zero_yield_reason = $9
     WHERE session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5
       AND status <> 'interrupted'`,
    [...attemptParams(k), v.fingerprint, v.category, v.yieldPerMinute, v.zeroYieldReason],
  );
}

/** The try of an attempt that already recorded its outcome (a retry after that must not record twice). */
export async function finalTryOf(db: Queryable, k: AttemptOf): Promise<AttemptRow | null> {
  const res = await db.query<AttemptRow>(
    `SELECT * FROM drain_attempts
     WHERE session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5
       AND status IN ('finished', 'reconciled', 'lost')
     ORDER BY try DESC LIMIT 1`,
    attemptParams(k),
  );
  return res.rows[0] ?? null;
}

/**
 * Runs `fn` only while the try is still current (its row `running`), holding the row's lock
 * meanwhile: a retry marking it interrupted waits until `fn` is done, so a superseded try never
 * writes over the next one (the `--on-kill fail` hand-back). Returns fn's result, or null when
 * the try is no longer current.
 */
export async function whileTryCurrent<T>(
  pool: pg.Pool,
  k: AttemptKey,
  fn: () => Promise<T>,
): Promise<T | null> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const res = await client.query(
      `SELECT 1 FROM drain_attempts WHERE ${KEY_WHERE} AND status = 'running'
         AND NOT EXISTS (SELECT 1 FROM drain_attempts x WHERE ${LATER_TRY}) FOR UPDATE`,
      keyParams(k),
    );
    const out = res.rowCount ? await fn() : null;
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
