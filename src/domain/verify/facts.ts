/**
 * The facts `drain verify` judges (gathered by src/cli/verify-session.ts), the shape of its
 * result, and the constants the criteria share.
 */

/** A successful attempt shorter than this is an "instant completion" (criterion 5). */
export const INSTANT_COMPLETION_SECONDS = 1;
/** How much of each stdout log is read to check the identity header (criterion 4). */
export const LOG_HEAD_BYTES = 4096;
/** Statuses of a try that recorded the attempt's outcome. */
export const FINAL_TRY_STATUSES: readonly string[] = ['finished', 'reconciled', 'cancelled'];

export const CRITERIA_TITLES = [
  'No Silent Failures',
  'No "Unknown error" without evidence',
  'Correct Phase Selection Safety',
  'Environment/Identity Consistency',
  'Throughput / Stability',
  'Telemetry Viability',
] as const;

export type CriterionStatus = 'PASS' | 'FAIL' | 'N/A';

export interface CriterionResult {
  id: number;
  title: string;
  status: CriterionStatus;
  /** One short line of evidence (text output); not part of the --json output. */
  summary: string;
  evidence: Record<string, unknown>;
  problems: string[];
}

export interface VerifyResult {
  sessionId: string;
  verdict: 'PASS' | 'FAIL';
  criteria: CriterionResult[];
}

/** The session's drain_sessions row (null for sessions recorded before it existed). */
export interface SessionFacts {
  status: string;
  startedAt: string | null;
  completedAt: string | null;
  workspace: string | null;
  /** The session's validated DrainConfig (camelCase). */
  config: Record<string, unknown> | null;
  apiProcessPattern: string | null;
  apiProcessesStart: number | null;
  apiProcessesEnd: number | null;
}

/** Phase-state counts of a run, e.g. {"QUEUED":2,"FAILED":5,"COMPLETE":3}. */
export type RunCounts = Record<string, number>;

/** One drain_attempts row as verify reads it (one try of one attempt). */
export interface TryFacts {
  id: string;
  execRunId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
  status: string;
  initialState: string | null;
  finalState: string | null;
  success: boolean | null;
  returnCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationSeconds: number | null;
  stdoutPath: string | null;
  stderrPath: string | null;
  /** Bytes the executor itself wrote (the log header excluded). */
  stdoutBytes: number | null;
  stderrBytes: number | null;
  /** sha256 (hex) of each whole log file (header and trailer included) when the try ended; null: not hashed. */
  stdoutSha256: string | null;
  stderrSha256: string | null;
  /** The host the try ran on (its worker's host name); null: rows of earlier releases. */
  host: string | null;
  /** Last renewal of the try's fence by its supervisor (null: no supervisor, earlier releases). */
  fenceAt: string | null;
  /** When the executor's process ended, as its supervisor recorded it (database clock), or null. */
  processEndedAt: string | null;
  errorMessage: string | null;
  lastFailureReason: string | null;
  baselineCommit: string | null;
  /** What the executor was told about the T0 baseline (null: not recorded, older rows). */
  baselineStatus: string | null;
  /** Its environment had AUTOPACK_SKIP_BASELINE=1 (null: not recorded). */
  baselineSkip: boolean | null;
  baselineCaptureId: string | null;
  runCountsBefore: RunCounts | null;
  runCountsAfter: RunCounts | null;
  telemetryByTable: Record<string, number> | null;
  phaseChanged: boolean | null;
  startedAt: string;
  finishedAt: string | null;
}

/** A try of another session on one of the runs this session drained. */
export type OtherSessionTry = TryFacts & { sessionId: string };

/** What is on disk for one attempt's logs. */
export interface LogHeadFacts {
  /** The paths checked (the recorded ones, moved under --workspace when given). */
  stdoutPath: string | null;
  stderrPath: string | null;
  stdoutExists: boolean;
  stderrExists: boolean;
  /** Lines of the first LOG_HEAD_BYTES of the stdout log (empty when it is missing). */
  firstLines: string[];
}

/** One drain_baseline_captures row (one capture try of a commit's T0 baseline). */
export interface BaselineFacts {
  id: string;
  commitSha: string;
  sessionId: string | null;
  attempt: number;
  /** running | ok | failed | timeout | interrupted; only ok is a baseline. */
  status: string;
  exitCode: number | null;
  durationSeconds: number | null;
  error: string | null;
  /** Copied from a drain_baselines row of a version that cached failed captures too. */
  backfilled: boolean;
  startedAt: string;
  finishedAt: string | null;
}

export interface VerifyFacts {
  sessionId: string;
  session: SessionFacts | null;
  /** Every try of the session, any status. */
  tries: TryFacts[];
  /**
   * Tries of other sessions on the runs this session's tries worked on, alive while one of
   * them was (criterion 3 checks them against this session's tries); absent: not read.
   */
  otherTries?: OtherSessionTry[];
  /** By attempt row id (final tries). */
  logs: Record<string, LogHeadFacts>;
  /** drain_baseline_captures rows of the commits the attempts used. */
  baselines: BaselineFacts[];
  /** token_budget_escalation_events rows of the attempt's run/phase during the attempt, by row id. */
  escalations: Record<string, number>;
  /** The host `drain verify` runs on (os.hostname()); absent: every log is judged as local. */
  verifyHost?: string | null;
  /** When the facts were read (ISO; the database's clock): a try still running is alive until then. */
  now?: string;
}
