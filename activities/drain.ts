import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { attemptLogPaths } from './paths.js';
import { runExecutorProcess } from './executor-process.js';
import { recoverPreviousTry, type DrainHeartbeat } from './drain-recovery.js';
import { renderCommand } from '../src/domain/command-template.js';
import { buildErrorMessage } from '../src/domain/error-message.js';
import { redactSecrets, redactUrl } from '../src/domain/redact.js';
import type { AttemptOutcome } from '../src/domain/types.js';
import { finishAttempt, setAttemptProcess, startAttempt, type AttemptKey } from '../src/db/attempts.js';
import { getPhase } from '../src/db/phases.js';
import { countTelemetry } from '../src/db/telemetry.js';
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

function identityHeader(env: NodeJS.ProcessEnv, req: DrainRequest, argv: string[], tryNo: number): string {
  return [
    `DATABASE_URL=${redactUrl(env.DATABASE_URL ?? '')}`,
    `AUTOPACK_API_URL=${env.AUTOPACK_API_URL ? redactUrl(env.AUTOPACK_API_URL) : '(not set)'}`,
    `# autopack-drain session=${req.sessionId} run_id=${req.runId} phase_id=${req.phaseId} attempt=${req.attempt} try=${tryNo}`,
    `# command: ${redactSecrets(JSON.stringify(argv))}`,
    `# cwd: ${req.workspace}`,
    `# started_at: ${new Date().toISOString()} timeout: ${req.timeoutSeconds}s`,
    '# ---',
    '',
  ].join('\n');
}

export function drainActivities(deps: ActivityDeps) {
  return {
    /**
     * Drains one phase: runs the executor with a timeout and heartbeats, keeps its logs,
     * reads the final state and telemetry, and writes the attempt's drain_attempts row.
     * A failed phase is a result, not an activity failure. After a crashed worker the retry
     * kills what is left of the old process group and reconciles before draining again.
     */
    async drainPhase(req: DrainRequest): Promise<AttemptOutcome> {
      const ctx = Context.current();
      const tryNo = ctx.info.attempt;
      const key: AttemptKey = { ...req, tryNo };
      if (tryNo > 1) {
        const prev = ctx.info.heartbeatDetails as DrainHeartbeat | undefined;
        const reconciled = await recoverPreviousTry(deps, req, key, prev);
        if (reconciled) return reconciled;
      }

      let argv: string[];
      try {
        argv = renderCommand(req.executor, {
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
      const paths = attemptLogPaths(req.workspace, req.sessionId, req.runId, req.phaseId, req.attempt, tryNo);
      await mkdir(paths.dir, { recursive: true });
      const before = await countTelemetry(deps.pool, req.runId, req.phaseId);
      const initial = await getPhase(deps.pool, req.runId, req.phaseId);
      const startedAt = new Date().toISOString();
      await startAttempt(deps.pool, key, {
        initialState: initial?.state ?? null,
        stdoutPath: paths.stdout,
        stderrPath: paths.stderr,
        workerIdentity: deps.identity,
        baselineCommit: req.baseline?.commit ?? null,
        startedAt,
      });

      const env = executorEnv(deps, req);
      let pidNoted = false;
      const proc = await runExecutorProcess({
        argv,
        cwd: req.workspace,
        env,
        timeoutSeconds: req.timeoutSeconds,
        killGraceSeconds: req.killGraceSeconds,
        stdoutPath: paths.stdout,
        stderrPath: paths.stderr,
        header: identityHeader(env, req, argv, tryNo),
        maxLogBytes: deps.maxLogBytes,
        heartbeatIntervalMs: deps.heartbeatIntervalMs,
        onTick: ({ pid, bytesOut, lastOutputAt }) => {
          const hb: DrainHeartbeat = {
            tryNo,
            host: deps.host,
            pid,
            pgid: pid,
            startedAt,
            logPaths: paths,
            bytesOut,
            lastOutputAt: lastOutputAt ? new Date(lastOutputAt).toISOString() : null,
          };
          ctx.heartbeat(hb);
          if (pid && !pidNoted) {
            pidNoted = true;
            void setAttemptProcess(deps.pool, key, pid).catch(() => (pidNoted = false));
          }
          void renewLease(deps.pool, req.runId, req.sessionId, deps.leaseTtlSeconds).catch(() => {});
        },
      });
      const finishedAt = new Date().toISOString();
      const exitInfo = {
        returnCode: proc.returnCode,
        signal: proc.signal,
        timedOut: proc.timedOut,
        cancelled: proc.cancelled,
        durationSeconds: proc.durationSeconds,
        finishedAt,
      };
      await writeFile(paths.exit, JSON.stringify(exitInfo) + '\n').catch(() => {});
      const trailer = `\n# --- ${proc.spawnError ?? ''}${proc.outputCapped ? 'output cap reached; ' : ''}${
        proc.timedOut ? `timed out after ${req.timeoutSeconds}s; ` : ''
      }${proc.cancelled ? 'cancelled; ' : ''}exit code ${proc.returnCode ?? 'none'}${
        proc.signal ? ` (signal ${proc.signal})` : ''
      } after ${proc.durationSeconds}s\n`;
      await Promise.all([appendFile(paths.stdout, trailer), appendFile(paths.stderr, trailer)]).catch(
        () => {},
      );

      const final = await getPhase(deps.pool, req.runId, req.phaseId);
      const after = await countTelemetry(deps.pool, req.runId, req.phaseId);
      const finalState = final?.state ?? null;
      const lastFailureReason = final?.last_failure_reason?.trim() ? final.last_failure_reason : null;
      const success = !proc.timedOut && !proc.cancelled && proc.returnCode === 0 && finalState === 'COMPLETE';
      const outcome: AttemptOutcome = {
        runId: req.runId,
        phaseId: req.phaseId,
        attempt: req.attempt,
        initialState: initial?.state ?? null,
        finalState,
        success,
        returnCode: proc.returnCode,
        signal: proc.signal,
        timedOut: proc.timedOut,
        cancelled: proc.cancelled,
        reconciled: false,
        durationSeconds: proc.durationSeconds,
        stdoutPath: paths.stdout,
        stderrPath: paths.stderr,
        stdoutExcerpt: await proc.stdout.excerpt(),
        stderrExcerpt: await proc.stderr.excerpt(),
        stdoutBytes: proc.stdout.bytes,
        stderrBytes: proc.stderr.bytes,
        lastFailureReason,
        errorMessage:
          proc.spawnError ??
          (proc.outputCapped && !success
            ? `executor output exceeded ${deps.maxLogBytes} bytes and the executor was stopped; see ${paths.stdout}`
            : null) ??
          buildErrorMessage({
            success,
            finalState: final ? finalState : 'MISSING (phase row not found)',
            lastFailureReason,
            returnCode: proc.returnCode,
            signal: proc.signal,
            timedOut: proc.timedOut,
            timeoutSeconds: req.timeoutSeconds,
            cancelled: proc.cancelled,
            stdoutPath: paths.stdout,
            stderrPath: paths.stderr,
            stdoutBytes: proc.stdout.bytes,
            stderrBytes: proc.stderr.bytes,
          }),
        llmBoundaryHit: proc.llmBoundaryHit,
        telemetryEvents: Math.max(0, after.phase - before.phase),
        telemetryGlobalDelta: Math.max(0, after.global - before.global),
        startedAt,
        finishedAt,
        workerIdentity: deps.identity,
        baselineCommit: req.baseline?.commit ?? null,
      };
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
