/**
 * Parts shared by the FAILED and QUEUED selection statements (select-failed.ts,
 * select-queued.ts): the result type, the named parameters, the skip reason of a candidate
 * phase, and the final "pick and passed-over rows" step. Statements use `:name` parameters
 * (named-sql.ts), so each sends only its own.
 */
import type { SelectParams } from '../domain/selection.js';
import { categorizeFailure } from '../domain/categories.js';
import type { PhaseRef, SkipRecord } from '../domain/types.js';
import { LEASE_CONFLICT } from './leases.js';
import { attemptsJoin } from './select-session.js';

export interface SelectResult {
  pick: PhaseRef | null;
  /** Phases ranked ahead of the pick that were passed over, with the reason. */
  passedOver: SkipRecord[];
  /** Some candidates were passed over only because another session holds their run's lease. */
  waitingForLease: boolean;
  /** When selection was asked to lease: whether this session now holds the pick's run lease. */
  leased?: boolean;
  /** Nothing picked: the session's records have spent its token budget (this much). */
  tokenBudgetSpent?: number;
  /**
   * Asked for `extraPicks`: further picks for the session's other free slots, each leased and
   * of another run, in the order they were made (absent when none were asked for).
   */
  more?: PhaseRef[];
}

/** A row of the final step: the pick (skip_reason NULL) and the passed-over phases, in order. */
export interface Row {
  id: number;
  run_id: string;
  phase_id: string;
  phase_index: number;
  state: string;
  last_failure_reason: string | null;
  skip_reason: string | null;
  skip_kind: SkipKind | null;
  /** The highest attempt number of the phase this session (0: none). */
  attempts_n: number;
  /** Only when the statement also took the pick's lease. */
  leased?: boolean;
}

/** Why a candidate was passed over, as a column (skip_kind) next to its text (skip_reason). */
type SkipKind = 'prefix' | 'stopped-run' | 'memory' | 'attempts' | 'queued' | 'lease';

/**
 * The skip tests of one candidate row `p`, first match wins: [kind, condition, reason text].
 * Needs the aliases `pf` (matching skip prefix), `b` (stopped run), `m` (memory), `a`
 * (attempts), `l` (foreign lease) and, with `queued`, `q` (queued phases of the run).
 */
function skipTests(o: { queued: boolean }): Array<[SkipKind, string, string]> {
  const tests: Array<[SkipKind, string, string]> = [
    ['prefix', 'pf.prefix IS NOT NULL', `'run ' || p.run_id || ' matches skip-run-prefix ' || pf.prefix`],
    ['stopped-run', 'b.reason IS NOT NULL', 'b.reason'],
    ['memory', 'm.reason IS NOT NULL', 'm.reason'],
    [
      'attempts',
      'COALESCE(a.n, 0) >= :maxAttempts',
      `'phase already attempted ' || a.n || ' times (limit: ' || :maxAttempts || ')'`,
    ],
    [
      'queued',
      'q.n IS NOT NULL',
      `'run ' || p.run_id || ' has ' || q.n || ' queued phase(s) (skip-runs-with-queued)'`,
    ],
    [
      'lease',
      'l.session_id IS NOT NULL',
      `'run ' || p.run_id || ' is being drained by session ' || l.session_id`,
    ],
  ];
  return tests.filter(([kind]) => o.queued || kind !== 'queued');
}

/** `skip_reason` and `skip_kind` columns of a candidate row: both NULL when it can be picked. */
export function skipColumns(o: { queued: boolean }): string {
  const t = skipTests(o);
  const reason = t.map(([, cond, text]) => `WHEN ${cond} THEN ${text}`).join('\n      ');
  const kind = t.map(([k, cond]) => `WHEN ${cond} THEN '${k}'`).join(' ');
  return `CASE ${reason} END AS skip_reason, CASE ${kind} END AS skip_kind`;
}

/**
 * Joins of the skip-reason inputs other than `q`, for candidate rows `p`; `a` from the session's
 * records or from the state's arrays (select-session.ts).
 */
export function skipJoins(records: boolean): string {
  return `
    ${attemptsJoin(records)}
    LEFT JOIN unnest(:blockedRuns::text[], :blockedReasons::text[]) AS b(run_id, reason) ON b.run_id = p.run_id
    LEFT JOIN unnest(:memoryRuns::text[], :memoryPhases::text[], :memoryReasons::text[]) AS m(run_id, phase_id, reason)
      ON m.run_id = p.run_id AND m.phase_id = p.phase_id
    LEFT JOIN drain_leases l ON l.run_id = p.run_id AND l.expires_at > now() AND l.session_id <> :sessionId
    LEFT JOIN LATERAL (SELECT x AS prefix FROM unnest(:skipRunPrefixes::text[]) x WHERE starts_with(p.run_id, x) LIMIT 1) pf ON true`;
}

/** The attempts column of `scored` (carried to the pick row as attempts_n). */
export const ATTEMPTS_COLUMN = `COALESCE(a.n, 0)::int AS attempts_n`;

/**
 * Run yield for `--order yield`: telemetry events per minute of the run's judged attempts in
 * every session (NULL: no history). Needs a CTE `candidates` with run_id.
 */
export const RUN_YIELD = `
  run_yield AS (
    SELECT a.run_id, sum(COALESCE(a.telemetry_events, 0))::float8 / (sum(a.duration_seconds) / 60.0) AS ypm
    FROM drain_attempts a
    WHERE a.run_id IN (SELECT run_id FROM candidates) AND a.status IN ('finished', 'reconciled')
      AND a.duration_seconds > 0
    GROUP BY a.run_id)`;

