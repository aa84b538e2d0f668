import { appendFile, writeFile } from 'node:fs/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { claimAttemptLogs, type AttemptLogPaths } from './paths.js';
import { runExecutorProcess, type ProcessResult } from './executor-process.js';
import { recoverPreviousTry, type DrainHeartbeat } from './drain-recovery.js';
import { redactOutcome } from './redact-records.js';
import { workflowRun } from './workflow-run.js';
import { outcomeFromFacts, type ExitFacts } from '../src/domain/attempt-outcome.js';
import { renderCommand } from '../src/domain/command-template.js';
import { redactArgv, redactUrl } from '../src/domain/redact.js';
import type { AttemptOutcome } from '../src/domain/types.js';
import type { DatabaseIdentity } from '../src/db/identity.js';
import { finishAttempt, setAttemptProcess, startAttempt, type AttemptKey } from '../src/db/attempts.js';
import { getPhase, runStateCounts, type PhaseRow } from '../src/db/phases.js';
import { countTelemetry, tableDelta, type TelemetryCounts } from '../src/db/telemetry.js';
import { renewLease } from '../src/db/leases.js';

export interface BaselineInfo {
  commit: string | null;
  artifactPath: string | null;
  captured: boolean;
}

export interface DrainRequest {
  sessionId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  timeoutSeconds: number;
  killGraceSeconds: number;
  executor: string;
  workspace: string;
  apiUrl: string | null;
  baseline: BaselineInfo | null;
  database?: DatabaseIdentity | null;
}

/** The environment of the executor: the controller's, plus the contract's variables. */
export function executorEnv(deps: ActivityDeps, req: DrainRequest): NodeJS.ProcessEnv {
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
  };
  if (req.apiUrl) env.AUTOPACK_API_URL = req.apiUrl;
  if (req.baseline?.commit) env.AUTOPACK_BASELINE_COMMIT = req.baseline.commit;
  if (req.baseline?.artifactPath) {
    env.AUTOPACK_BASELINE_PATH = req.baseline.artifactPath;
    env.AUTOPACK_SKIP_BASELINE = '1'; // captured once per commit by the controller
  }
  return env;
}

/** The first lines of both log files: the effective DATABASE_URL and AUTOPACK_API_URL, redacted. */
function identityHeader(env: NodeJS.ProcessEnv, req: DrainRequest, argv: string[], tryNo: number): string {
  return [
    `DATABASE_URL=${redactUrl(env.DATABASE_URL ?? '')}`,
    `AUTOPACK_API_URL=${env.AUTOPACK_API_URL ? redactUrl(env.AUTOPACK_API_URL) : '(not set)'}`,
    `# autopack-drain session=${req.sessionId} run_id=${req.runId} phase_id=${req.phaseId} attempt=${req.attempt} try=${tryNo}`,
    `# command: ${JSON.stringify(redactArgv(argv))}`,
    `# cwd: ${req.workspace}`,
    `# started_at: ${new Date().toISOString()} timeout: ${req.timeoutSeconds}s`,
    '# ---',
    '',
  ].join('\n');
}

/** The exit facts next to the logs: what a retry reads when this worker dies before recording. */
async function writeExitRecord(file: string, proc: ProcessResult): Promise<void> {
  const { returnCode, signal, timedOut, cancelled, durationSeconds } = proc;
  const record: ExitFacts & { finishedAt: string } = {
    returnCode,
    signal,
    timedOut,
    cancelled,
    durationSeconds,
    finishedAt: new Date().toISOString(),
  };
  await writeFile(file, JSON.stringify(record) + '\n', { flag: 'wx' }).catch(() => {});
}

function trailerOf(req: DrainRequest, proc: ProcessResult): string {
  return `\n# --- ${proc.spawnError ?? ''}${proc.outputCapped ? 'output cap reached; ' : ''}${
    proc.timedOut ? `timed out after ${req.timeoutSeconds}s; ` : ''
  }${proc.cancelled ? 'cancelled; ' : ''}exit code ${proc.returnCode ?? 'none'}${
    proc.signal ? ` (signal ${proc.signal})` : ''
  } after ${proc.durationSeconds}s\n`;
}

/** Did anything of the phase row change (state, reason, updated_at)? */
export function phaseChanged(before: PhaseRow | null, after: PhaseRow | null): boolean | null {
  if (!before || !after) return before === after ? null : true;
  return (
    before.state !== after.state ||
    before.last_failure_reason !== after.last_failure_reason ||
    (before.updated_at?.getTime() ?? null) !== (after.updated_at?.getTime() ?? null)
  );
}

function renderArgv(req: DrainRequest): string[] {
  try {
    return renderCommand(req.executor, {
      run_id: req.runId,
      phase_id: req.phaseId,
      session_id: req.sessionId,
      workspace: req.workspace,
    });
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `executor template: ${(err as Error).message}`,
      'SessionConfigError',
    );
  }
}

interface TryStart {
  key: AttemptKey;
  paths: AttemptLogPaths;
  headerBytes: number;
  initial: PhaseRow | null;
  before: TelemetryCounts;
  runCountsBefore: Record<string, number>;
  startedAt: string;
  interruptedTries: number;
}

