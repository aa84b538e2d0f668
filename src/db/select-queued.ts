/** QUEUED-phase selection: one statement over the first queued phase of each run. */
import type { Queryable } from './pool.js';
import type { SelectParams } from '../domain/selection.js';
import {
  baseParams,
  PICK_AND_SKIPS,
  SKIP_REASON,
  toResult,
  type Row,
  type SelectResult,
} from './select-shared.js';

const JOINS = `
  LEFT JOIN unnest($7::text[], $8::text[], $9::int[]) AS a(run_id, phase_id, n)
    ON a.run_id = p.run_id AND a.phase_id = p.phase_id
  LEFT JOIN unnest($12::text[], $13::text[]) AS b(run_id, reason) ON b.run_id = p.run_id
  LEFT JOIN queued_runs q ON q.run_id = p.run_id
  LEFT JOIN drain_leases l ON l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> $1
  LEFT JOIN LATERAL (SELECT x AS prefix FROM unnest($5::text[]) x WHERE starts_with(p.run_id, x) LIMIT 1) pf ON true`;

const NOT_DONE = `NOT EXISTS (SELECT 1 FROM unnest($10::text[], $11::text[]) AS d(run_id, phase_id)
                                WHERE d.run_id = p.run_id AND d.phase_id = p.phase_id)`;

/** QUEUED phases: the earliest queued phase of each run; the current run first, then runs by age. */
function queuedSql(): string {
  return `
  WITH queued_runs AS (SELECT NULL::text AS run_id, 0 AS n WHERE false),
  firsts AS (
    SELECT DISTINCT ON (p.run_id) p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason
    FROM phases p
    WHERE p.state = 'QUEUED' AND ($2::text IS NULL OR p.run_id = $2) AND ${NOT_DONE}
      AND NOT (p.run_id = ANY($18::text[])) -- runs this session's other slots are draining
    ORDER BY p.run_id, p.phase_index, p.id
  ),
  scored AS (
    SELECT p.*, ${SKIP_REASON} AS skip_reason, l.session_id AS lease_session,
      (p.run_id IS NOT DISTINCT FROM $3::text) AS is_current, r.created_at AS run_created
    FROM firsts p LEFT JOIN runs r ON r.id = p.run_id ${JOINS}
    WHERE $4::boolean OR NOT $4::boolean
      -- $14-$16 (triage lists) do not order queued phases, but every parameter must be typed
      AND ($14::text[] IS NULL OR $15::text[] IS NULL OR $16::text[] IS NULL OR true)
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (ORDER BY is_current DESC, run_created, run_id) AS pos FROM scored s
  ),
  ${PICK_AND_SKIPS}`;
}

/** Picks the next QUEUED phase (one statement). */
export async function selectQueuedPhase(db: Queryable, p: SelectParams): Promise<SelectResult> {
  const res = await db.query<Row>(queuedSql(), baseParams(p, p.currentRun, false));
  return toResult(res.rows);
}
