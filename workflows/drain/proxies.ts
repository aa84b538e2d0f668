import { proxyActivities } from '@temporalio/workflow';
import type { DrainActivities } from '../../activities/index.js';
import type { DrainConfig } from '../../src/domain/types.js';

/** Infrastructure failures (database down, worker gone) are retried with backoff. */
const INFRA_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' } as const;
const NON_RETRYABLE = ['SessionConfigError', 'SessionIdReused'];

export const quick = proxyActivities<DrainActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...INFRA_RETRY, nonRetryableErrorTypes: NON_RETRYABLE },
});

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
