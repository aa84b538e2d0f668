/**
 * The live state of one drain session inside the workflow: config, durable session state,
 * control flags, what is being drained now. One object, passed to the handlers, the loop and
 * the phase function. Also what operators see (progress query, memo, search attributes).
 */
import { condition, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { PreparedSession, SessionReport } from '../../activities/session.js';
import type { BaselineInfo } from '../../activities/drain-env.js';
import type { CurrentPhase, Progress, SessionStatus } from '../../src/domain/messages.js';
import { snapshotOf } from '../../src/domain/report.js';
import {
  DrainFailedKey,
  DrainProcessedKey,
  DrainRunFilterKey,
  DrainStatusKey,
} from '../../src/domain/search-attributes.js';
import { packedState, type SessionState } from '../../src/domain/session-state.js';
import { remainingSeconds } from '../../src/domain/stop-conditions.js';
import { sessionJsonDue } from '../../src/domain/json-cadence.js';
import type { DrainConfig, PhaseRef } from '../../src/domain/types.js';

/** Carried across continue-as-new. */
export interface Carried {
  state: SessionState;
  prepared: PreparedSession | null;
  paused: boolean;
  stopRequested: boolean;
  stopNote?: string | null;
  /** Session JSON writes so far (each write's sequence number is larger). */
  reportSeq?: number;
}

/** One slot: the run whose lease it holds (released by finishPhase) and the phase it drains. */
interface SlotState {
  run: string | null;
  current: CurrentPhase | null;
  /** Its loop has ended (a stop, a full batch): it picks nothing more. */
  ended?: boolean;
  /** Its phase's result is folded; its run is held until finishPhase returns (parallel picks). */
  folded?: boolean;
}

/**
 * A pick one slot's selection made for another, free slot (batch picks): its run is leased to
 * the session. Good only while no result has been folded since (`folds`) and for a few seconds.
 */
interface Handoff {
  pick: PhaseRef;
  folds: number;
  at: number;
}

/** Why the slots end: a stop condition, continue-as-new, or one slot failed. */
type Ending = 'stopped' | 'continue-as-new' | 'failed';

export class DrainSession {
  status: SessionStatus = 'starting';
  /** What every slot holds and drains now (one slot unless `concurrency` > 1; dry runs: one). */
  readonly slots: SlotState[];
  /** Set once, by the first slot that ends the session: the others end after their phase. */
  ending: Ending | null = null;
  /** Phases finished so far by any slot: a waiting slot looks again when it grows. */
  finishedCount = 0;
  /** A slot is picking (select + lease): picks take turns, so two never take one run. */
  private picking = false;
  /**
   * Parallel picks (workflows/drain/slots.ts): selections running now, each counted as a busy
   * slot by the batch-size check until its pick is a slot's run.
   */
  picksInFlight = 0;
  /** Picks made for free slots, not yet taken (workflows/drain/slots.ts). */
  handoffs: Handoff[] = [];
  /** Results folded so far by any slot: a handoff made before the last fold is not used. */
  folds = 0;
  paused: boolean;
  stopRequested: boolean;
  stopNote: string | null;
  prepared: PreparedSession | null;
  reportSeq: number;
  /** Results folded since the running session JSON was last due (a new workflow run: due at once). */
  private foldsSinceReport = Number.MAX_SAFE_INTEGER - 1;
  /** The good baseline capture of this session's commit, once ensured (lean orchestration). */
  baseline: BaselineInfo | null = null;

  constructor(
    readonly config: DrainConfig,
    public state: SessionState,
    carried?: Carried,
  ) {
    this.prepared = carried?.prepared ?? null;
    this.paused = carried?.paused ?? false;
    this.stopRequested = carried?.stopRequested ?? false;
    this.stopNote = carried?.stopNote ?? null;
    this.reportSeq = carried?.reportSeq ?? 0;
    const n = config.dryRun ? 1 : config.concurrency;
    this.slots = Array.from({ length: n }, () => ({ run: null, current: null }));
  }

  /** The first slot's phase (the only one with one slot): what older progress consumers show. */
  get current(): CurrentPhase | null {
    return this.slots.find((s) => s.current)?.current ?? null;
  }

  /** The slot as progress events and results carry it: only when there are several. */
  slotOf(slot: number): number | undefined {
    return this.slots.length > 1 ? slot : undefined;
  }

  /** Runs this session's slots hold right now, and those of picks waiting for a slot. */
  busyRuns(): string[] {
    return [
      ...this.slots.flatMap((s) => (s.run === null ? [] : [s.run])),
      ...this.handoffs.map((h) => h.pick.runId),
    ];
  }

  /**
   * Phases that will still add to `processed` (parallel picks): slots draining a phase not yet
   * folded, picks waiting for a slot, picks in flight. (Taking turns, every held run counts.)
   */
  unfinishedPhases(): number {
    const draining = this.slots.filter((s) => s.run !== null && !s.folded).length;
    return draining + this.handoffs.length + this.picksInFlight;
  }

  /** Ends the slots (the first reason wins); `stopReason` goes into the state. */
  end(why: Ending, stopReason?: string): void {
    if (this.ending) return;
    this.ending = why;
    if (stopReason !== undefined) this.state = { ...this.state, stopReason };
  }

  /**
   * Runs `fn` while no other slot picks. With one slot it just runs it (no wait, nothing in
   * history). Several waiters may wake together, so each looks again before it takes the turn.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.slots.length === 1) return fn();
    while (this.picking) await condition(() => !this.picking);
    this.picking = true;
    try {
      return await fn();
    } finally {
      this.picking = false;
    }
  }

  get p(): PreparedSession {
    if (!this.prepared) throw new Error('session not prepared');
    return this.prepared;
  }

  /** The database identity every activity input carries (checked by the worker). */
  get database() {
    return this.prepared?.database ?? null;
  }

  carried(): Carried {
    const { state, prepared, paused, stopRequested, stopNote, reportSeq } = this;
    return {
      state: packedState({ ...state, generation: state.generation + 1 }),
      prepared,
      paused,
      stopRequested,
      stopNote,
      reportSeq,
    };
  }

  /** What operators see: a running session shows as paused or stopping when it is. */
  shownStatus(): SessionStatus {
    if (this.status !== 'running') return this.status;
    return this.stopRequested ? 'stopping' : this.paused ? 'paused' : 'running';
  }

  progress(): Progress {
    const now = Date.now();
    const s = this.state;
    const running = (c: CurrentPhase | null) =>
      c && { ...c, runningSeconds: Math.max(0, (now - Date.parse(c.startedAt)) / 1000) };
    return {
      sessionId: s.sessionId,
      status: this.shownStatus(),
      paused: this.paused,
      stopRequested: this.stopRequested,
      dryRun: this.config.dryRun,
      processed: s.processed,
      batchSize: this.config.batchSize,
      succeeded: s.succeeded,
      failed: s.failed,
      timeouts: s.timeouts,
      telemetryEvents: s.telemetryEvents,
      current: running(this.current),
      slots: this.slots.map((slot) => running(slot.current)),
      stoppedRuns: s.stoppedRuns,
      stoppedFingerprints: s.stoppedFingerprints,
      startedAt: s.startedAt,
      elapsedSeconds: (now - s.startedAtMs) / 1000,
      remainingSeconds: remainingSeconds(s, now),
      generation: s.generation,
      stopReason: s.stopReason,
      recent: s.recent.slice(-5),
      skipped: s.skipped.slice(-20),
      planned: s.planned,
      sessionJson: this.config.dryRun ? null : (this.prepared?.sessionJson ?? null),
      log: s.log,
    };
  }

  /** Memo and search attributes (where registered) follow the session. */
  publish(status?: SessionStatus): void {
    if (status) this.status = status;
    const shown = this.shownStatus();
    const s = this.state;
    const runFilter = this.config.runId ?? '*';
    upsertMemo({
      status: shown,
      runFilter,
      processed: s.processed,
      succeeded: s.succeeded,
      failed: s.failed,
      batchSize: this.config.batchSize,
      stopReason: s.stopReason ?? undefined,
      sessionJson: this.prepared?.sessionJson ?? undefined,
    });
    if (this.prepared?.searchAttributes) {
      upsertSearchAttributes([
        { key: DrainStatusKey, value: shown },
        { key: DrainRunFilterKey, value: runFilter },
        { key: DrainProcessedKey, value: s.processed },
        { key: DrainFailedKey, value: s.failed },
      ]);
    }
  }

  /**
   * After a fold: the running session JSON's report when a rewrite is due (src/domain/json-cadence.ts:
   * once the results since the last one reach 1/16 of those held), else null. The report (up to
   * ~18 kB) then enters the history only with the phases that rewrite the file.
   */
  runningReport(state: SessionState): SessionReport | null {
    this.foldsSinceReport += 1;
    if (!sessionJsonDue(this.foldsSinceReport, state.processed)) return null;
    this.foldsSinceReport = 0;
    return this.report('running', false, state);
  }

  /** The session JSON report of `state` (default: the current one), with the next sequence number. */
  report(status: string, completed: boolean, state: SessionState = this.state): SessionReport {
    const p = this.p;
    return {
      sessionId: state.sessionId,
      chainId: p.chainId,
      seq: ++this.reportSeq,
      workspace: p.workspace,
      snapshot: packedState({ ...snapshotOf(state), skipped: state.skipped.slice(-100) }),
      config: this.config,
      status,
      completedAt: completed ? new Date().toISOString() : null,
      db: p.db,
      database: p.database,
    };
  }
}
