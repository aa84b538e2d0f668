import type { AttemptTokens } from './tokens.js';

/**
 * Shared types of autopack-drain. Pure declarations: imported by the workflow
 * (deterministic sandbox), the activities, the CLI and the tests.
 */

export const PHASE_STATES = [
  'QUEUED',
  'EXECUTING',
  'GATE',
  'CI_RUNNING',
  'COMPLETE',
  'FAILED',
  'SKIPPED',
] as const;
export const TERMINAL_STATES: readonly string[] = ['COMPLETE', 'FAILED', 'SKIPPED'];

export const DRAIN_MODES = ['failed', 'queued', 'queued-then-failed'] as const;
export type DrainMode = (typeof DRAIN_MODES)[number];

/** Order within a priority group: the original's (default), or runs with more telemetry per minute first. */
export const DRAIN_ORDERS = ['priority', 'yield'] as const;
export type DrainOrder = (typeof DRAIN_ORDERS)[number];

/** Failure categories, in selection priority order (first is drained first). */
export const FAILURE_CATEGORIES = [
  'unknown',
  'collection',
  'deliverable',
  'patch',
  'other',
  'timeout',
] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

export type ZeroYieldReason =
  | 'success_no_llm_calls'
  | 'timeout'
  | 'stalled'
  | 'token_cap'
  | 'llm_boundary_hit'
  | 'failed_before_llm'
  | 'execution_error'
  | 'unknown';

/** Workflow input: one JSON object, every field optional (camelCase of the original flags). */
export interface DrainInput {
  batchSize?: number;
  runId?: string | null;
  phaseTimeoutSeconds?: number;
  maxTotalMinutes?: number | null;
  maxTimeoutsPerRun?: number;
  maxAttemptsPerPhase?: number;
  maxFingerprintRepeats?: number;
  skipRunsWithQueued?: boolean;
  skipRunPrefixes?: string[];
  maxConsecutiveZeroYield?: number | null;
  dryRun?: boolean;
  apiUrl?: string | null;
  mode?: DrainMode;
  /** Executor command template with {run_id} {phase_id} placeholders; worker default when absent. */
  executor?: string | null;
  /** Workspace directory the executor runs in; worker default when absent. */
  workspace?: string | null;
  /** Optional T0 baseline command, run once per workspace commit. */
  baselineCommand?: string | null;
  /** Seconds between SIGTERM and SIGKILL of the executor's process group. */
  killGraceSeconds?: number;
  /** Continue-as-new once the history has this many events (server suggestion also honoured). */
  continueAsNewAfterEvents?: number;
  /** A drain whose worker stops heartbeating for this long is retried elsewhere (default 20). */
  heartbeatTimeoutSeconds?: number;
  /** Tries of one drain (worker crashes, lost tasks) before the attempt is recorded abandoned (default 5). */
  maxDrainTries?: number;
  /** A phase whose executor we stopped (timeout, cancel) and left non-terminal: leave it, or set it FAILED. */
  onKill?: 'leave' | 'fail';
  /** Processes whose command line contains this are counted as API servers at start and end (default uvicorn). */
  apiProcessPattern?: string;
  /** The database the session must drain (its drain_database_identity id; `drain start` sets it). */
  databaseId?: string | null;
  /** Attempts of one phase across all sessions (failure memory; default unlimited). */
  maxAttemptsPerPhaseTotal?: number | null;
  /** Do not pass over what earlier sessions stopped (failure memory) for this session. */
  ignoreMemory?: boolean;
  /** 'priority' (default, the original's order) or 'yield' (runs with more telemetry per minute first). */
  order?: DrainOrder;
  /** Stop an executor that wrote nothing and changed nothing in the database for this long (default off). */
  stallSeconds?: number | null;
  /** A phase that keeps producing output may run past phaseTimeoutSeconds, up to this (default off). */
  maxPhaseTimeoutSeconds?: number | null;
  /** Phases of one session drained at once, never two of one run (default 1). */
  concurrency?: number;
  /** No new phase starts once the session's attempts have spent this many tokens (default off). */
  maxTokens?: number | null;
  /** Stop a running executor once its phase has spent more than this many tokens in the attempt (default off). */
  maxTokensPerPhase?: number | null;
}

/** Input after validation, every field resolved to its default. */
export interface DrainConfig {
  batchSize: number;
  runId: string | null;
  phaseTimeoutSeconds: number;
  maxTotalMinutes: number | null;
  maxTimeoutsPerRun: number;
  maxAttemptsPerPhase: number;
  maxFingerprintRepeats: number;
  skipRunsWithQueued: boolean;
  skipRunPrefixes: string[];
  maxConsecutiveZeroYield: number | null;
  dryRun: boolean;
  apiUrl: string | null;
  mode: DrainMode;
  executor: string | null;
  workspace: string | null;
  baselineCommand: string | null;
  killGraceSeconds: number;
  continueAsNewAfterEvents: number;
  heartbeatTimeoutSeconds: number;
  maxDrainTries: number;
  onKill: 'leave' | 'fail';
  apiProcessPattern: string;
  databaseId: string | null;
  maxAttemptsPerPhaseTotal: number | null;
  ignoreMemory: boolean;
  order: DrainOrder;
  stallSeconds: number | null;
  maxPhaseTimeoutSeconds: number | null;
  concurrency: number;
  maxTokens: number | null;
  maxTokensPerPhase: number | null;
}

