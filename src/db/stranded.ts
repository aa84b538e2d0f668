/**
 * Stranded phases: left EXECUTING by an attempt of ours that we stopped (timed out, cancelled,
 * interrupted, lost, abandoned). Such a phase drops out of FAILED/QUEUED selection for good.
 * A phase with a try that may still be alive (fenced tries, issue 17: its fence renewed within
 * S and no end of its executor recorded) is listed with that try: it is not to be handed back.
 */
import type { Queryable } from './pool.js';

/** Attempt statuses that mean we stopped the executor (or lost it) before it finished the phase. */
export const STRANDING_STATUSES = ['cancelled', 'interrupted', 'lost', 'abandoned'] as const;

interface StrandedRow {
  run_id: string;
  phase_id: string;
  phase_index: number;
  phase_state: string;
  phase_updated_at: Date | null;
  attempt_id: string;
  session_id: string;
  attempt: number;
  try: number;
  status: string;
  timed_out: boolean;
  return_code: number | null;
  signal: string | null;
  started_at: Date;
  finished_at: Date | null;
  error_message: string | null;
  stdout_path: string | null;
  stderr_path: string | null;
  /** The newest try of the phase that may still be alive (see listStrandedPhases), or nulls. */
  running_attempt_id: string | null;
  running_session_id: string | null;
  running_try: number | null;
  running_host: string | null;
  running_fence_age_seconds: number | null;
}

/**
 * Phases now EXECUTING whose latest drain_attempts row (by id) timed out or ended with a
 * stranding status; only run `runId` when given. Ordered by run, phase index, phase id. With
 * each, the newest try of the phase that may still be alive: running or interrupted, no end of
 * its executor recorded, and its fence renewed within `aliveWithinSeconds` (S of
 * src/domain/fence.ts; database clock).
 */
export async function listStrandedPhases(
  db: Queryable,
  runId: string | null,
  aliveWithinSeconds: number,
): Promise<StrandedRow[]> {
  const res = await db.query<StrandedRow>(
    `SELECT p.run_id, p.phase_id, p.phase_index, p.state AS phase_state, p.updated_at AS phase_updated_at,
            a.id::text AS attempt_id, a.session_id, a.attempt, a.try, a.status, a.timed_out, a.return_code,
            a.signal, a.started_at, a.finished_at, a.error_message, a.stdout_path, a.stderr_path,
            r.id::text AS running_attempt_id, r.session_id AS running_session_id, r.try AS running_try,
            r.host AS running_host,
            EXTRACT(EPOCH FROM (now() - r.fence_at))::float8 AS running_fence_age_seconds
       FROM phases p
       CROSS JOIN LATERAL (
         SELECT * FROM drain_attempts d
          WHERE d.run_id = p.run_id AND d.phase_id = p.phase_id
          ORDER BY d.id DESC LIMIT 1
       ) a
       LEFT JOIN LATERAL (
         SELECT * FROM drain_attempts d
          WHERE d.run_id = p.run_id AND d.phase_id = p.phase_id
            AND d.status IN ('running', 'interrupted') AND d.process_ended_at IS NULL
            AND d.fence_at > now() - make_interval(secs => $3::double precision)
          ORDER BY d.fence_at DESC LIMIT 1
       ) r ON true
      WHERE p.state = 'EXECUTING'
        AND ($1::text IS NULL OR p.run_id = $1)
        AND (a.timed_out OR a.status = ANY($2::text[]))
      ORDER BY p.run_id, p.phase_index, p.phase_id`,
    [runId, [...STRANDING_STATUSES], aliveWithinSeconds],
  );
  return res.rows;
}

export interface StrandedPhase {
  runId: string;
  phaseId: string;
  phaseIndex: number;
  phaseState: string;
  phaseUpdatedAt: string | null;
  attempt: {
    id: string;
    sessionId: string;
    attempt: number;
    try: number;
    status: string;
    timedOut: boolean;
    returnCode: number | null;
    signal: string | null;
    startedAt: string;
    finishedAt: string | null;
    errorMessage: string | null;
    stdoutPath: string | null;
    stderrPath: string | null;
  };
  /**
   * A try of the phase that may still be alive (its fence renewed within S, no end recorded):
   * the phase must not be handed back by hand meanwhile. Null: none.
   */
  runningTry: {
    id: string;
    sessionId: string;
    try: number;
    host: string | null;
    /** Seconds since its supervisor last renewed its fence (database clock). */
    fenceRenewedSecondsAgo: number;
  } | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A row as the `--json` shape of `drain stranded`. */
export function toStrandedPhase(r: StrandedRow): StrandedPhase {
  return {
    runId: r.run_id,
    phaseId: r.phase_id,
    phaseIndex: r.phase_index,
    phaseState: r.phase_state,
    phaseUpdatedAt: iso(r.phase_updated_at),
    attempt: {
      id: r.attempt_id,
      sessionId: r.session_id,
      attempt: r.attempt,
      try: r.try,
      status: r.status,
      timedOut: r.timed_out,
      returnCode: r.return_code,
      signal: r.signal,
      startedAt: r.started_at.toISOString(),
      finishedAt: iso(r.finished_at),
      errorMessage: r.error_message,
      stdoutPath: r.stdout_path,
      stderrPath: r.stderr_path,
    },
    runningTry:
      r.running_attempt_id == null
        ? null
        : {
            id: r.running_attempt_id,
            sessionId: r.running_session_id ?? '',
            try: r.running_try ?? 0,
            host: r.running_host,
            fenceRenewedSecondsAgo: Math.max(0, Math.round(Number(r.running_fence_age_seconds ?? 0))),
          },
  };
}
