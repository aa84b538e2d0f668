import type { ActivityDeps } from './deps.js';
import { redactSelection } from './redact-records.js';
import { sessionProgress, type SessionProgress } from '../src/db/attempts.js';
import type { SelectParams } from '../src/domain/selection.js';
import { selectFailedPhase, selectQueuedPhase, type SelectResult } from '../src/db/select.js';
import { phasesOverTotalAttempts, phasesStoppedByMemory, type MemoryBlock } from '../src/db/memory.js';
import { workspaceCommit } from '../src/runtime/git.js';
import { leaseHeld } from '../src/runtime/metrics.js';
import type { SkipRecord } from '../src/domain/types.js';
import { recordedSpend } from '../src/db/tokens.js';
import { spentNow } from '../src/domain/tokens.js';

/**
 * The backlog rows selection reads: candidates are FAILED or QUEUED phases (a SQLite backlog
 * is read as a snapshot of just those per pick; a PostgreSQL one is queried in place).
 */
const SELECTION_SCOPE = { phaseStates: ['FAILED', 'QUEUED'] } as const;

export function selectActivities(deps: ActivityDeps) {
  const backlog = () => deps.backlog.sql(SELECTION_SCOPE);
  return {
    /**
     * Picks the next phase to drain (one indexed statement per mode). With `takeLease` the same
     * statement takes the pick's run lease; a run another session took meanwhile is passed over
     * and the pick made again (at most 3 times, then the caller waits like for any held run).
     */
    async selectNextPhase(input: SelectParams): Promise<SelectResult> {
      const spent = input.fromRecords && input.tokenBudget ? await sessionSpend(input) : null;
      if (spent !== null && spent >= input.tokenBudget!.maxTokens) {
        return { pick: null, passedOver: [], waitingForLease: false, tokenBudgetSpent: spent };
      }
      const lease = input.takeLease ? { holder: deps.identity, ttlSeconds: deps.leaseTtlSeconds } : null;
      const p: SelectParams = { ...input, lease, memory: await memoryBlocks(input) };
      const done = p.fromRecords ? await sessionProgress(deps.pool, p.sessionId) : null;
      const params = done ? { ...p, ...recordedProgress(done) } : p;
      const missed: SkipRecord[] = [];
      let r = await select(params);
      for (let i = 0; r.pick && r.leased === false; i++) {
        missed.push({
          runId: r.pick.runId,
          phaseId: r.pick.phaseId,
          reason: `run ${r.pick.runId} was taken by another session between pick and lease`,
        });
        if (i === 2) return { pick: null, passedOver: missed, waitingForLease: true };
        r = await select(params);
      }
      if (r.leased) leaseHeld(+1);
      const withMissed = { ...r, passedOver: [...missed, ...r.passedOver] };
      return redactSelection(deps, done ? withAttemptsSoFar(withMissed, done) : withMissed);
    },
  };

  /**
   * What failure memory passes over (src/db/memory.ts): fingerprints earlier sessions stopped
   * on the workspace's current commit (unless ignoreMemory), and phases over the total cap.
   */
  async function memoryBlocks(p: SelectParams): Promise<MemoryBlock[]> {
    const stopped = p.ignoreMemory
      ? []
      : await phasesStoppedByMemory(backlog(), {
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

  /** The session's spend now: folded, or by its records with other slots' running tries. */
  async function sessionSpend(p: SelectParams): Promise<number> {
    const recorded = await recordedSpend(deps.pool, p.sessionId);
    const running = await Promise.all(
      recorded.running.map(async (r) => ({
        before: r.phaseBefore,
        now: (await deps.backlog.tokensOf(r.runId, r.phaseId)).phase,
      })),
    );
    return spentNow(p.tokenBudget?.folded ?? 0, recorded.finished, running);
  }

  async function select(p: SelectParams): Promise<SelectResult> {
    if (p.mode === 'failed') return selectFailedPhase(backlog(), p);
    const queued = await selectQueuedPhase(backlog(), p);
    if (p.mode === 'queued' || queued.pick) return queued;
    const failed = await selectFailedPhase(backlog(), p);
    return {
      pick: failed.pick,
      passedOver: [...queued.passedOver, ...failed.passedOver],
      waitingForLease: queued.waitingForLease || failed.waitingForLease,
      ...(failed.leased !== undefined ? { leased: failed.leased } : {}),
    };
  }
}

/** Attempted and done phases of the session, from its records (the state carries none). */
function recordedProgress(done: SessionProgress): Partial<SelectParams> {
  return {
    attemptedRuns: done.runs,
    attemptedPhases: done.phases,
    attemptCounts: done.attempts,
    doneRuns: done.doneRuns,
    donePhases: done.donePhases,
  };
}

/** The picked phase's attempts so far this session (its next attempt number is one more). */
function withAttemptsSoFar(r: SelectResult, done: SessionProgress): SelectResult {
  if (!r.pick) return r;
  const { runId, phaseId } = r.pick;
  const i = done.runs.findIndex((run, j) => run === runId && done.phases[j] === phaseId);
  return { ...r, pick: { ...r.pick, attemptsSoFar: i < 0 ? 0 : done.attempts[i] } };
}
