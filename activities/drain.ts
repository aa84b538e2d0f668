import { appendFile } from 'node:fs/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import {
  executorEnv,
  identityHeader,
  trailerOf,
  withApiServer,
  withBaselineFacts,
  type DrainRequest,
} from './drain-env.js';
import {
  endEarlierTries,
  logDigests,
  markEarlierTries,
  recoverPreviousTry,
  untilEarlierTriesOver,
  type DrainHeartbeat,
} from './drain-recovery.js';
import { outcomeOfTry, runTry, startTry, writeExitRecord, type TryStart } from './drain-try.js';
import type { ProcessResult } from './executor-process.js';
import { forHistory, redactOutcome } from './redact-records.js';
import { workflowRun } from './workflow-run.js';
import { notRunTrailer } from '../src/domain/attempt-log.js';
import { renderCommand } from '../src/domain/command-template.js';
import { TERMINAL_STATES, type AttemptOutcome } from '../src/domain/types.js';
import { finishAttempt, restampAttemptStart, whileTryCurrent, type AttemptKey } from '../src/db/attempts.js';
import { ping } from '../src/db/server.js';
import type { ApiServerInfo } from '../src/runtime/api-servers.js';
import { tryTag } from '../src/runtime/containment.js';
import { executorEnded, executorStarted, recordAttempt } from '../src/runtime/metrics.js';

export type { BaselineInfo } from './drain-env.js';

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

/**
 * Runs `fn` while heartbeating (the previous try's details are kept, so a further retry still
 * knows what to end): a kill grace longer than the heartbeat timeout never times a retry out.
 */
async function heartbeating<T>(deps: ActivityDeps, details: unknown, fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), deps.heartbeatIntervalMs);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/**
 * --on-kill fail: a phase whose executor we stopped (timeout, cancellation) and left in a
 * non-terminal state goes back to FAILED with a reason that says what happened, so the next
 * session can retry it. The outcome keeps the state the executor left (what was observed).
 */
async function handBackIfStopped(
  deps: ActivityDeps,
  key: AttemptKey,
  req: DrainRequest,
  proc: {
    timedOut: boolean;
    stalled: boolean;
    tokenCapped?: boolean;
    extendedToSeconds: number | null;
    cancelled: boolean;
  },
  outcome: AttemptOutcome,
): Promise<void> {
  if (req.onKill !== 'fail' || !(proc.timedOut || proc.cancelled || proc.tokenCapped)) return;
  if (outcome.finalState && TERMINAL_STATES.includes(outcome.finalState)) return;
  const what = proc.tokenCapped
    ? `PHASE_TOKEN_CAP: stopped by autopack-drain (token cap: the phase spent more than ${req.maxTokensPerPhase ?? '?'} tokens in the attempt)`
    : proc.stalled
      ? `PHASE_STALLED: stopped by autopack-drain (stall timeout: no output and no database change for ${req.stallSeconds ?? '?'} s)`
      : proc.timedOut
        ? `PHASE_TIMEOUT: stopped by autopack-drain after ${proc.extendedToSeconds ?? req.timeoutSeconds} s`
        : 'PHASE_CANCELLED: stopped by autopack-drain (session cancelled)';
  const reason = `${what}, session ${req.sessionId}, attempt ${req.attempt}`;
  // Only a try that is still current: a superseded one (a retry took over) changes nothing.
  const handed = await whileTryCurrent(deps.pool, key, () =>
    deps.backlog.handBackStrandedPhase(req.runId, req.phaseId, reason),
  );
  if (handed) {
    outcome.errorMessage = `${outcome.errorMessage ?? what} [handed back as FAILED: --on-kill fail]`;
  }
}

/** Connection-level failures: the database is away (not a bad statement). */
const isConnectionError = (err: unknown): boolean => {
  const e = err as { code?: string; message?: string };
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P03'].includes(
      e.code ?? '',
    ) ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|the database system is/i.test(
      e.message ?? '',
    )
  );
};

/** Does the database answer now? Connection failures are false; other errors are thrown. */
async function databaseAnswers(deps: ActivityDeps): Promise<boolean> {
  try {
    await ping(deps.pool);
    return true;
  } catch (err) {
    if (isConnectionError(err)) return false;
    throw err;
  }
}

