/** QUEUED-phase selection: one statement over the first queued phase of each run. */
import type { Queryable } from './pool.js';
import type { SelectParams } from '../domain/selection.js';
import { bindNamed } from './named-sql.js';
import {
  namedParams,
  statementVariants,
  pickAndSkips,
  ATTEMPTS_COLUMN,
  RUN_YIELD,
  skipJoins,
  skipColumns,
  toResult,
  YIELD_KEYS,
  type Row,
  type SelectResult,
} from './select-shared.js';
import { notDone, NOT_BUSY } from './select-session.js';

/**
 * QUEUED phases: the earliest queued phase of each run; the current run first, then runs by
 * age (with --order yield: runs without history, then by run yield, before age).
 */
function queuedSql(yieldOrder: boolean, lease: boolean, records: boolean): string {
  return `
  WITH candidates AS (
    SELECT DISTINCT ON (p.run_id) p.id, p.run_id, p.phase_id, p.phase_index, p.state, p.last_failure_reason
    FROM phases p
    WHERE p.state = 'QUEUED' AND (:runId::text IS NULL OR p.run_id = :runId) AND ${notDone(records)}
      AND ${NOT_BUSY} -- runs this session's other slots are draining
    ORDER BY p.run_id, p.phase_index, p.id
  ),
  ${yieldOrder ? `${RUN_YIELD},` : ''}
  scored AS (
    SELECT p.*, ${skipColumns({ queued: false })}, ${ATTEMPTS_COLUMN},
      (p.run_id IS NOT DISTINCT FROM :currentRun::text) AS is_current, r.created_at AS run_created
      ${yieldOrder ? ', ry.ypm AS run_ypm' : ''}
    FROM candidates p LEFT JOIN runs r ON r.id = p.run_id ${skipJoins(records)}
      ${yieldOrder ? 'LEFT JOIN run_yield ry ON ry.run_id = p.run_id' : ''}
  ),
  ordered AS (
    SELECT s.*, row_number() OVER (
      ORDER BY is_current DESC, ${yieldOrder ? `${YIELD_KEYS}, ` : ''}run_created, run_id) AS pos
    FROM scored s
  ),
  ${pickAndSkips({ lease })}`;
}

const QUEUED_SQL = statementVariants(queuedSql);

/** Picks the next QUEUED phase, and with `p.lease` takes its run's lease (one statement). */
export async function selectQueuedPhase(db: Queryable, p: SelectParams): Promise<SelectResult> {
  const q = bindNamed(QUEUED_SQL(p), namedParams(p));
  const res = await db.query<Row>(q.text, q.values);
  return toResult(res.rows, !!p.fromRecords);
}
