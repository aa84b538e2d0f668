/**
 * The database read of `drain report` (one statement per function): every try of a session
 * from drain_attempts, mapped to the plain attempts of src/domain/report-html.ts (its tokens:
 * tokens_spent, null when the backlog has no phases.tokens_used — shown as "n/a").
 */
import type { Queryable } from './pool.js';
import type { AttemptRow } from '../domain/rows.js';
import type { ReportAttempt } from '../domain/report-html.js';

/** The columns of a try that the report reads (tokens_spent: null when unknown). */
type ReportAttemptRow = Required<
  Pick<
    AttemptRow,
    | 'id'
    | 'run_id'
    | 'phase_id'
    | 'attempt'
    | 'try'
    | 'status'
    | 'success'
    | 'timed_out'
    | 'duration_seconds'
    | 'telemetry_events'
    | 'yield_per_minute'
    | 'tokens_spent'
    | 'fingerprint'
    | 'final_state'
    | 'started_at'
    | 'finished_at'
  >
>;

/** Every try of the session (interrupted and running ones too), in the order they started. */
export async function listReportAttempts(db: Queryable, sessionId: string): Promise<ReportAttemptRow[]> {
  const res = await db.query<ReportAttemptRow>(
    `SELECT id::text AS id, run_id, phase_id, attempt, try, status, success, timed_out, duration_seconds,
            telemetry_events, yield_per_minute, tokens_spent, fingerprint, final_state, started_at, finished_at
     FROM drain_attempts WHERE session_id = $1 ORDER BY started_at, id`,
    [sessionId],
  );
  return res.rows;
}

const iso = (d: Date | string | null): string | null => {
  if (d === null) return null;
  const t = new Date(d).getTime();
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
};
const num = (v: unknown): number | null => {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** A row as the report reads it (its texts are redacted by the renderer). */
export function reportAttempt(r: ReportAttemptRow): ReportAttempt {
  return {
    id: String(r.id),
    runId: String(r.run_id),
    phaseId: String(r.phase_id),
    attempt: num(r.attempt) ?? 0,
    tryNo: num(r.try) ?? 1,
    status: String(r.status),
    success: r.success,
    timedOut: r.timed_out === true,
    durationSeconds: num(r.duration_seconds),
    telemetryEvents: num(r.telemetry_events),
    yieldPerMinute: num(r.yield_per_minute),
    tokensSpent: num(r.tokens_spent),
    fingerprint: r.fingerprint,
    finalState: r.final_state,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}
