/**
 * The slot loops of a session: up to `concurrency` phases drain at once, each slot picking,
 * draining and folding its result before it picks again, so stop conditions apply between
 * slots. Picks take turns (DrainSession.exclusive) and exclude the runs other slots hold, so
 * two slots never drain one run. A selection also picks for the other free slots (batch picks:
 * one activity per wave of slots); those picks wait as handoffs, used only while no result has
 * been folded since, else released, so a pick never misses a result another slot folded. With
 * one slot this issues exactly the commands of the sequential loop it replaced (recorded
 * histories replay, test/e2e/replay.test.ts).
 */
import { condition, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { appendEvents, skipEvents, slotTag } from '../../src/domain/progress-log.js';
import { selectionParams } from '../../src/domain/selection.js';
import { noteSkips, recordPlanned } from '../../src/domain/session-state.js';
import { sessionStopReason, tokenBudgetReason } from '../../src/domain/stop-conditions.js';
import type { PhaseRef } from '../../src/domain/types.js';
import type { SelectParams } from '../../src/domain/selection.js';
import { drainOne } from './phase.js';
import { leanOrchestration, quick, shortActivities, type Selection } from './proxies.js';
import type { DrainSession } from './session.js';

/** What one turn at picking came to. */
type Step =
  | { kind: 'end' }
  | { kind: 'again' }
  | { kind: 'lease-miss' }
  | { kind: 'wait-lease'; seen: number }
  | { kind: 'wait-slots'; seen: number }
  | { kind: 'drain'; pick: PhaseRef };

const END: Step = { kind: 'end' };

/** Runs every slot until the session ends; returns why. A slot's error ends the others too. */
export async function drainLoop(session: DrainSession): Promise<'stopped' | 'continue-as-new'> {
  const settled = await Promise.allSettled(
    session.slots.map((_, i) =>
      slotLoop(session, i).catch((err: unknown) => {
        session.end('failed');
        throw err;
      }),
    ),
  );
  const failure = settled.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
  // Picks made for slots that ended first (batch picks only; no await otherwise: replay).
  if (session.handoffs.length > 0) await releaseHandoffs(session);
  return session.ending === 'continue-as-new' ? 'continue-as-new' : 'stopped';
}

/** One slot: pick (in parallel, or taking turns) → drain → publish, until the session ends. */
async function slotLoop(session: DrainSession, slot: number): Promise<void> {
  let leaseMisses = 0;
  /** Parallel picks: the pick the slot's last finishPhaseAndPick made (null: pick anew). */
  let picked: Selection | null = null;
  for (;;) {
    if (picked && session.paused) picked = await dropPicked(session, slot, picked);
    await condition(() => !session.paused || session.stopRequested || session.ending !== null);
    const step: Step = parallelPicks(session)
      ? await pickStep(session, slot, picked)
      : await session.exclusive(() => pickStep(session, slot));
    picked = null;
    if (step.kind === 'end') {
      session.slots[slot].ended = true;
      return;
    }
    if (step.kind === 'again') continue;
    if (step.kind === 'wait-lease') {
      await waitForLeases(session, step.seen);
      continue;
    }
    if (step.kind === 'wait-slots') {
      await condition(() => changed(session, step.seen));
      continue;
    }
    if (step.kind === 'lease-miss') {
      if (++leaseMisses >= 3) await sleep('5s');
      continue;
    }
    leaseMisses = 0;
    picked = parallelPicks(session)
      ? await drainOne(session, step.pick, slot, () => nextPickInput(session, slot))
      : await drainOne(session, step.pick, slot);
    session.slots[slot].run = null; // finishPhase released it
    session.finishedCount += 1;
    session.publish();
  }
}

/** Another slot finished a phase, or the session is ending. */
const changed = (session: DrainSession, seen: number) =>
  session.finishedCount !== seen || session.ending !== null || session.stopRequested;

/**
 * What is left belongs to runs another session is draining right now: wait for their leases to
 * be released (or to expire, if that session died). With slots, a finished phase of this
 * session is worth a look at once.
 */
async function waitForLeases(session: DrainSession, seen: number): Promise<void> {
  if (session.slots.length === 1) await sleep('5s');
  else await condition(() => changed(session, seen), '5s');
}

/** Why this slot must not pick now: a stop condition (ends the session) or a full batch. */
function checkStop(session: DrainSession): 'stop' | 'quiet' | null {
  const { config } = session;
  const stop = sessionStopReason(session.state, config, Date.now(), session.stopRequested);
  if (stop) {
    const note = session.stopRequested && session.stopNote ? `${stop}: ${session.stopNote}` : stop;
    session.end('stopped', note);
    return 'stop';
  }
  // The phases other slots drain (or are picking) complete the batch: this slot ends, the last
  // one says why.
  const busy = parallelPicks(session) ? session.unfinishedPhases() : session.busyRuns().length;
  if (busy > 0 && session.state.processed + busy >= config.batchSize) return 'quiet';
  return null;
}

/** A handoff older than this is not used (its run's lease has a minute at least). */
const HANDOFF_MAX_AGE_MS = 10_000;

/**
 * Parallel picks: with several slots, each slot selects as soon as it is free, without waiting
 * for the others' turns; the database keeps two slots off one run (a run this session leases is
 * another slot's: SelectParams.ownLeasesBusy), and the slot finishing a phase releases its run
 * before it picks. Sessions recorded before take turns (patched; one-slot sessions never ask).
 */
const parallelPicks = (session: DrainSession): boolean =>
  session.slots.length > 1 && !session.config.dryRun && leanOrchestration() && patched('parallel-picks');

/**
 * Batch picks (sessions recorded with them, before parallel picks): one selection also picks
 * for the other free slots (one activity per wave of slots instead of one per slot). Sessions
 * recorded before that pick one phase per selection (patched; one-slot sessions never ask).
 */
const batchPicks = (session: DrainSession): boolean =>
  session.slots.length > 1 && !session.config.dryRun && !parallelPicks(session) && patched('batch-picks');

/** Releases the leases of picks no slot took, one by one (each stays busy until released). */
async function releaseHandoffs(session: DrainSession): Promise<void> {
  while (session.handoffs.length > 0) {
    const { runId } = session.handoffs[0].pick;
    await quick.releaseRunLease({ runId, sessionId: session.state.sessionId, database: session.database });
    session.handoffs.shift();
  }
}

/** A pick made for this slot by another's selection, when still good (else all are released). */
async function takeHandoff(session: DrainSession): Promise<PhaseRef | null> {
  const fresh = (h: DrainSession['handoffs'][number]) =>
    h.folds === session.folds && Date.now() - h.at < HANDOFF_MAX_AGE_MS;
  if (!session.handoffs.every(fresh)) await releaseHandoffs(session);
  return session.handoffs.shift()?.pick ?? null;
}

/** How many further picks this slot's selection makes for free slots (batch picks). */
function extraPicks(session: DrainSession, slot: number, busy: number): number {
  const { config } = session;
  if (config.maxTokens != null) return 0; // the budget is checked before each pick
  const free = session.slots.filter((s, i) => i !== slot && s.run === null && !s.ended).length;
  return Math.max(0, Math.min(free, config.batchSize - session.state.processed - busy - 1));
}

/** The progress log's "selecting" line of a slot. */
function noteSelect(session: DrainSession, slot: number): void {
  const s = session.state;
  const index = s.processed + session.busyRuns().length + 1;
  const tag = slotTag(session.slotOf(slot));
  session.state = {
    ...s,
    log: appendEvents(s.log, [{ kind: 'select', index, total: session.config.batchSize, ...tag }]),
  };
}

/**
 * The selection activity's input: the state's selection parameters with the runs `busy` other
 * slots hold, `more` further picks (batch picks), and with parallel picks ownLeasesBusy.
 */
function selectInput(
  session: DrainSession,
  busy: string[],
  more: number,
  inParallel: boolean,
  lean = true,
): SelectParams {
  const { config } = session;
  const parallel = session.slots.length > 1;
  return {
    ...selectionParams(session.state, config, busy),
    fromRecords: !config.dryRun,
    database: session.database,
    workspace: session.prepared?.workspace ?? null,
    // The pick's run lease is taken by the selection statement itself: one activity less (with
    // slots, while the others wait for their turn). Sessions recorded before keep their commands.
    ...((parallel || lean) && !config.dryRun ? { takeLease: true } : {}),
    ...(more > 0 ? { extraPicks: more } : {}),
    ...(inParallel ? { ownLeasesBusy: true } : {}),
  };
}

/**
 * One turn at picking: stop conditions, select, lease. Runs while no other slot picks (or, with
 * parallel picks, alongside them; `picked`: the selection already made by finishPhaseAndPick).
 */
async function pickStep(session: DrainSession, slot: number, picked: Selection | null = null): Promise<Step> {
  if (picked) session.picksInFlight -= 1;
  const { config } = session;
  const parallel = session.slots.length > 1;
  const batch = batchPicks(session);
  const handed = batch ? await takeHandoff(session) : null;
  const wi = workflowInfo();
  const cas = wi.continueAsNewSuggested || wi.historyLength >= config.continueAsNewAfterEvents;
  if (session.ending || checkStop(session) || cas) {
    if (cas && !session.ending) session.end('continue-as-new');
    if (handed) await giveBack(session, slot, handed.runId);
    if (picked?.pick && picked.leased) await giveBack(session, slot, picked.pick.runId);
    return END;
  }
  if (handed) {
    noteSelect(session, slot);
    Object.assign(session.slots[slot], { run: handed.runId, folded: false });
    return { kind: 'drain', pick: handed };
  }
  const busy = session.busyRuns();
  const tag = slotTag(session.slotOf(slot));
  noteSelect(session, slot);
  const seen = session.finishedCount;
  const made = { folds: session.folds, at: Date.now() };
  const lean = leanOrchestration();
  const more = batch ? extraPicks(session, slot, busy.length) : 0;
  const inParallel = parallelPicks(session);
  let sel: Selection;
  if (picked) sel = picked;
  else {
    const selecting = shortActivities(session.slots.length).selectNextPhase(
      selectInput(session, busy, more, inParallel, lean),
    );
    if (inParallel) session.picksInFlight += 1;
    try {
      sel = await selecting; // the same single await as before parallel picks (replay)
    } finally {
      if (inParallel) session.picksInFlight -= 1;
    }
  }
  for (const pick of sel.more ?? []) session.handoffs.push({ pick, ...made });
  session.state = noteSkips(session.state, sel.passedOver);
  session.state = { ...session.state, log: appendEvents(session.state.log, skipEvents(sel.passedOver, tag)) };
  // Results that arrived while selecting may have ended the session (one slot: nothing arrives).
  if (parallel && (session.ending || checkStop(session))) {
    if (sel.pick && sel.leased) await giveBack(session, slot, sel.pick.runId);
    return END;
  }
  if (sel.tokenBudgetSpent != null && config.maxTokens != null) {
    session.end('stopped', tokenBudgetReason(sel.tokenBudgetSpent, config.maxTokens));
    return END;
  }
  if (!sel.pick && sel.waitingForLease && !config.dryRun) return { kind: 'wait-lease', seen };
  if (!sel.pick) {
    // Another slot's run may still have phases left once its phase is done.
    // (Or, picking in parallel, a run another slot is picking right now.)
    if (parallel && session.busyRuns().length + session.picksInFlight > 0)
      return { kind: 'wait-slots', seen };
    const why = sel.waitingForLease ? ' (the rest belongs to runs other sessions are draining)' : '';
    session.end('stopped', `no eligible phases left${why}`);
    return END;
  }
  if (config.dryRun) {
    session.state = recordPlanned(session.state, sel.pick);
    return { kind: 'again' };
  }
  if (!sel.leased && !(await leaseRun(session, sel.pick.runId, sel.pick.phaseId, tag)))
    return { kind: 'lease-miss' };
  Object.assign(session.slots[slot], { run: sel.pick.runId, folded: false });
  return { kind: 'drain', pick: sel.pick };
}

/**
 * Parallel picks: the input of the slot's next selection, made in the activity that records its
 * phase (finishPhaseAndPick, after the run's lease is released), when the folded state lets the
 * slot pick right away; else null, and the slot picks as usual (pickStep says why it may not).
 * Counted as a pick in flight until pickStep takes it.
 */
function nextPickInput(session: DrainSession, slot: number): SelectParams | null {
  const { config } = session;
  if (session.paused || session.stopRequested || session.ending) return null;
  const wi = workflowInfo();
  if (wi.continueAsNewSuggested || wi.historyLength >= config.continueAsNewAfterEvents) return null;
  if (sessionStopReason(session.state, config, Date.now(), false)) return null;
  const own = session.slots[slot].run;
  const busy = session.busyRuns().filter((r) => r !== own);
  if (session.state.processed + session.unfinishedPhases() >= config.batchSize) return null;
  session.picksInFlight += 1;
  return selectInput(session, busy, 0, true);
}

/** A pick made ahead that the slot will not use now (paused): its run's lease is given back. */
async function dropPicked(session: DrainSession, slot: number, picked: Selection): Promise<null> {
  session.picksInFlight -= 1;
  if (picked.pick && picked.leased) await giveBack(session, slot, picked.pick.runId);
  return null;
}

/** Releases a run leased with a pick the slot will not drain (the session ended meanwhile). */
async function giveBack(session: DrainSession, slot: number, runId: string): Promise<void> {
  session.slots[slot].run = runId; // held until released, so a cancellation releases it too
  await quick.releaseRunLease({ runId, sessionId: session.state.sessionId, database: session.database });
  session.slots[slot].run = null;
}

/** Takes the run's lease; when another session took it between pick and lease, passes it over. */
async function leaseRun(
  session: DrainSession,
  runId: string,
  phaseId: string,
  tag: { slot?: number },
): Promise<boolean> {
  const sessionId = session.state.sessionId;
  const lease = await quick.acquireRunLease({ runId, sessionId, database: session.database });
  if (lease.acquired) return true;
  const skip = { runId, phaseId, reason: `run ${runId} is being drained by session ${lease.sessionId}` };
  session.state = noteSkips(session.state, [skip]);
  session.state = { ...session.state, log: appendEvents(session.state.log, skipEvents([skip], tag)) };
  return false;
}