/** A phase as selection returns it. The key is always `run_id:phase_id`. */
export interface PhaseRef {
  runId: string;
  phaseId: string;
  phaseIndex: number;
  /** phases.id (insertion order). */
  dbId: number;
  state: string;
  lastFailureReason: string | null;
  category: FailureCategory;
  /** Attempts of this phase so far this session, when selection read them from the records. */
  attemptsSoFar?: number;
}

/** What the drain activity observed for one attempt (facts, before workflow-side judgement). */
export interface AttemptOutcome {
  runId: string;
  phaseId: string;
  attempt: number;
  initialState: string | null;
  finalState: string | null;
  success: boolean;
  returnCode: number | null;
  signal: string | null;
  /** Our clock stopped it: the timeout (possibly extended), or a stall. */
  timedOut: boolean;
  /**
   * Stopped by --stall-seconds: no output and no database change for that long. A stall is also
   * a timeout (timedOut is true). Optional: outcomes of older versions have no such field.
   */
  stalled?: boolean;
  /** Stopped by --max-tokens-per-phase: its phase spent more than the cap. Optional (older outcomes). */
  tokenCapped?: boolean;
  cancelled: boolean;
  /** True when the outcome was reconciled after a crashed worker, without running the executor again. */
  reconciled: boolean;
  /** False when the executor's exit status could not be known (its worker died). */
  exitKnown: boolean;
  durationSeconds: number;
  stdoutPath: string | null;
  stderrPath: string | null;
  stdoutExcerpt: string;
  stderrExcerpt: string;
  stdoutBytes: number;
  stderrBytes: number;
  lastFailureReason: string | null;
  errorMessage: string | null;
  llmBoundaryHit: boolean;
  /** Telemetry rows written for this run/phase during the attempt. */
  telemetryEvents: number;
  /** Telemetry rows written anywhere during the attempt (may include other sessions). */
  telemetryGlobalDelta: number;
  /** Telemetry rows for this run/phase written during the attempt, per table. */
  telemetryByTable: TelemetryByTable | null;
  /**
   * The phase's and run's tokens_used at the try's start and end, and the spend between them
   * (src/domain/tokens.ts; null values: the backlog has no such column). Optional: outcomes of
   * older versions have no such field.
   */
  tokens?: AttemptTokens;
  /** The run's phase counts by state when the attempt started and when it ended. */
  runCountsBefore: RunStateCounts | null;
  runCountsAfter: RunStateCounts | null;
  /** False when the phase row (state, reason, updated_at) did not change at all. */
  phaseChanged: boolean | null;
  /** Earlier tries of this attempt that a retry found abandoned and marked interrupted. */
  interruptedTries: number;
  /** Processes that outlived the executor's group and had to be reaped (setsid, double forks). */
  processesReaped: number;
  /** The run's lease was gone (or the phase was no longer what was picked): not judged. */
  lost: boolean;
  /** The drain ran out of tries (infrastructure kept failing): recorded, not judged. */
  abandoned: boolean;
  startedAt: string;
  finishedAt: string;
  workerIdentity: string;
  baselineCommit: string | null;
  /** The managed API server the executor was given (worker --api-command), when there was one. */
  apiServer?: { slot: number; url: string; pid: number; starts: number; restarts: number } | null;
}

/** Phase counts of one run by state, e.g. {"QUEUED": 2, "FAILED": 5, "COMPLETE": 3}. */
export type RunStateCounts = Record<string, number>;
/** Rows per telemetry table, e.g. {"token_estimation_v2_events": 4, "token_budget_escalation_events": 1}. */
export type TelemetryByTable = Record<string, number>;

/** Workflow-side judgement of an attempt, merged into the drain_attempts row and the session JSON. */
export interface AttemptVerdict {
  fingerprint: string | null;
  category: FailureCategory;
  yieldPerMinute: number | null;
  zeroYieldReason: ZeroYieldReason | null;
}

export interface SkipRecord {
  runId: string;
  phaseId: string;
  reason: string;
}

export interface PlannedPhase {
  runId: string;
  phaseId: string;
  phaseIndex: number;
  category: FailureCategory;
}

export interface RunStats {
  attempted: number;
  succeeded: number;
  timeouts: number;
  events: number;
}