/** Order keys of --order yield within a priority group: runs without history first, then by yield. */
export const YIELD_KEYS = `(run_ypm IS NOT NULL), run_ypm DESC`;

/**
 * Final step over `ordered` (candidates numbered by `pos` in selection order): the first row
 * without a skip reason (the pick), preceded by the skipped rows ranked ahead of it, at most
 * :maxSkips of them (all skipped rows within the first :maxSkips when nothing can be picked).
 * With `lease`, the same statement also takes the pick's run lease for :sessionId (held by
 * :leaseHolder for :leaseTtl seconds, under the rule of leases.ts) and says whether it got it:
 * another session may have taken it since this statement's snapshot.
 */
export function pickAndSkips(o: { lease: boolean }): string {
  const leased = o.lease
    ? `,
  leased AS (
    INSERT INTO drain_leases (run_id, session_id, holder, acquired_at, expires_at)
    SELECT o.run_id, :sessionId, :leaseHolder, now(), now() + make_interval(secs => :leaseTtl::double precision)
    FROM ordered o JOIN pick ON o.pos = pick.pos
    ${LEASE_CONFLICT}
      -- slots that pick in parallel: a live lease of this session is another slot's, not renewed
      AND (drain_leases.expires_at <= now() OR NOT :ownLeasesBusy::boolean)
    RETURNING run_id)`
    : '';
  return `
  pick AS (SELECT min(pos) AS pos FROM ordered WHERE skip_reason IS NULL)${leased}
  SELECT o.id, o.run_id, o.phase_id, o.phase_index, o.state, o.last_failure_reason, o.skip_reason,
         o.skip_kind, o.attempts_n${o.lease ? ', EXISTS (SELECT 1 FROM leased) AS leased' : ''}
  FROM ordered o CROSS JOIN pick
  WHERE o.pos = pick.pos
     OR (o.skip_reason IS NOT NULL AND (pick.pos IS NULL OR o.pos < pick.pos) AND o.pos <= :maxSkips)
  ORDER BY o.pos`;
}

/** The eight texts of a statement (order × leasing × progress source), built once; the one `p` needs. */
export function statementVariants(build: (yieldOrder: boolean, lease: boolean, records: boolean) => string) {
  const texts = new Map<string, string>();
  return (p: SelectParams): string => {
    const key = `${p.order ?? 'priority'}/${p.lease ? 'lease' : 'read'}/${p.fromRecords ? 'records' : 'arrays'}`;
    let text = texts.get(key);
    if (text === undefined) texts.set(key, (text = build(p.order === 'yield', !!p.lease, !!p.fromRecords)));
    return text;
  };
}

/**
 * The named parameters of both statements (each binds only the ones it uses). The parallel
 * arrays have equal lengths and no NULL elements (selectionParams builds them from the
 * session state; memory blocks come from activities/select.ts).
 */
export function namedParams(p: SelectParams): Record<string, unknown> {
  const memory = p.memory ?? [];
  return {
    sessionId: p.sessionId,
    runId: p.runId,
    currentRun: p.currentRun,
    busyRuns: p.busyRuns ?? [],
    ownLeasesBusy: p.ownLeasesBusy ?? false,
    skipRunsWithQueued: p.skipRunsWithQueued,
    skipRunPrefixes: p.skipRunPrefixes,
    maxAttempts: p.maxAttemptsPerPhase,
    attemptedRuns: p.attemptedRuns,
    attemptedPhases: p.attemptedPhases,
    attemptCounts: p.attemptCounts,
    doneRuns: p.doneRuns,
    donePhases: p.donePhases,
    blockedRuns: p.blockedRuns,
    blockedReasons: p.blockedReasons,
    sampledRuns: p.sampledRuns,
    promisingRuns: p.promisingRuns,
    deprioritizedRuns: p.deprioritizedRuns,
    maxSkips: p.maxSkipsReported,
    memoryRuns: memory.map((m) => m.runId),
    memoryPhases: memory.map((m) => m.phaseId),
    memoryReasons: memory.map((m) => m.reason),
    leaseHolder: p.lease?.holder,
    leaseTtl: p.lease?.ttlSeconds,
  };
}

/**
 * The statement's rows as a result; `withAttempts` (a session reading its records) also gives
 * the pick's attempts so far, which the state does not carry then.
 */
export function toResult(rows: Row[], withAttempts = false): SelectResult {
  const pickRow = rows.find((r) => r.skip_reason === null) ?? null;
  return {
    pick: pickRow && {
      runId: pickRow.run_id,
      phaseId: pickRow.phase_id,
      phaseIndex: pickRow.phase_index,
      dbId: pickRow.id,
      state: pickRow.state,
      lastFailureReason: pickRow.last_failure_reason,
      category: categorizeFailure(pickRow.last_failure_reason),
      ...(withAttempts ? { attemptsSoFar: pickRow.attempts_n } : {}),
    },
    passedOver: rows
      .filter((r) => r.skip_reason !== null)
      .map((r) => ({ runId: r.run_id, phaseId: r.phase_id, reason: r.skip_reason as string })),
    waitingForLease: rows.some((r) => r.skip_kind === 'lease'),
    ...(pickRow && pickRow.leased !== undefined ? { leased: pickRow.leased } : {}),
  };
}
