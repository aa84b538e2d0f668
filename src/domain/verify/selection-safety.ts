/**
 * Criterion 3, Correct Phase Selection Safety: a FAILED phase is retried only in a run without
 * QUEUED phases (unless the session overrode skipRunsWithQueued), and no two tries of one run
 * are alive at once: every try that ran an executor, interrupted ones included (an orphaned
 * executor that outlived its worker overlaps its retry), checked against each other and
 * against the tries of other sessions on the same runs. OVERLAP_SCOPE says what it can know.
 */
import { peakParallel, type Span } from '../overlap.js';
import type { TryFacts, CriterionResult, VerifyFacts } from './facts.js';
import { attemptLabel, plural } from '../format.js';
import { attemptKeyOf, criterion, hasExitStatus, qfc, type AttemptSet } from './shared.js';

/** What the overlap check judges, and from what (criterion 3's evidence `overlap_scope`). */
export const OVERLAP_SCOPE =
  "every try of this session that ran an executor (interrupted ones included) and the tries of other sessions on the same runs recorded alive meanwhile; a try is alive from its start to its executor's end as its supervisor recorded it, else to the try's recorded end (an interrupted try proven over without a recorded end: its fence's last renewal + S at most), and a try with neither is counted as alive until now. Tries recorded before fenced tries have no executor end: their end is when they were marked. Reconciled and abandoned tries, and lost tries that never started, ran no executor. Starts are the workers' clocks, ends mostly the database's.";

/**
 * Did the try run an executor? A reconciled try adopts an earlier try's result (its row carries
 * that try's start), an abandoned one runs nothing, and a lost try without any exit status or
 * process end was stopped before its executor started.
 */
export function ranExecutor(t: TryFacts): boolean {
  if (t.status === 'reconciled' || t.status === 'abandoned') return false;
  if (t.status === 'lost') return t.processEndedAt !== null || hasExitStatus(t);
  return true;
}

/** When a try that ran an executor was alive (epoch ms); `open`: no end recorded, counted to `nowMs`. */
export interface TryLife {
  t: TryFacts;
  /** Another session's id; null for this session's tries. */
  otherSession: string | null;
  from: number;
  to: number;
  open: boolean;
}

/** A try's life (see TryLife), or null when it ran no executor or its start is unreadable. */
export function tryLife(t: TryFacts, nowMs: number, otherSession: string | null = null): TryLife | null {
  if (!ranExecutor(t)) return null;
  const from = Date.parse(t.startedAt);
  if (!Number.isFinite(from)) return null;
  const end = t.processEndedAt ?? t.finishedAt;
  const to = end === null ? nowMs : Date.parse(end);
  if (!Number.isFinite(to)) return null;
  return { t, otherSession, from, to: Math.max(from, to), open: end === null };
}

const lifeLabel = (l: TryLife): string => {
  const who = `${attemptLabel(l.t)}${l.otherSession === null ? '' : ` of session ${l.otherSession}`}`;
  const to = l.open ? 'still running' : new Date(l.to).toISOString();
  return `${who} [${l.t.status}, ${new Date(l.from).toISOString()} → ${to}]`;
};

/** Pairs of lives of one run alive at once (a life ending as another starts does not overlap it). */
function overlappingPairs(lives: TryLife[]): Array<[TryLife, TryLife]> {
  const byRun = new Map<string, TryLife[]>();
  for (const l of lives) byRun.set(l.t.runId, [...(byRun.get(l.t.runId) ?? []), l]);
  const out: Array<[TryLife, TryLife]> = [];
  for (const list of byRun.values()) {
    list.sort((a, b) => a.from - b.from || a.to - b.to);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length && list[j].from < list[i].to; j++) {
        if (list[j].from < list[j].to && list[i].from < list[i].to) out.push([list[i], list[j]]);
      }
    }
  }
  return out;
}

