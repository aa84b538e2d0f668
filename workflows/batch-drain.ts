import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DrainActivities } from '../activities/index.js';
import type { PreparedSession } from '../activities/session.js';
import { InputError, parseDrainInput } from '../src/domain/input.js';
import { judgeAttempt } from '../src/domain/judge.js';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  stateQuery,
  stopSignal,
  type CurrentPhase,
  type Progress,
  type SessionResult,
  type SessionStatus,
} from '../src/domain/messages.js';
import { snapshotOf } from '../src/domain/report.js';
import {
  DrainFailedKey,
  DrainProcessedKey,
  DrainRunFilterKey,
  DrainStatusKey,
} from '../src/domain/search-attributes.js';
import { selectionParams } from '../src/domain/selection.js';
import {
  newSessionState,
  noteSkips,
  own,
  pairKey,
  recordAttempt,
  recordPlanned,
  type SessionState,
} from '../src/domain/session-state.js';
import { cappedPhaseTimeout, remainingSeconds, sessionStopReason } from '../src/domain/stop-conditions.js';
import type { DrainConfig, PhaseRef } from '../src/domain/types.js';

/** Carried across continue-as-new. */
export interface Carried {
  state: SessionState;
  prepared: PreparedSession | null;
  paused: boolean;
  stopRequested: boolean;
  stopNote?: string | null;
}

const INFRA_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' } as const;

const quick = proxyActivities<DrainActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...INFRA_RETRY, nonRetryableErrorTypes: ['SessionConfigError'] },
});

function drainProxy(timeoutSeconds: number, config: DrainConfig) {
  return proxyActivities<DrainActivities>({
    startToCloseTimeout: (timeoutSeconds + config.killGraceSeconds + 120) * 1000,
    heartbeatTimeout: config.heartbeatTimeoutSeconds * 1000,
    cancellationType: 'WAIT_CANCELLATION_COMPLETED', // explicit: the SDK sends TRY_CANCEL when unset
    retry: { ...INFRA_RETRY, nonRetryableErrorTypes: ['SessionConfigError'] },
  });
}

const baselineProxy = (timeoutSeconds: number) =>
  proxyActivities<DrainActivities>({
    startToCloseTimeout: (timeoutSeconds + 120) * 1000,
    heartbeatTimeout: '30s',
    retry: { ...INFRA_RETRY, nonRetryableErrorTypes: ['SessionConfigError'] },
  });

/**
 * One drain session: select → lease → baseline → drain → record, until a stop condition.
 * Input is one JSON object, every field optional (see DrainInput). The second parameter is
 * only used by continue-as-new.
 */
