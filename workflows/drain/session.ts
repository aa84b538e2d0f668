/**
 * The live state of one drain session inside the workflow: config, durable session state,
 * control flags, what is being drained now. One object, passed to the handlers, the loop and
 * the phase function. Also what operators see (progress query, memo, search attributes).
 */
import { upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { PreparedSession, SessionReport } from '../../activities/session.js';
import type { CurrentPhase, Progress, SessionStatus } from '../../src/domain/messages.js';
import { snapshotOf } from '../../src/domain/report.js';
import {
  DrainFailedKey,
  DrainProcessedKey,
  DrainRunFilterKey,
  DrainStatusKey,
} from '../../src/domain/search-attributes.js';
import type { SessionState } from '../../src/domain/session-state.js';
import { remainingSeconds } from '../../src/domain/stop-conditions.js';
import type { DrainConfig } from '../../src/domain/types.js';

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

export class DrainSession {
  status: SessionStatus = 'starting';
  current: CurrentPhase | null = null;
  /** The run whose lease this session holds right now (released by finishPhase). */
  leasedRun: string | null = null;
  paused: boolean;
  stopRequested: boolean;
  stopNote: string | null;
  prepared: PreparedSession | null;
  reportSeq: number;

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
      state: { ...state, generation: state.generation + 1 },
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
    const c = this.current;
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
      current: c && { ...c, runningSeconds: Math.max(0, (now - Date.parse(c.startedAt)) / 1000) },
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

  /** The session JSON report of `state` (default: the current one), with the next sequence number. */
  report(status: string, completed: boolean, state: SessionState = this.state): SessionReport {
    const p = this.p;
    return {
      sessionId: state.sessionId,
      chainId: p.chainId,
      seq: ++this.reportSeq,
      workspace: p.workspace,
      snapshot: { ...snapshotOf(state), skipped: state.skipped.slice(-100) },
      config: this.config,
      status,
      completedAt: completed ? new Date().toISOString() : null,
      db: p.db,
      database: p.database,
    };
  }
}