/** Waits, with backoff (1 s → 10 s), until the database answers; other errors are thrown. */
async function untilDatabaseAnswers(deps: ActivityDeps): Promise<void> {
  const signal = Context.current().cancellationSignal;
  for (let delay = 1000; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      await ping(deps.pool);
      return;
    } catch (err) {
      if (!isConnectionError(err) || signal.aborted) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Before a try: waits out a database outage (heartbeating) instead of using up the drain's
 * tries, and on a retry ends and reconciles what the previous try left (its outcome, when that
 * settles the attempt).
 */
async function beforeTry(
  deps: ActivityDeps,
  request: DrainRequest,
): Promise<{ key: AttemptKey; interruptedTries: number; outcome: AttemptOutcome | null }> {
  const ctx = Context.current();
  // No heartbeat when the database answers: an empty one would replace a retry's details.
  if (!(await databaseAnswers(deps))) {
    await heartbeating(deps, ctx.info.heartbeatDetails, () => untilDatabaseAnswers(deps));
  }
  const key: AttemptKey = { ...request, tryNo: ctx.info.attempt, execRunId: workflowRun().runId };
  if (key.tryNo <= 1) return { key, interruptedTries: 0, outcome: null };
  const prev = ctx.info.heartbeatDetails as DrainHeartbeat | undefined;
  const recovered = await heartbeating(deps, prev, () => recoverPreviousTry(deps, request, key, prev));
  return { key, interruptedTries: recovered.interruptedTries, outcome: recovered.outcome ?? null };
}

/**
 * After the executor ended: the exit record and trailers, the logs' digests, the judged
 * outcome (handed back with --on-kill fail when we stopped it), and the attempt's row.
 */
async function afterTry(
  deps: ActivityDeps,
  o: { req: DrainRequest; key: AttemptKey; t: TryStart; apiServer: ApiServerInfo | null },
  ran: { proc: ProcessResult; lostReason: string | null },
): Promise<AttemptOutcome> {
  const ctx = Context.current();
  const { req, key, t, apiServer } = o;
  const { proc, lostReason } = ran;
  await writeExitRecord(t.paths.exit, proc);
  const trailer = trailerOf(req, proc);
  await Promise.all([appendFile(t.paths.stdout, trailer), appendFile(t.paths.stderr, trailer)]).catch(
    () => {},
  );
  // The logs are complete: their sha256 go on the row with the outcome, for any host.
  const digests = await logDigests(t.paths);
  const unjudged = lostReason ? { kind: 'lost' as const, reason: lostReason } : null;
  const outcome = redactOutcome(deps, {
    ...(await outcomeOfTry(deps, req, t, proc, unjudged)),
    ...(apiServer ? { apiServer } : {}),
  });
  const shutdown = ctx.cancellationDetails?.workerShutdown ?? false;
  if (!unjudged && !shutdown) await handBackIfStopped(deps, key, req, proc, outcome);
  if (proc.cancelled) {
    await finishAttempt(
      deps.backlog.sql({ runId: key.runId, phaseId: key.phaseId }),
      key,
      shutdown ? 'interrupted' : 'cancelled',
      outcome,
      digests,
    );
    recordAttempt(outcome, shutdown ? 'interrupted' : 'cancelled');
    await ctx.cancelled; // rethrows the cancellation
  }
  await finishAttempt(
    deps.backlog.sql({ runId: key.runId, phaseId: key.phaseId }),
    key,
    lostReason ? 'lost' : 'finished',
    outcome,
    digests,
  );
  return forHistory(recordAttempt(outcome, lostReason ? 'lost' : 'finished'));
}

/**
 * Drains one phase: takes the run's lease and checks the phase in one statement, runs the
 * executor with a timeout and heartbeats (renewing the lease; a lost lease stops it), keeps
 * its logs, contains and reaps everything it started, reads the final state and telemetry,
 * and writes the attempt's drain_attempts row. A failed phase is a result, not an activity
 * failure. After a crashed worker the retry first ends what is left of the old try and
 * reconciles. What it returns (and so what enters the workflow history) is redacted.
 */
async function drainPhase(deps: ActivityDeps, input: DrainRequest): Promise<AttemptOutcome> {
  const ctx = Context.current();
  const request = await withBaselineFacts(input);
  const before = await beforeTry(deps, request);
  if (before.outcome) return forHistory(recordAttempt(before.outcome, 'reconciled'));
  const { key, interruptedTries } = before;
  const { req, apiServer } = await withApiServer(deps, request);
  const argv = renderArgv(req);
  const tag = tryTag(key);
  const env = executorEnv(deps, req, { tryNo: key.tryNo, execRunId: key.execRunId, tag });
  const header = identityHeader(env, req, argv, key.tryNo);
  const t = await startTry(deps, req, { key, tag, header, interruptedTries });
  if (t.lostReason) {
    const unjudged = { kind: 'lost' as const, reason: t.lostReason };
    const lost = redactOutcome(deps, await outcomeOfTry(deps, req, t, null, unjudged));
    await appendFile(t.paths.stdout, notRunTrailer(t.lostReason)).catch(() => {});
    await finishAttempt(deps.backlog.sql({ runId: key.runId, phaseId: key.phaseId }), key, 'lost', lost);
    return forHistory(recordAttempt(lost, 'lost'));
  }
  // An earlier try of a paused worker may have claimed its row after this try's recovery:
  // now that this try's row exists no earlier one can start, so mark and wait once more.
  if (key.tryNo > 1 && (await markEarlierTries(deps, key)) > 0) {
    await heartbeating(deps, ctx.info.heartbeatDetails, () => untilEarlierTriesOver(deps, key));
    t.startedAt = new Date().toISOString(); // it starts now, after the earlier try's end
    await restampAttemptStart(deps.pool, key, t.startedAt);
  }
  executorStarted();
  const ran = await runTry(deps, req, t, argv, env).finally(executorEnded);
  return afterTry(deps, { req, key, t, apiServer }, ran);
}

/**
 * The drain ran out of tries (its workers kept dying or losing the task): ends what earlier
 * tries left running on this host, marks them interrupted, and records the attempt as
 * abandoned with the reason, so the session goes on.
 */
async function abandonAttempt(
  deps: ActivityDeps,
  o: { req: DrainRequest; triesUsed: number; reason: string; database?: DrainRequest['database'] },
): Promise<AttemptOutcome> {
  const req = await withBaselineFacts(o.req);
  const key: AttemptKey = { ...req, tryNo: o.triesUsed + 1, execRunId: workflowRun().runId };
  const interruptedTries = await markEarlierTries(deps, key);
  await heartbeating(deps, undefined, async () => {
    await endEarlierTries(deps, req, key, undefined);
    await untilEarlierTriesOver(deps, key);
  });
  const reason = `abandoned after ${o.triesUsed} tries: ${o.reason}`;
  const tag = tryTag(key);
  const env = executorEnv(deps, req, { tryNo: key.tryNo, execRunId: key.execRunId, tag });
  const header = identityHeader(env, req, [], key.tryNo, reason);
  const t = await startTry(
    deps,
    { ...req, pickedState: null },
    { key, tag, header, interruptedTries, runsExecutor: false },
  );
  const unjudged = { kind: 'abandoned' as const, reason };
  const outcome = redactOutcome(deps, await outcomeOfTry(deps, req, t, null, unjudged));
  await finishAttempt(
    deps.backlog.sql({ runId: key.runId, phaseId: key.phaseId }),
    key,
    'abandoned',
    outcome,
  );
  return forHistory(recordAttempt(outcome, 'abandoned'));
}

export function drainActivities(deps: ActivityDeps) {
  return {
    /** Drains one phase (drainPhase above). */
    drainPhase: (input: DrainRequest): Promise<AttemptOutcome> => drainPhase(deps, input),
    /** Records an attempt that ran out of tries as abandoned (abandonAttempt above). */
    abandonAttempt: (o: {
      req: DrainRequest;
      triesUsed: number;
      reason: string;
      database?: DrainRequest['database'];
    }): Promise<AttemptOutcome> => abandonAttempt(deps, o),
  };
}