export async function batchDrain(input?: unknown, carried?: Carried): Promise<SessionResult> {
  let config: DrainConfig;
  try {
    config = parseDrainInput(input);
  } catch (err) {
    if (err instanceof InputError) {
      throw ApplicationFailure.create({
        message: err.message,
        type: 'InvalidDrainInput',
        nonRetryable: true,
        details: [err.field],
      });
    }
    throw err;
  }
  const info = workflowInfo();
  let state = carried?.state ?? newSessionState(info.workflowId, Date.now(), config);
  let prepared = carried?.prepared ?? null;
  let paused = carried?.paused ?? false;
  let stopRequested = carried?.stopRequested ?? false;
  let current: CurrentPhase | null = null;
  let stopNote = carried?.stopNote ?? null;
  let status: SessionStatus = 'starting';
  /** What operators see: a running session shows as paused or stopping when it is. */
  const shownStatus = (): SessionStatus =>
    status !== 'running' ? status : stopRequested ? 'stopping' : paused ? 'paused' : 'running';

  const progress = (): Progress => {
    const now = Date.now();
    return {
      sessionId: state.sessionId,
      status: shownStatus(),
      paused,
      stopRequested,
      dryRun: config.dryRun,
      processed: state.processed,
      batchSize: config.batchSize,
      succeeded: state.succeeded,
      failed: state.failed,
      timeouts: state.timeouts,
      telemetryEvents: state.telemetryEvents,
      current: current && {
        ...current,
        runningSeconds: Math.max(0, (now - Date.parse(current.startedAt)) / 1000),
      },
      stoppedRuns: state.stoppedRuns,
      stoppedFingerprints: state.stoppedFingerprints,
      startedAt: state.startedAt,
      elapsedSeconds: (now - state.startedAtMs) / 1000,
      remainingSeconds: remainingSeconds(state, now),
      generation: state.generation,
      stopReason: state.stopReason,
      recent: state.recent.slice(-5),
      skipped: state.skipped.slice(-20),
      planned: state.planned,
      sessionJson: config.dryRun ? null : (prepared?.sessionJson ?? null),
    };
  };
  setHandler(progressQuery, progress);
  setHandler(stateQuery, () => state);
  const publish = (s: SessionStatus) => {
    status = s;
    const shown = shownStatus();
    upsertMemo({
      status: shown,
      runFilter: config.runId ?? '*',
      processed: state.processed,
      succeeded: state.succeeded,
      failed: state.failed,
      batchSize: config.batchSize,
      stopReason: state.stopReason ?? undefined,
      sessionJson: prepared?.sessionJson ?? undefined,
    });
    if (prepared?.searchAttributes) {
      upsertSearchAttributes([
        { key: DrainStatusKey, value: shown },
        { key: DrainRunFilterKey, value: config.runId ?? '*' },
        { key: DrainProcessedKey, value: state.processed },
        { key: DrainFailedKey, value: state.failed },
      ]);
    }
  };
  setHandler(pauseSignal, () => {
    paused = true;
    if (status === 'running') publish('running');
  });
  setHandler(resumeSignal, () => {
    paused = false;
    if (status === 'running') publish('running');
  });
  setHandler(stopSignal, (reason?: string) => {
    stopRequested = true;
    if (typeof reason === 'string' && reason.trim()) stopNote = reason.trim().slice(0, 500);
    if (status === 'running') publish('running');
  });

  const report = (s: string, completed: boolean) => ({
    sessionId: state.sessionId,
    workspace: (prepared as PreparedSession).workspace,
    snapshot: { ...snapshotOf(state), skipped: state.skipped.slice(-100) },
    config,
    status: s,
    completedAt: completed ? new Date().toISOString() : null,
    db: prepared?.db ?? null,
  });

  if (!prepared) {
    prepared = await quick.prepareSession({
      sessionId: state.sessionId,
      workspace: config.workspace,
      executor: config.executor,
      apiUrl: config.apiUrl,
      dryRun: config.dryRun,
    });
  }
  publish('running');

  let leasedRun: string | null = null;
  try {
    let leaseMisses = 0;
    for (;;) {
      await condition(() => !paused || stopRequested);
      const stop = sessionStopReason(state, config, Date.now(), stopRequested);
      if (stop) {
        state = { ...state, stopReason: stopRequested && stopNote ? `${stop}: ${stopNote}` : stop };
        break;
      }
      const wi = workflowInfo();
      if (wi.continueAsNewSuggested || wi.historyLength >= config.continueAsNewAfterEvents) {
        await condition(allHandlersFinished);
        const next: Carried = {
          state: { ...state, generation: state.generation + 1 },
          prepared,
          paused,
          stopRequested,
          stopNote,
        };
        return await continueAsNew<typeof batchDrain>(input, next);
      }
      const sel = await quick.selectNextPhase(selectionParams(state, config));
      state = noteSkips(state, sel.passedOver);
      if (!sel.pick && sel.waitingForLease && !config.dryRun) {
        // What is left belongs to runs another session is draining right now: wait for
        // their leases to be released (or to expire, if that session died).
        await sleep('5s');
        continue;
      }
      if (!sel.pick) {
        const why = sel.waitingForLease ? ' (the rest belongs to runs other sessions are draining)' : '';
        state = { ...state, stopReason: `no eligible phases left${why}` };
        break;
      }
      if (config.dryRun) {
        state = recordPlanned(state, sel.pick);
        continue;
      }
      const lease = await quick.acquireRunLease({ runId: sel.pick.runId, sessionId: state.sessionId });
      if (!lease.acquired) {
        // Another session took the run between the pick and the lease: pass it over this time.
        state = noteSkips(state, [
          {
            runId: sel.pick.runId,
            phaseId: sel.pick.phaseId,
            reason: `run ${sel.pick.runId} is being drained by session ${lease.sessionId}`,
          },
        ]);
        if (++leaseMisses >= 3) await sleep('5s');
        continue;
      }
      leaseMisses = 0;
      leasedRun = sel.pick.runId;
      state = await drainOne(sel.pick);
      leasedRun = null; // finishPhase released it
      publish('running');
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        state = { ...state, stopReason: 'cancelled', cancelled: state.cancelled + (current ? 1 : 0) };
        if (leasedRun) await quick.releaseRunLease({ runId: leasedRun, sessionId: state.sessionId });
        publish('cancelled');
        if (!config.dryRun) await quick.writeSessionReport(report('cancelled', true));
      });
    }
    throw err;
  }

  publish('completed');
  const sessionJson = config.dryRun ? null : await quick.writeSessionReport(report('completed', true));
  return {
    sessionId: state.sessionId,
    status: 'completed',
    stopReason: state.stopReason,
    processed: state.processed,
    succeeded: state.succeeded,
    failed: state.failed,
    timeouts: state.timeouts,
    cancelled: state.cancelled,
    telemetryEvents: state.telemetryEvents,
    planned: state.planned,
    skipped: state.skipped,
    sessionJson,
    db: prepared ? { url: prepared.db.url, runs: prepared.db.runs, phases: prepared.db.phases } : null,
  };

  async function drainOne(pick: PhaseRef): Promise<SessionState> {
    const p = prepared as PreparedSession;
    const timeoutSeconds = cappedPhaseTimeout(state, config, Date.now());
    const baseline = await baselineProxy(config.phaseTimeoutSeconds).ensureBaseline({
      sessionId: state.sessionId,
      workspace: p.workspace,
      baselineCommand: config.baselineCommand,
      timeoutSeconds: config.phaseTimeoutSeconds,
    });
    const attempt = (own(state.attempts, pairKey(pick.runId, pick.phaseId)) ?? 0) + 1;
    current = {
      runId: pick.runId,
      phaseId: pick.phaseId,
      attempt,
      startedAt: new Date().toISOString(),
      timeoutSeconds,
    };
    const outcome = await drainProxy(timeoutSeconds, config).drainPhase({
      sessionId: state.sessionId,
      runId: pick.runId,
      phaseId: pick.phaseId,
      attempt,
      timeoutSeconds,
      killGraceSeconds: config.killGraceSeconds,
      executor: p.executor,
      workspace: p.workspace,
      apiUrl: p.apiUrl,
      baseline,
    });
    const verdict = judgeAttempt(outcome);
    const next = recordAttempt(state, outcome, verdict, config);
    await quick.finishPhase({
      sessionId: state.sessionId,
      runId: pick.runId,
      phaseId: pick.phaseId,
      attempt,
      verdict,
      report: {
        ...report('running', false),
        snapshot: { ...snapshotOf(next), skipped: next.skipped.slice(-100) },
      },
    });
    current = null;
    return next;
  }
}
