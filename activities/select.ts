import type { ActivityDeps } from './deps.js';
import { redactSelection } from './redact-records.js';
import type { SelectParams } from '../src/domain/selection.js';
import { selectFailedPhase, selectQueuedPhase, type SelectResult } from '../src/db/select.js';

export function selectActivities(deps: ActivityDeps) {
  return {
    /** Picks the next phase to drain (read-only; one indexed query per mode). */
    async selectNextPhase(p: SelectParams): Promise<SelectResult> {
      return redactSelection(deps, await select(p));
    },
  };

  async function select(p: SelectParams): Promise<SelectResult> {
    if (p.mode === 'failed') return selectFailedPhase(deps.pool, p);
    const queued = await selectQueuedPhase(deps.pool, p);
    if (p.mode === 'queued' || queued.pick) return queued;
    const failed = await selectFailedPhase(deps.pool, p);
    return {
      pick: failed.pick,
      passedOver: [...queued.passedOver, ...failed.passedOver],
      waitingForLease: queued.waitingForLease || failed.waitingForLease,
    };
  }
}
