import {
  ActivityFailure,
  ApplicationFailure,
  patched,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { DrainActivities } from '../../activities/index.js';
import type { DrainConfig } from '../../src/domain/types.js';

/** Infrastructure failures (database down, worker gone) are retried with backoff. */
const INFRA_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' } as const;
const NON_RETRYABLE = ['SessionConfigError', 'SessionIdReused'];

export const quick = proxyActivities<DrainActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...INFRA_RETRY, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Selection and recording as local activities: short, idempotent (a re-run after a lost
 * workflow task picks or records the same again), and no task round trip of their own.
 */
const localActivities = proxyLocalActivities<DrainActivities>({
  startToCloseTimeout: '2 minutes',
  // A local activity runs on this workflow's worker: one pointed at another database must hand
  // the call to a worker that is not (below), so WrongDatabase is not retried here.
  retry: { ...INFRA_RETRY, nonRetryableErrorTypes: [...NON_RETRYABLE, 'WrongDatabase'] },
});

/** A local activity's failure arrives as the ApplicationFailure itself, a regular one's as its cause. */
const isWrongDatabase = (err: unknown): boolean => {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === 'WrongDatabase';
};

type Short = Pick<DrainActivities, 'selectNextPhase' | 'finishPhase'>;

/** What a selection returns (the pick, the phases passed over, …). */
export type Selection = Awaited<ReturnType<DrainActivities['selectNextPhase']>>;

/**
 * selectNextPhase and finishPhase as local activities, falling back to the same call as a
 * regular activity (which any worker may take) when this worker's database is not the session's.
 */
const local: Short = {
  selectNextPhase: (p) =>
    localActivities.selectNextPhase(p).catch((err: unknown) => {
      if (isWrongDatabase(err)) return quick.selectNextPhase(p);
      throw err;
    }),
  finishPhase: (o) =>
    localActivities.finishPhase(o).catch((err: unknown) => {
      if (isWrongDatabase(err)) return quick.finishPhase(o);
      throw err;
    }),
};

/**
 * Lean orchestration (three round trips per phase instead of five): the pick takes its run's
 * lease, selection and recording run as local activities, and the baseline is left to the drain
 * when the session has no baseline command or a good capture for the commit. Sessions recorded
 * before it replay their own commands (patched).
 */
export const leanOrchestration = (): boolean => patched('lean-orchestration');

/**
 * Where selection and recording run: local activities in a lean one-slot session; regular
 * activities with several slots. Local activities of concurrent slots resolve inside a workflow
 * task in an order a replay does not always reproduce (a query replaying a three-slot session
 * met "ModifyWorkflowPropertiesMachine does not handle ActivityTaskScheduled"), while regular
 * activities resolve as history events. Sessions recorded before keep their commands (patched;
 * one-slot sessions never ask, so their histories are unchanged).
 */
export function shortActivities(slots: number): Short {
  if (!leanOrchestration()) return quick;
  if (slots > 1 && patched('slots-regular-activities')) return quick;
  return local;
}

export function drainProxy(timeoutSeconds: number, config: DrainConfig) {
  return proxyActivities<DrainActivities>({
    startToCloseTimeout: (timeoutSeconds + config.killGraceSeconds + 120) * 1000,
    heartbeatTimeout: config.heartbeatTimeoutSeconds * 1000,
    cancellationType: 'WAIT_CANCELLATION_COMPLETED', // explicit: the SDK sends TRY_CANCEL when unset
    // Bounded: an attempt whose workers keep dying is recorded abandoned (phase.ts), not rerun forever.
    retry: { ...INFRA_RETRY, nonRetryableErrorTypes: NON_RETRYABLE, maximumAttempts: config.maxDrainTries },
  });
}

export const baselineProxy = (timeoutSeconds: number) =>
  proxyActivities<DrainActivities>({
    startToCloseTimeout: (timeoutSeconds + 120) * 1000,
    heartbeatTimeout: '30s',
    retry: { ...INFRA_RETRY, nonRetryableErrorTypes: NON_RETRYABLE },
  });
