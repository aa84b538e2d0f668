/**
 * The slot loops of a session: up to `concurrency` phases drain at once, each slot picking,
 * draining and folding its result before it picks again, so stop conditions apply between
 * slots. Picks take turns (DrainSession.exclusive) and exclude the runs other slots hold, so
 * two slots never drain one run. With one slot this issues exactly the commands of the
 * sequential loop it replaced (recorded histories replay, test/e2e/replay.test.ts).
 */
import { condition, sleep, workflowInfo } from '@temporalio/workflow';
import { appendEvents, skipEvents, slotTag } from '../../src/domain/progress-log.js';
import { selectionParams } from '../../src/domain/selection.js';
import { noteSkips, recordPlanned } from '../../src/domain/session-state.js';
import { sessionStopReason, tokenBudgetReason } from '../../src/domain/stop-conditions.js';
import type { PhaseRef } from '../../src/domain/types.js';
import { drainOne } from './phase.js';
import { leanOrchestration, quick, shortActivities } from './proxies.js';
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
  return session.ending === 'continue-as-new' ? 'continue-as-new' : 'stopped';
}

/** One slot: pick (taking turns) → drain → publish, until the session ends. */
async function slotLoop(session: DrainSession, slot: number): Promise<void> {
  let leaseMisses = 0;
  for (;;) {
    await condition(() => !session.paused || session.stopRequested || session.ending !== null);
    const step = await session.exclusive(() => pickStep(session, slot));
    if (step.kind === 'end') return;
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
    await drainOne(session, step.pick, slot);
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
  // The phases other slots drain complete the batch: this slot ends, the last one says why.
  const busy = session.busyRuns().length;
  if (busy > 0 && session.state.processed + busy >= config.batchSize) return 'quiet';
  return null;
}

/** One turn at picking: stop conditions, select, lease. Runs while no other slot picks. */
async function pickStep(session: DrainSession, slot: number): Promise<Step> {
  const { config } = session;
  const parallel = session.slots.length > 1;
  if (session.ending || checkStop(session)) return END;
  const wi = workflowInfo();
  if (wi.continueAsNewSuggested || wi.historyLength >= config.continueAsNewAfterEvents) {
    session.end('continue-as-new');
    return END;
  }
  const busy = session.busyRuns();
  const tag = slotTag(session.slotOf(slot));
  const s = session.state;
  session.state = {
    ...s,
    log: appendEvents(s.log, [
      { kind: 'select', index: s.processed + busy.length + 1, total: config.batchSize, ...tag },
    ]),
  };
  const seen = session.finishedCount;
  const lean = leanOrchestration();
  const sel = await shortActivities(session.slots.length).selectNextPhase({
    ...selectionParams(session.state, config, busy),
    fromRecords: !config.dryRun,
    database: session.database,
    workspace: session.prepared?.workspace ?? null,
    // The pick's run lease is taken by the selection statement itself: one activity less (with
    // slots, while the others wait for their turn). Sessions recorded before keep their commands.
    ...((parallel || lean) && !config.dryRun ? { takeLease: true } : {}),
  });
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
    if (parallel && session.busyRuns().length > 0) return { kind: 'wait-slots', seen };
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
  session.slots[slot].run = sel.pick.runId;
  return { kind: 'drain', pick: sel.pick };
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
