import type { ActivityDeps } from './deps.js';
import { redactSelection } from './redact-records.js';
import type { SelectParams } from '../src/domain/selection.js';
import { selectFailedPhase, selectQueuedPhase, type SelectResult } from '../src/db/select.js';
import { phasesOverTotalAttempts, phasesStoppedByMemory, type MemoryBlock } from '../src/db/memory.js';
import { workspaceCommit } from '../src/runtime/git.js';
import { leaseHeld } from '../src/runtime/metrics.js';
import type { PhaseRef, SkipRecord } from '../src/domain/types.js';
import { recordedSpend } from '../src/db/tokens.js';
import { spentNow } from '../src/domain/tokens.js';
import { currentLeaseHolder } from '../src/db/leases.js';
import { MAX_CONCURRENCY } from '../src/domain/input.js';
import { KeyedTurns } from '../src/runtime/keyed-turns.js';

/**
 * The backlog rows selection reads: candidates are FAILED or QUEUED phases (a SQLite backlog
 * is read as a snapshot of just those per pick; a PostgreSQL one is queried in place).
 */
const SELECTION_SCOPE = { phaseStates: ['FAILED', 'QUEUED'] } as const;

export function selectActivities(deps: ActivityDeps) {
  const backlog = () => deps.backlog.sql(SELECTION_SCOPE);
  // Parallel picks of one session on this worker take turns at the statement (milliseconds),
  // not at the workflow: a wave of its slots does not race for the same run. Picks on other
  // workers race, and the database gives each run to one (pickLeased).
  const pickTurns = new KeyedTurns();
  return {
    /**
     * Picks the next phase to drain (one indexed statement per mode). With `takeLease` the same
     * statement takes the pick's run lease (pickLeased: when it was taken meanwhile).
     */
    async selectNextPhase(input: SelectParams): Promise<SelectResult> {
      const spent = input.fromRecords && input.tokenBudget ? await sessionSpend(input) : null;
      if (spent !== null && spent >= input.tokenBudget!.maxTokens) {
        return { pick: null, passedOver: [], waitingForLease: false, tokenBudgetSpent: spent };
      }
      const lease = input.takeLease ? { holder: deps.identity, ttlSeconds: deps.leaseTtlSeconds } : null;
      const params: SelectParams = { ...input, lease, memory: await memoryBlocks(input) };
      const pick = () => pickLeased(select, params, (runId) => currentLeaseHolder(deps.pool, runId));
      const r = params.ownLeasesBusy ? await pickTurns.run(params.sessionId, pick) : await pick();
      if (r.leased) leaseHeld(+1);
      const withMore = await withMorePicks(select, params, r);
      leaseHeld(withMore.more?.length ?? 0);
      return redactSelection(deps, withMore);
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

  function select(p: SelectParams): Promise<SelectResult> {
    return selectInMode(backlog(), p);
  }
}

/** The pick of the session's mode: FAILED, QUEUED, or QUEUED first then FAILED ('all'). */
async function selectInMode(
  db: Parameters<typeof selectFailedPhase>[0],
  p: SelectParams,
): Promise<SelectResult> {
  if (p.mode === 'failed') return selectFailedPhase(db, p);
  const queued = await selectQueuedPhase(db, p);
  if (p.mode === 'queued' || queued.pick) return queued;
  const failed = await selectFailedPhase(db, p);
  return {
    pick: failed.pick,
    passedOver: [...queued.passedOver, ...failed.passedOver],
    waitingForLease: queued.waitingForLease || failed.waitingForLease,
    ...(failed.leased !== undefined ? { leased: failed.leased } : {}),
  };
}

/**
 * The pick, and with a lease asked for, one whose lease this session got: a run leased between
 * pick and lease by another session is passed over (at most 3 times, then the caller waits like
 * for any held run); with parallel picks (`ownLeasesBusy`) one another slot of this session
 * leased is no skip, and the pick is made again as often as slots can race.
 */
export async function pickLeased(
  select: (p: SelectParams) => Promise<SelectResult>,
  params: SelectParams,
  holderOf: (runId: string) => Promise<string | null>,
): Promise<SelectResult> {
  const missed: SkipRecord[] = [];
  let r = await select(params);
  for (let foreign = 0, own = 0; r.pick && r.leased === false; r = await select(params)) {
    if (params.ownLeasesBusy && (await holderOf(r.pick.runId)) === params.sessionId) {
      if (++own > MAX_CONCURRENCY) return { pick: null, passedOver: missed, waitingForLease: true };
      continue;
    }
    missed.push({
      runId: r.pick.runId,
      phaseId: r.pick.phaseId,
      reason: `run ${r.pick.runId} was taken by another session between pick and lease`,
    });
    if (++foreign === 3) return { pick: null, passedOver: missed, waitingForLease: true };
  }
  return { ...r, passedOver: [...missed, ...r.passedOver] };
}

/**
 * `params.extraPicks` further picks after `first` (leased, with the same inputs), each made with
 * the runs picked before it excluded as busy: what the session's other free slots would pick
 * next, one after another, when no result arrives in between (the workflow drops them if one
 * does). Stops at the first that finds nothing or whose run another session took; the passed-over
 * phases of each are added once. Shared with the workflow tests' fake selection.
 */
export async function withMorePicks(
  select: (p: SelectParams) => Promise<SelectResult>,
  params: SelectParams,
  first: SelectResult,
): Promise<SelectResult> {
  const n = Math.min(8, Math.max(0, Math.floor(params.extraPicks ?? 0)));
  if (n === 0 || !first.pick || first.leased !== true) return first;
  const busy = [...(params.busyRuns ?? []), first.pick.runId];
  const more: PhaseRef[] = [];
  const passedOver = [...first.passedOver];
  const seen = new Set(passedOver.map((s) => JSON.stringify([s.runId, s.phaseId, s.reason])));
  for (let i = 0; i < n; i++) {
    const r = await select({ ...params, busyRuns: [...busy] });
    if (!r.pick || r.leased !== true) break;
    more.push(r.pick);
    busy.push(r.pick.runId);
    for (const s of r.passedOver) {
      const k = JSON.stringify([s.runId, s.phaseId, s.reason]);
      if (!seen.has(k)) passedOver.push(s);
      seen.add(k);
    }
  }
  return { ...first, passedOver, more };
}