/**
 * Run exclusivity of a session: every try that ran an executor (this session's, and other
 * sessions' on the same runs), how many of this session's were alive at once at most, and the
 * pairs of one run alive at once with at least one try of this session (problems).
 */
export function runExclusivity(facts: Pick<VerifyFacts, 'tries' | 'otherTries' | 'now'>) {
  const nowMs = facts.now ? Date.parse(facts.now) : Date.now();
  const own = facts.tries.flatMap((t) => tryLife(t, nowMs) ?? []);
  const others = (facts.otherTries ?? []).flatMap((t) => tryLife(t, nowMs, t.sessionId) ?? []);
  const spans: Span[] = own.map((l) => ({ runId: l.t.runId, from: l.from, to: l.to, label: lifeLabel(l) }));
  const pairs = overlappingPairs([...own, ...others]).filter(
    ([a, b]) => a.otherSession === null || b.otherSession === null,
  );
  return {
    peak: peakParallel(spans),
    overlaps: pairs.map(([a, b]) => `${lifeLabel(a)} overlaps ${lifeLabel(b)}`),
    tries: own.length,
    /** Attempts of which more than one try ran an executor. */
    retriedAttempts: new Set(own.map((l) => attemptKeyOf(l.t))).size < own.length,
    otherTries: others.length,
    countedToNow: [...own, ...others].filter((l) => l.open).map(lifeLabel),
  };
}

export function judgeSelectionSafety(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const retried = set.finals.filter((a) => a.initialState === 'FAILED');
  const overridden = facts.session?.config?.skipRunsWithQueued === false;
  const concurrency = Number(facts.session?.config?.concurrency ?? 1) || 1;
  const exclusive = runExclusivity(facts);
  const problems: string[] = exclusive.overlaps.map((o) => `two tries of one run alive at once: ${o}`);
  const rows = retried.map((a) => {
    const before = qfc(a.runCountsBefore);
    const after = qfc(a.runCountsAfter);
    const at = attemptLabel(a);
    if (!before || !after) {
      const which = [before ? '' : 'start', after ? '' : 'end'].filter(Boolean).join(' and ');
      problems.push(`${at}: the run's phase counts at the ${which} of the attempt were not recorded`);
    }
    if (before && before.queued > 0 && !overridden) {
      problems.push(
        `${at}: FAILED phase retried in a run with ${before.queued} QUEUED phase(s) (skipRunsWithQueued not overridden)`,
      );
    }
    return { run_id: a.runId, phase_id: a.phaseId, attempt: a.attempt, before, after };
  });
  const inQueued = rows.filter((r) => (r.before?.queued ?? 0) > 0).length;
  const ev = {
    retried_phases: retried.length,
    in_runs_with_queued: inQueued,
    skip_runs_with_queued_overridden: overridden,
    retried: rows,
    concurrency,
    peak_parallel_attempts: exclusive.peak,
    run_overlaps: exclusive.overlaps,
    tries_checked: exclusive.tries,
    other_session_tries_checked: exclusive.otherTries,
    counted_to_now: exclusive.countedToNow,
    overlap_scope: OVERLAP_SCOPE,
  };
  const shown =
    concurrency > 1 || exclusive.peak > 1 || exclusive.retriedAttempts || exclusive.otherTries > 0;
  const others = exclusive.otherTries ? ` and ${exclusive.otherTries} of other sessions` : '';
  const parallel = shown
    ? `; up to ${plural(exclusive.peak, 'try', 'tries')} alive at once (${plural(concurrency, 'slot')}), ${plural(exclusive.overlaps.length, 'overlap')} within a run among ${plural(exclusive.tries, 'try', 'tries')}${others}, interrupted ones included`
    : '';
  const summary = `${plural(retried.length, 'FAILED phase')} retried, ${inQueued} in runs with QUEUED > 0${
    overridden ? ' (skipRunsWithQueued overridden by the session)' : ''
  }${parallel}`;
  return criterion(3, retried.length > 0 || exclusive.peak > 1 || problems.length > 0, summary, ev, problems);
}
