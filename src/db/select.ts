/**
 * Selection of the next phase to drain: one read-only statement per mode, returning the pick
 * and the phases passed over ahead of it with their reasons.
 *   select-failed.ts  FAILED phases (index-ordered walk over phases_failed_rank_idx)
 *   select-queued.ts  QUEUED phases (the first queued phase of each run)
 *   select-shared.ts  result type, parameters, skip reasons, final pick step
 */
export { selectFailedPhase } from './select-failed.js';
export { selectQueuedPhase } from './select-queued.js';
export type { SelectResult } from './select-shared.js';