async function runTry(
  deps: ActivityDeps,
  req: DrainRequest,
  t: TryStart,
  argv: string[],
  env: NodeJS.ProcessEnv,
) {
  const ctx = Context.current();
  let pidNoted = false;
  return runExecutorProcess({
    argv,
    cwd: req.workspace,
    env,
    timeoutSeconds: req.timeoutSeconds,
    killGraceSeconds: req.killGraceSeconds,
    stdoutPath: t.paths.stdout,
    stderrPath: t.paths.stderr,
    headerBytes: t.headerBytes,
    maxLogBytes: deps.maxLogBytes,
    heartbeatIntervalMs: deps.heartbeatIntervalMs,
    onTick: ({ pid, bytesOut, lastOutputAt }) => {
      const hb: DrainHeartbeat = {
        tryNo: t.key.tryNo,
        host: deps.host,
        pid,
        pgid: pid,
        startedAt: t.startedAt,
        logPaths: t.paths,
        bytesOut,
        lastOutputAt: lastOutputAt ? new Date(lastOutputAt).toISOString() : null,
      };
      ctx.heartbeat(hb);
      if (pid && !pidNoted) {
        pidNoted = true;
        void setAttemptProcess(deps.pool, t.key, pid).catch(() => (pidNoted = false));
      }
      void renewLease(deps.pool, req.runId, req.sessionId, deps.leaseTtlSeconds).catch(() => {});
    },
  });
}

async function outcomeOfTry(
  deps: ActivityDeps,
  req: DrainRequest,
  t: TryStart,
  proc: ProcessResult,
): Promise<AttemptOutcome> {
  const final = await getPhase(deps.pool, req.runId, req.phaseId);
  const after = await countTelemetry(deps.pool, req.runId, req.phaseId);
  return outcomeFromFacts({
    runId: req.runId,
    phaseId: req.phaseId,
    attempt: req.attempt,
    timeoutSeconds: req.timeoutSeconds,
    initialState: t.initial?.state ?? null,
    final: final && { state: final.state, lastFailureReason: final.last_failure_reason },
    exit: proc,
    elapsedSeconds: proc.durationSeconds,
    reconciled: false,
    spawnError: proc.spawnError,
    outputCapped: proc.outputCapped ? { maxBytes: deps.maxLogBytes } : null,
    logs: {
      stdoutPath: t.paths.stdout,
      stderrPath: t.paths.stderr,
      stdoutExcerpt: await proc.stdout.excerpt(),
      stderrExcerpt: await proc.stderr.excerpt(),
      stdoutBytes: proc.stdout.bytes,
      stderrBytes: proc.stderr.bytes,
    },
    llmBoundaryHit: proc.llmBoundaryHit,
    telemetryEvents: Math.max(0, after.phase - t.before.phase),
    telemetryGlobalDelta: Math.max(0, after.global - t.before.global),
    telemetryByTable: tableDelta(t.before.byTable, after.byTable),
    runCountsBefore: t.runCountsBefore,
    runCountsAfter: await runStateCounts(deps.pool, req.runId),
    phaseChanged: phaseChanged(t.initial, final),
    interruptedTries: t.interruptedTries,
    startedAt: t.startedAt,
    finishedAt: new Date().toISOString(),
    workerIdentity: deps.identity,
    baselineCommit: req.baseline?.commit ?? null,
  });
}

async function startTry(
  deps: ActivityDeps,
  req: DrainRequest,
  key: AttemptKey,
  header: string,
  interruptedTries: number,
): Promise<TryStart> {
  const paths = await claimAttemptLogs({ ...req, tryNo: key.tryNo, execRunId: key.execRunId }, header);
  const before = await countTelemetry(deps.pool, req.runId, req.phaseId);
  const initial = await getPhase(deps.pool, req.runId, req.phaseId);
  const runCountsBefore = await runStateCounts(deps.pool, req.runId);
  const startedAt = new Date().toISOString();
  await startAttempt(deps.pool, key, {
    initialState: initial?.state ?? null,
    stdoutPath: paths.stdout,
    stderrPath: paths.stderr,
    workerIdentity: deps.identity,
    baselineCommit: req.baseline?.commit ?? null,
    startedAt,
    runCountsBefore,
  });
  const headerBytes = Buffer.byteLength(header);
  return { key, paths, headerBytes, initial, before, runCountsBefore, startedAt, interruptedTries };
}

export function drainActivities(deps: ActivityDeps) {
  return {
    /**
     * Drains one phase: runs the executor with a timeout and heartbeats, keeps its logs,
     * reads the final state and telemetry, and writes the attempt's drain_attempts row.
     * A failed phase is a result, not an activity failure. After a crashed worker the retry
     * kills what is left of the old process group and reconciles before draining again.
     * What it returns (and so what enters the workflow history) is redacted.
     */
    async drainPhase(req: DrainRequest): Promise<AttemptOutcome> {
      const ctx = Context.current();
      const key: AttemptKey = { ...req, tryNo: ctx.info.attempt, execRunId: workflowRun().runId };
      let interruptedTries = 0;
      if (key.tryNo > 1) {
        const prev = ctx.info.heartbeatDetails as DrainHeartbeat | undefined;
        const recovered = await recoverPreviousTry(deps, req, key, prev);
        if (recovered.outcome) return recovered.outcome;
        interruptedTries = recovered.interruptedTries;
      }
      const argv = renderArgv(req);
      const env = executorEnv(deps, req);
      const t = await startTry(deps, req, key, identityHeader(env, req, argv, key.tryNo), interruptedTries);
      const proc = await runTry(deps, req, t, argv, env);
      await writeExitRecord(t.paths.exit, proc);
      const trailer = trailerOf(req, proc);
      await Promise.all([appendFile(t.paths.stdout, trailer), appendFile(t.paths.stderr, trailer)]).catch(
        () => {},
      );
      const outcome = redactOutcome(deps, await outcomeOfTry(deps, req, t, proc));
      if (proc.cancelled) {
        const shutdown = ctx.cancellationDetails?.workerShutdown ?? false;
        await finishAttempt(deps.pool, key, shutdown ? 'interrupted' : 'cancelled', outcome);
        await ctx.cancelled; // rethrows the cancellation
      }
      await finishAttempt(deps.pool, key, 'finished', outcome);
      return outcome;
    },
  };
}
