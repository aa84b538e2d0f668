import type { ActivityDeps } from './deps.js';
import { workspaceCommit } from '../src/runtime/git.js';
import type { ApiServerInfo } from '../src/runtime/api-servers.js';
import type { ProcessResult } from './executor-process.js';
import { attemptLogHeader, attemptLogTrailer } from '../src/domain/attempt-log.js';
import { TAG_VAR } from '../src/runtime/containment.js';
import type { DatabaseIdentity } from '../src/db/identity.js';
import type { BaselineStatus } from '../src/domain/baseline-decision.js';

export interface BaselineInfo {
  commit: string | null;
  /** Set only after a good capture (executors are told to skip only then). */
  artifactPath: string | null;
  captured: boolean;
  /** What became of the baseline for this commit (activities/baseline.ts). */
  status?: BaselineStatus;
  error?: string | null;
  captureId?: string | null;
}

export interface DrainRequest {
  sessionId: string;
  runId: string;
  phaseId: string;
  /** The phase's state when it was picked: the first try runs only while it still is. */
  pickedState?: string | null;
  attempt: number;
  /** The base timeout (--phase-timeout-seconds, capped by the session's time left). */
  timeoutSeconds: number;
  /**
   * How long a phase that keeps producing output may run (--max-phase-timeout-seconds, capped
   * by the session's time left); null or absent: the base timeout is the limit.
   */
  maxTimeoutSeconds?: number | null;
  /** Stop an executor that wrote nothing and changed nothing in the database for this long. */
  stallSeconds?: number | null;
  /** Stop the executor once its phase has spent more than this many tokens in the try (absent: off). */
  maxTokensPerPhase?: number | null;
  killGraceSeconds: number;
  /** 'fail': a phase whose executor we stopped and left non-terminal is set back to FAILED. */
  onKill?: 'leave' | 'fail';
  executor: string;
  workspace: string;
  apiUrl: string | null;
  /** The session's drain slot (0 with one slot): its managed API server, when the worker has them. */
  slot?: number;
  baseline: BaselineInfo | null;
  /**
   * The baseline was not ensured for this drain: `baseline` is null (the session has no
   * baseline command: the drain reads the commit itself) or a good capture an earlier drain of
   * the session got (used only while the workspace is still on its commit).
   */
  baselineInDrain?: boolean;
  database?: DatabaseIdentity | null;
}

/**
 * The request with its baseline facts when the workflow left them to the drain
 * (`baselineInDrain`): no baseline command → the commit only; a cached good capture → kept
 * while the workspace is on its commit, else not used (the executor is not told to skip its
 * own baseline; status `pending` until the session ensures one for the new commit).
 */
export async function withBaselineFacts(req: DrainRequest): Promise<DrainRequest> {
  if (!req.baselineInDrain) return req;
  const commit = await workspaceCommit(req.workspace);
  if (!req.baseline)
    return { ...req, baseline: { commit, artifactPath: null, captured: false, status: 'none' } };
  if (req.baseline.commit === commit) return req;
  const error = `the workspace moved from commit ${req.baseline.commit ?? '(none)'} to ${commit ?? '(none)'} since the baseline capture`;
  return {
    ...req,
    baseline: { commit, artifactPath: null, captured: false, status: 'pending', error, captureId: null },
  };
}

/**
 * The request with the API URL its executor gets: the session's (or the worker's --api-url),
 * else the URL of the managed API server of this session and slot (started or restarted here
 * if needed; never another session's).
 */
export async function withApiServer(
  deps: ActivityDeps,
  req: DrainRequest,
): Promise<{ req: DrainRequest; apiServer: ApiServerInfo | null }> {
  if (req.apiUrl || !deps.apiServers) return { req, apiServer: null };
  const apiServer = await deps.apiServers.serverFor(req.slot ?? 0, req.sessionId);
  return { req: { ...req, apiUrl: apiServer.url }, apiServer };
}

