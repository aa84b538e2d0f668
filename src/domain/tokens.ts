/**
 * Tokens an attempt spent, from Autopack's own counters: phases.tokens_used and runs.tokens_used,
 * which the executor adds to as it calls models (a --force requeue does not reset them). The
 * drain reads both when a try starts and when it ends; the spend is the difference. Pure.
 *
 * - A counter that went down was reset: the end value is the spend.
 * - A backlog without the column (older schemas), or a row that is gone, gives null: the spend
 *   is unknown and reported as "n/a", never 0.
 */

/** phases.tokens_used and runs.tokens_used of one phase and its run (null: no column, or no row). */
export interface TokenCounters {
  phase: number | null;
  run: number | null;
}

/** The tokens of one attempt: both counters at start and end, and the spend between them. */
export interface AttemptTokens {
  phaseBefore: number | null;
  phaseAfter: number | null;
  runBefore: number | null;
  runAfter: number | null;
  /** What the phase spent during the attempt (null: unknown). */
  phase: number | null;
  /** What the run spent meanwhile (other phases of the run included, e.g. another session's). */
  run: number | null;
}

const known = (v: number | null | undefined): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The spend between two readings of one counter; a counter that went down counts as reset. */
export function spendOf(before: number | null | undefined, after: number | null | undefined): number | null {
  if (!known(before) || !known(after)) return null;
  return after >= before ? after - before : after;
}

/** The tokens of an attempt from its two readings (null readings: unknown). */
export function attemptTokens(before: TokenCounters | null, after: TokenCounters | null): AttemptTokens {
  return {
    phaseBefore: before?.phase ?? null,
    phaseAfter: after?.phase ?? null,
    runBefore: before?.run ?? null,
    runAfter: after?.run ?? null,
    phase: spendOf(before?.phase, after?.phase),
    run: spendOf(before?.run, after?.run),
  };
}

/** 12345 → "12,345"; null (unknown) → "n/a". Grouping without Intl (the workflow sandbox has it, but keep it plain). */
export function formatTokens(n: number | null | undefined): string {
  if (!known(n)) return 'n/a';
  const s = String(Math.round(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * What a session has spent right now, for its token budget: the larger of what its workflow has
 * folded and what its records say (finished tries, plus each running try's phase counter now
 * against its start reading; unknown readings add nothing).
 */
export function spentNow(
  folded: number,
  finished: number,
  running: Array<{ before: number; now: number | null }>,
): number {
  const live = running.reduce((n, r) => n + (spendOf(r.before, r.now) ?? 0), 0);
  return Math.max(folded, finished + live);
}
