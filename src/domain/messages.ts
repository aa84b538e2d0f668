import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ProgressLog } from './progress-log.js';
import type { ResultDigest, SessionState } from './session-state.js';
import type { PlannedPhase, SkipRecord } from './types.js';

export type SessionStatus = 'starting' | 'running' | 'paused' | 'stopping' | 'completed' | 'cancelled';

export interface CurrentPhase {
  runId: string;
  phaseId: string;
  attempt: number;
  startedAt: string;
  timeoutSeconds: number;
}

/** What the `progress` query answers. */
export interface Progress {
  sessionId: string;
  status: SessionStatus;
  paused: boolean;
  stopRequested: boolean;
  dryRun: boolean;
  processed: number;
  batchSize: number;
  succeeded: number;
  failed: number;
  timeouts: number;
  telemetryEvents: number;
  /** The first busy slot's phase (the only slot's, with one): kept for older consumers. */
  current: (CurrentPhase & { runningSeconds: number }) | null;
  /**
   * What every slot drains now, one entry per slot (null: selecting, waiting or idle). Absent in
   * the answers of sessions started before slots existed.
   */
  slots?: Array<(CurrentPhase & { runningSeconds: number }) | null>;
  stoppedRuns: Record<string, string>;
  stoppedFingerprints: string[];
  startedAt: string;
  elapsedSeconds: number;
  /** Seconds left in the maxTotalMinutes budget; null when unlimited. */
  remainingSeconds: number | null;
  generation: number;
  stopReason: string | null;
  recent: ResultDigest[];
  skipped: SkipRecord[];
  planned: PlannedPhase[];
  sessionJson: string | null;
  /** The progress lines as events (bounded; see progress-log.ts). */
  log: ProgressLog;
}

/** What a finished session returns. */
export interface SessionResult {
  sessionId: string;
  status: SessionStatus;
  stopReason: string | null;
  processed: number;
  succeeded: number;
  failed: number;
  timeouts: number;
  cancelled: number;
  interrupted: number;
  /** Phases whose last attempt in this session failed (a failure later fixed by a retry is not one). */
  phasesStillFailed: number;
  telemetryEvents: number;
  planned: PlannedPhase[];
  skipped: SkipRecord[];
  sessionJson: string | null;
  db: { url: string; runs: number; phases: number } | null;
}

export const progressQuery = defineQuery<Progress>('progress');
export const stateQuery = defineQuery<SessionState>('state');
export const pauseSignal = defineSignal<[reason?: string]>('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal<[reason?: string]>('stop');