/** The environment of the executor: the controller's, plus the contract's variables and the try's tags. */
export function executorEnv(
  deps: ActivityDeps,
  req: DrainRequest,
  t: { tryNo: number; execRunId: string; tag: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: deps.databaseUrl,
    PYTHONUTF8: '1',
    PYTHONIOENCODING: 'utf-8',
    TELEMETRY_DB_ENABLED: '1',
    DRAIN_SESSION_ID: req.sessionId,
    DRAIN_RUN_ID: req.runId,
    DRAIN_PHASE_ID: req.phaseId,
    DRAIN_ATTEMPT: String(req.attempt),
    DRAIN_TRY: String(t.tryNo),
    DRAIN_EXEC_RUN_ID: t.execRunId,
    [TAG_VAR]: t.tag,
  };
  // The executor's database is DATABASE_URL: a DATABASE_URL_FILE would win over it in Autopack
  // (and may name a relative SQLite path), and our records' URL is none of its business.
  delete env.DATABASE_URL_FILE;
  delete env.DRAIN_RECORDS_URL;
  if (req.apiUrl) env.AUTOPACK_API_URL = req.apiUrl;
  if (req.baseline?.commit) env.AUTOPACK_BASELINE_COMMIT = req.baseline.commit;
  if (req.baseline?.artifactPath) {
    env.AUTOPACK_BASELINE_PATH = req.baseline.artifactPath;
    env.AUTOPACK_SKIP_BASELINE = '1'; // captured once per commit by the controller
  }
  return env;
}

/** The first lines of both log files (src/domain/attempt-log.ts), for this request and try. */
export function identityHeader(
  env: NodeJS.ProcessEnv,
  req: DrainRequest,
  argv: string[],
  tryNo: number,
  notRun?: string,
): string {
  return attemptLogHeader({
    databaseUrl: env.DATABASE_URL ?? '',
    apiUrl: env.AUTOPACK_API_URL,
    sessionId: req.sessionId,
    runId: req.runId,
    phaseId: req.phaseId,
    attempt: req.attempt,
    tryNo,
    argv,
    cwd: req.workspace,
    startedAt: new Date(),
    timeoutSeconds: req.timeoutSeconds,
    maxTimeoutSeconds: req.maxTimeoutSeconds,
    stallSeconds: req.stallSeconds,
    maxTokensPerPhase: req.maxTokensPerPhase,
    ...(notRun === undefined ? {} : { notRun }),
  });
}

/** How our clock stopped the executor: stalled, timed out (after being extended), or null. */
export function stopNote(
  req: Pick<DrainRequest, 'timeoutSeconds' | 'stallSeconds' | 'maxTokensPerPhase'>,
  proc: Pick<ProcessResult, 'timedOut' | 'stalled' | 'extendedToSeconds'> & { tokenCapped?: boolean },
): string | null {
  if (proc.tokenCapped) return `token cap: its phase spent more than ${req.maxTokensPerPhase ?? '?'} tokens`;
  if (proc.stalled) return `stalled: no output and no database change for ${req.stallSeconds ?? '?'}s`;
  if (!proc.timedOut) return null;
  if (proc.extendedToSeconds !== null) {
    return `timed out after ${proc.extendedToSeconds}s (ran past its ${req.timeoutSeconds}s timeout while writing output)`;
  }
  return `timed out after ${req.timeoutSeconds}s`;
}

/** The last line of both log files: how the executor ended. */
export function trailerOf(req: DrainRequest, proc: ProcessResult): string {
  const notes = [
    proc.spawnError,
    proc.outputCapped ? 'output cap reached' : null,
    stopNote(req, proc),
    proc.cancelled ? 'cancelled' : null,
    proc.stopped ? "stopped: the run's lease was lost" : null,
    proc.processesReaped ? `${proc.processesReaped} escaped process(es) reaped` : null,
  ];
  return attemptLogTrailer(notes, proc);
}
