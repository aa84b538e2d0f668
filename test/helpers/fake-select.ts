/**
 * The fake backlog's selection (test/helpers/fake-activities.ts): the rules of the selection
 * statement (src/db/select-failed.ts, select-queued.ts) in outline, over an in-memory list.
 * Candidates are the phases in the mode's states, outside the run filter and the runs other
 * slots hold; a phase that is done, of a blocked run, at maxAttemptsPerPhase, or of a run
 * another session leases is passed over with the reason. Order: the mode's states, phases not
 * yet attempted this session first, triage group (not sampled, promising, other sampled,
 * deprioritized), phase index, insertion order.
 */
import type { SelectResult } from '../../src/db/select-shared.js';
import type { SelectParams } from '../../src/domain/selection.js';
import type { PhaseRef, SkipRecord } from '../../src/domain/types.js';

export const phaseKey = (runId: string, phaseId: string) => JSON.stringify([runId, phaseId]);

/** One attempt of the session as its records hold it. */
export interface RecordedAttempt {
  runId: string;
  phaseId: string;
  attempt: number;
  success: boolean;
}

interface Progress {
  attempts: Map<string, number>;
  done: Set<string>;
}

/** Attempted and done phases: from the records, or (dry runs) from the state in `p`. */
function progressOf(recorded: RecordedAttempt[], p: SelectParams): Progress {
  const attempts = new Map<string, number>();
  const done = new Set<string>();
  const attempted = (k: string, n: number) => attempts.set(k, Math.max(attempts.get(k) ?? 0, n));
  for (const r of recorded) {
    attempted(phaseKey(r.runId, r.phaseId), r.attempt);
    if (r.success) done.add(phaseKey(r.runId, r.phaseId));
  }
  p.attemptedRuns.forEach((run, i) => attempted(phaseKey(run, p.attemptedPhases[i]), p.attemptCounts[i]));
  p.doneRuns.forEach((run, i) => done.add(phaseKey(run, p.donePhases[i])));
  return { attempts, done };
}

const triageGroup = (p: SelectParams, runId: string): number => {
  if (p.deprioritizedRuns.includes(runId)) return 3;
  if (!p.sampledRuns.includes(runId)) return 0;
  return p.promisingRuns.includes(runId) ? 1 : 2;
};

function candidates(
  phases: PhaseRef[],
  p: SelectParams,
  progress: Progress,
  leases: Map<string, string>,
): PhaseRef[] {
  const states = p.mode === 'failed' ? ['FAILED'] : p.mode === 'queued' ? ['QUEUED'] : ['QUEUED', 'FAILED'];
  // Runs other slots hold: those the workflow names, and with parallel picks the session's leases.
  const own = p.ownLeasesBusy ? [...leases].filter(([, s]) => s === p.sessionId).map(([r]) => r) : [];
  const busy = new Set([...(p.busyRuns ?? []), ...own]);
  const tried = (r: PhaseRef) => Number(progress.attempts.has(phaseKey(r.runId, r.phaseId)));
  return phases
    .filter((r) => states.includes(r.state) && !busy.has(r.runId))
    .filter((r) => p.runId == null || r.runId === p.runId)
    .sort(
      (a, b) =>
        states.indexOf(a.state) - states.indexOf(b.state) ||
        tried(a) - tried(b) ||
        triageGroup(p, a.runId) - triageGroup(p, b.runId) ||
        a.phaseIndex - b.phaseIndex ||
        a.dbId - b.dbId,
    );
}

/** Why `r` is passed over (null: it may be picked); `lease` when another session holds its run. */
function skipReason(
  r: PhaseRef,
  p: SelectParams,
  progress: Progress,
  leases: Map<string, string>,
): { reason: string; lease?: true } | null {
  const k = phaseKey(r.runId, r.phaseId);
  const blocked = p.blockedRuns.indexOf(r.runId);
  const holder = leases.get(r.runId);
  if (progress.done.has(k)) return { reason: 'already succeeded this session' };
  if (blocked >= 0) return { reason: p.blockedReasons[blocked] };
  if ((progress.attempts.get(k) ?? 0) >= p.maxAttemptsPerPhase)
    return { reason: `max attempts per phase reached (${p.maxAttemptsPerPhase})` };
  if (holder && holder !== p.sessionId)
    return { reason: `run ${r.runId} is being drained by session ${holder}`, lease: true };
  return null;
}

/**
 * The pick and the phases passed over ahead of it. With `takeLease` the pick's run lease is
 * taken for the session in `leases` (runId → session).
 */
export function fakeSelect(
  phases: PhaseRef[],
  recorded: RecordedAttempt[],
  leases: Map<string, string>,
  p: SelectParams,
): SelectResult {
  const progress = progressOf(recorded, p);
  const passedOver: SkipRecord[] = [];
  let waitingForLease = false;
  for (const r of candidates(phases, p, progress, leases)) {
    const skip = skipReason(r, p, progress, leases);
    if (skip) {
      waitingForLease ||= skip.lease === true;
      if (passedOver.length < p.maxSkipsReported)
        passedOver.push({ runId: r.runId, phaseId: r.phaseId, reason: skip.reason });
      continue;
    }
    if (p.takeLease) leases.set(r.runId, p.sessionId);
    const attemptsSoFar = progress.attempts.get(phaseKey(r.runId, r.phaseId)) ?? 0;
    return {
      pick: { ...r, attemptsSoFar },
      passedOver,
      waitingForLease,
      ...(p.takeLease ? { leased: true } : {}),
    };
  }
  return { pick: null, passedOver, waitingForLease };
}
