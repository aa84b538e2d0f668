import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { sessionIdProblem } from '../src/domain/files.js';
import { InputError, parseDrainInput } from '../src/domain/input.js';
import type { SessionResult } from '../src/domain/messages.js';
import { appendEvents, skipEvents } from '../src/domain/progress-log.js';
import { selectionParams } from '../src/domain/selection.js';
import { newSessionState, noteSkips, recordPlanned } from '../src/domain/session-state.js';
import { sessionStopReason } from '../src/domain/stop-conditions.js';
import type { DrainConfig } from '../src/domain/types.js';
import { registerHandlers } from './drain/handlers.js';
import { drainOne } from './drain/phase.js';
import { quick } from './drain/proxies.js';
import { DrainSession, type Carried } from './drain/session.js';

export type { Carried } from './drain/session.js';

const invalid = (message: string, type: string, field: string) =>
  ApplicationFailure.create({ message, type, nonRetryable: true, details: [field] });

/** Validated input, or a non-retryable failure naming the field (or the session id). */
function validatedConfig(input: unknown): DrainConfig {
  const idProblem = sessionIdProblem(workflowInfo().workflowId);
  if (idProblem)
    throw invalid(`invalid session id (workflow id): ${idProblem}`, 'InvalidSessionId', 'workflowId');
  try {
    return parseDrainInput(input);
  } catch (err) {
    if (err instanceof InputError) throw invalid(err.message, 'InvalidDrainInput', err.field);
    throw err;
  }
}

/** A refusal of the session (config, reused id) fails the workflow as itself, not as an activity error. */
function unwrapRefusal(err: unknown): never {
  const cause = err instanceof ActivityFailure ? err.cause : null;
  if (cause instanceof ApplicationFailure && cause.nonRetryable) {
    throw ApplicationFailure.create({
      message: cause.message,
      type: cause.type ?? undefined,
      nonRetryable: true,
    });
  }
  throw err;
}

/**
 * One drain session: select → lease → baseline → drain → record, until a stop condition.
 * Input is one JSON object, every field optional (see DrainInput). The second parameter is
 * only used by continue-as-new.
 */
export async function batchDrain(input?: unknown, carried?: Carried): Promise<SessionResult> {
  const config = validatedConfig(input);
  const info = workflowInfo();
  const session = new DrainSession(
    config,
    carried?.state ?? newSessionState(info.workflowId, Date.now(), config),
    carried,
  );
  registerHandlers(session);
  if (!session.prepared) {
    session.prepared = await quick
      .prepareSession({
        sessionId: info.workflowId,
        chainId: info.firstExecutionRunId,
        config,
        database: config.databaseId ? { id: config.databaseId, name: '(the one drain start saw)' } : null,
      })
      .catch(unwrapRefusal);
  }
  session.publish('running');
  try {
    if ((await drainLoop(session)) === 'continue-as-new') {
      await condition(allHandlersFinished);
      return await continueAsNew<typeof batchDrain>(input, session.carried());
    }
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => endCancelled(session));
    throw err;
  }
  session.publish('completed');
  const sessionJson = config.dryRun
    ? null
    : await quick.writeSessionReport(session.report('completed', true));
  // patched: sessions recorded before this activity existed replay without it (test/fixtures/histories).
  const stillFailed =
    config.dryRun || !patched('phases-still-failed-from-records')
      ? 0
      : await quick.countPhasesStillFailed({ sessionId: info.workflowId, database: session.database });
  return sessionResult(session, sessionJson, stillFailed);
}

/** Picks and drains until a stop condition; returns why it ended. */
async function drainLoop(session: DrainSession): Promise<'stopped' | 'continue-as-new'> {
  const { config } = session;
  let leaseMisses = 0;
  for (;;) {
    await condition(() => !session.paused || session.stopRequested);
    const stop = sessionStopReason(session.state, config, Date.now(), session.stopRequested);
    if (stop) {
      const note = session.stopRequested && session.stopNote ? `${stop}: ${session.stopNote}` : stop;
      session.state = { ...session.state, stopReason: note };
      return 'stopped';
    }
    const wi = workflowInfo();
    if (wi.continueAsNewSuggested || wi.historyLength >= config.continueAsNewAfterEvents)
      return 'continue-as-new';
    const s = session.state;
    session.state = {
      ...s,
      log: appendEvents(s.log, [{ kind: 'select', index: s.processed + 1, total: config.batchSize }]),
    };
    const sel = await quick.selectNextPhase({
      ...selectionParams(session.state, config),
      fromRecords: !config.dryRun,
      database: session.database,
      workspace: session.prepared?.workspace ?? null,
    });
    session.state = noteSkips(session.state, sel.passedOver);
    session.state = { ...session.state, log: appendEvents(session.state.log, skipEvents(sel.passedOver)) };
    if (!sel.pick && sel.waitingForLease && !config.dryRun) {
      // What is left belongs to runs another session is draining right now: wait for their
      // leases to be released (or to expire, if that session died).
      await sleep('5s');
      continue;
    }
    if (!sel.pick) {
      const why = sel.waitingForLease ? ' (the rest belongs to runs other sessions are draining)' : '';
      session.state = { ...session.state, stopReason: `no eligible phases left${why}` };
      return 'stopped';
    }
    if (config.dryRun) {
      session.state = recordPlanned(session.state, sel.pick);
      continue;
    }
    if (!(await leaseRun(session, sel.pick.runId, sel.pick.phaseId))) {
      if (++leaseMisses >= 3) await sleep('5s');
      continue;
    }
    leaseMisses = 0;
    session.leasedRun = sel.pick.runId;
    await drainOne(session, sel.pick);
    session.leasedRun = null; // finishPhase released it
    session.publish();
  }
}

/** Takes the run's lease; when another session took it between pick and lease, passes it over. */
async function leaseRun(session: DrainSession, runId: string, phaseId: string): Promise<boolean> {
  const sessionId = session.state.sessionId;
  const lease = await quick.acquireRunLease({ runId, sessionId, database: session.database });
  if (lease.acquired) return true;
  const skip = { runId, phaseId, reason: `run ${runId} is being drained by session ${lease.sessionId}` };
  session.state = noteSkips(session.state, [skip]);
  session.state = { ...session.state, log: appendEvents(session.state.log, skipEvents([skip])) };
  return false;
}

async function endCancelled(session: DrainSession): Promise<void> {
  const s = session.state;
  session.state = { ...s, stopReason: 'cancelled', cancelled: s.cancelled + (session.current ? 1 : 0) };
  if (session.leasedRun) {
    await quick.releaseRunLease({
      runId: session.leasedRun,
      sessionId: s.sessionId,
      database: session.database,
    });
  }
  session.publish('cancelled');
  if (!session.config.dryRun) await quick.writeSessionReport(session.report('cancelled', true));
}

function sessionResult(
  session: DrainSession,
  sessionJson: string | null,
  stillFailed: number,
): SessionResult {
  const s = session.state;
  const db = session.prepared?.db;
  return {
    sessionId: s.sessionId,
    status: 'completed',
    stopReason: s.stopReason,
    processed: s.processed,
    succeeded: s.succeeded,
    failed: s.failed,
    timeouts: s.timeouts,
    cancelled: s.cancelled,
    interrupted: s.interrupted,
    phasesStillFailed: stillFailed,
    telemetryEvents: s.telemetryEvents,
    planned: s.planned,
    skipped: s.skipped,
    sessionJson,
    db: db ? { url: db.url, runs: db.runs, phases: db.phases } : null,
  };
}
