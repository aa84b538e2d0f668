import type { ActivityDeps } from './deps.js';
import { redactSelection } from './redact-records.js';
import { sessionProgress, type SessionProgress } from '../src/db/attempts.js';
import type { SelectParams } from '../src/domain/selection.js';
import { selectFailedPhase, selectQueuedPhase, type SelectResult } from '../src/db/select.js';
import { phasesOverTotalAttempts, phasesStoppedByMemory, type MemoryBlock } from '../src/db/memory.js';
import { workspaceCommit } from './baseline.js';

export function selectActivities(deps: ActivityDeps) {
  return {
    /** Picks the next phase to drain (read-only; one indexed query per mode). */
    async selectNextPhase(input: SelectParams): Promise<SelectResult> {
      const p = { ...input, memory: await memoryBlocks(input) };
      if (!p.fromRecords) return redactSelection(deps, await select(p));
      const done = await sessionProgress(deps.pool, p.sessionId);
      const r = await select({
        ...p,
        attemptedRuns: done.runs,
        attemptedPhases: done.phases,
        attemptCounts: done.attempts,
        doneRuns: done.doneRuns,
        donePhases: done.donePhases,
      });
      return redactSelection(deps, withAttemptsSoFar(r, done));
    },
  };

  /**
   * What failure memory passes over (src/db/memory.ts): fingerprints earlier sessions stopped
   * on the workspace's current commit (unless ignoreMemory), and phases over the total cap.
   */
  async function memoryBlocks(p: SelectParams): Promise<MemoryBlock[]> {
    const stopped = p.ignoreMemory
      ? []
      : await phasesStoppedByMemory(deps.pool, {
          commit: p.workspace ? await workspaceCommit(p.workspace) : null,
          sessionId: p.sessionId,
          runId: p.runId,
        });
    const capped =
      p.maxAttemptsPerPhaseTotal == null
        ? []
        : await phasesOverTotalAttempts(deps.pool, { limit: p.maxAttemptsPerPhaseTotal, runId: p.runId });
    const seen = new Set(stopped.map((b) => JSON.stringify([b.runId, b.phaseId])));
    return [...stopped, ...capped.filter((b) => !seen.has(JSON.stringify([b.runId, b.phaseId])))];
  }

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

/** The picked phase's attempts so far this session (its next attempt number is one more). */
function withAttemptsSoFar(r: SelectResult, done: SessionProgress): SelectResult {
  if (!r.pick) return r;
  const { runId, phaseId } = r.pick;
  const i = done.runs.findIndex((run, j) => run === runId && done.phases[j] === phaseId);
  return { ...r, pick: { ...r.pick, attemptsSoFar: i < 0 ? 0 : done.attempts[i] } };
}
