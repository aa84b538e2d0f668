import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { sessionIdProblem } from '../src/domain/files.js';
import { InputError, parseDrainInput } from '../src/domain/input.js';
import type { SessionResult } from '../src/domain/messages.js';
import { newSessionState, unpackedState } from '../src/domain/session-state.js';
import type { DrainConfig } from '../src/domain/types.js';
import { registerHandlers } from './drain/handlers.js';
import { drainLoop } from './drain/slots.js';
import { quick } from './drain/proxies.js';
import { DrainSession, type Carried } from './drain/session.js';

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
 * One drain session: select → lease → baseline → drain → record, until a stop condition, in
 * up to `concurrency` slots at once (workflows/drain/slots.ts).
 * Input is one JSON object, every field optional (see DrainInput). The second parameter is
 * only used by continue-as-new.
 */
export async function batchDrain(input?: unknown, carried?: Carried): Promise<SessionResult> {
  const config = validatedConfig(input);
  const info = workflowInfo();
  const session = new DrainSession(
    config,
    carried?.state ? unpackedState(carried.state) : newSessionState(info.workflowId, Date.now(), config),
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

/** Cancelled: every slot's phase counts as cancelled and every run this session holds is released. */
async function endCancelled(session: DrainSession): Promise<void> {
  const s = session.state;
  const draining = session.slots.filter((slot) => slot.current).length;
  session.state = { ...s, stopReason: 'cancelled', cancelled: s.cancelled + draining };
  for (const runId of session.busyRuns()) {
    await quick.releaseRunLease({ runId, sessionId: s.sessionId, database: session.database });
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
