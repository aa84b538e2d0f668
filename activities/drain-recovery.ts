import { readFile } from 'node:fs/promises';
import type { ActivityDeps } from './deps.js';
import type { DrainRequest } from './drain.js';
import type { AttemptLogPaths } from './paths.js';
import { redactOutcome } from './redact-records.js';
import { fileTail } from '../src/runtime/log-tail.js';
import { terminateGroup } from '../src/runtime/process-group.js';
import { outcomeFromFacts, type ExitFacts } from '../src/domain/attempt-outcome.js';
import { TERMINAL_STATES, type AttemptOutcome } from '../src/domain/types.js';
import {
  finalTryOf,
  finishAttempt,
  markInterrupted,
  startAttempt,
  type AttemptKey,
} from '../src/db/attempts.js';
import { getPhase, runStateCounts, type PhaseRow } from '../src/db/phases.js';
import { countTelemetrySince } from '../src/db/telemetry.js';

/** What the drain activity heartbeats while the executor runs. */
export interface DrainHeartbeat {
  tryNo: number;
  host: string;
  pid: number | null;
  pgid: number | null;
  startedAt: string;
  logPaths: AttemptLogPaths;
  bytesOut: number;
  lastOutputAt: string | null;
}

export interface Recovery {
  /** The outcome to report without running the executor again, or null: drain again. */
  outcome: AttemptOutcome | null;
  /** Earlier tries this retry marked interrupted. */
  interruptedTries: number;
}

async function markEarlierTries(deps: ActivityDeps, key: AttemptKey): Promise<number> {
  let marked = 0;
  for (let t = 1; t < key.tryNo; t++) {
    marked += await markInterrupted(
      deps.pool,
      { ...key, tryNo: t },
      `interrupted: the worker running try ${t} stopped (crash, kill or lost connection); retried as try ${key.tryNo}`,
    );
  }
  return marked;
}

/**
 * A retried drain (the previous worker died or lost the task): kill what is left of the old
 * process group, mark the earlier tries interrupted (their logs stay), and if the phase
 * reached a terminal state meanwhile, record that outcome without running the executor again.
 */
export async function recoverPreviousTry(
  deps: ActivityDeps,
  req: DrainRequest,
  key: AttemptKey,
  prev: DrainHeartbeat | undefined,
): Promise<Recovery> {
  // An earlier try of this execution already recorded the outcome (its completion was lost).
  const recorded = await finalTryOf(deps.pool, key);
  if (recorded?.outcome) return { outcome: recorded.outcome, interruptedTries: 0 };
  // Mark first, then kill: a stale try that outlives the kill finds its row no longer running.
  const interruptedTries = await markEarlierTries(deps, key);
  if (prev?.pgid && prev.host === deps.host) {
    await terminateGroup(prev.pgid, req.killGraceSeconds * 1000);
  }
  if (!prev) return { outcome: null, interruptedTries };
  const phase = await getPhase(deps.pool, req.runId, req.phaseId);
  const startedMs = Date.parse(prev.startedAt);
  const changedSinceStart = phase?.updated_at ? phase.updated_at.getTime() >= startedMs - 1000 : false;
  if (!phase || !TERMINAL_STATES.includes(phase.state) || !changedSinceStart) {
    return { outcome: null, interruptedTries };
  }
  const outcome = await reconcile(deps, req, key, prev, phase, interruptedTries);
  return { outcome, interruptedTries };
}

/** Records, as this try's outcome, the terminal state the phase reached under the dead worker. */
async function reconcile(
  deps: ActivityDeps,
  req: DrainRequest,
  key: AttemptKey,
  prev: DrainHeartbeat,
  phase: PhaseRow,
  interruptedTries: number,
): Promise<AttemptOutcome> {
  const exit = await readExitRecord(prev.logPaths.exit);
  const [out, err] = await Promise.all([fileTail(prev.logPaths.stdout), fileTail(prev.logPaths.stderr)]);
  const byTable = await countTelemetrySince(deps.pool, req.runId, req.phaseId, prev.startedAt);
  const events = Object.values(byTable).reduce((a, b) => a + b, 0);
  const runCounts = await runStateCounts(deps.pool, req.runId);
  const outcome = redactOutcome(
    deps,
    outcomeFromFacts({
      runId: req.runId,
      phaseId: req.phaseId,
      attempt: req.attempt,
      timeoutSeconds: req.timeoutSeconds,
      initialState: null,
      final: { state: phase.state, lastFailureReason: phase.last_failure_reason },
      exit,
      elapsedSeconds: Math.round(Date.now() - Date.parse(prev.startedAt)) / 1000,
      reconciled: true,
      spawnError: null,
      outputCapped: null,
      logs: {
        stdoutPath: prev.logPaths.stdout,
        stderrPath: prev.logPaths.stderr,
        stdoutExcerpt: out.text,
        stderrExcerpt: err.text,
        stdoutBytes: out.bytes,
        stderrBytes: err.bytes,
      },
      llmBoundaryHit: false,
      telemetryEvents: events,
      telemetryGlobalDelta: events,
      telemetryByTable: byTable,
      runCountsBefore: null,
      runCountsAfter: runCounts,
      phaseChanged: true,
      interruptedTries,
      startedAt: prev.startedAt,
      finishedAt: new Date().toISOString(),
      workerIdentity: deps.identity,
      baselineCommit: req.baseline?.commit ?? null,
    }),
  );
  // This try's own row: it ran no executor; its evidence is the earlier try's logs.
  await startAttempt(deps.pool, key, {
    initialState: null,
    stdoutPath: prev.logPaths.stdout,
    stderrPath: prev.logPaths.stderr,
    workerIdentity: deps.identity,
    baselineCommit: req.baseline?.commit ?? null,
    startedAt: prev.startedAt,
    runCountsBefore: null,
  });
  await finishAttempt(deps.pool, key, 'reconciled', outcome);
  return outcome;
}

/** Reads the exit record a previous try left next to its logs, if any. */
export async function readExitRecord(file: string): Promise<ExitFacts | null> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Partial<ExitFacts>;
    return {
      returnCode: typeof r.returnCode === 'number' ? r.returnCode : null,
      signal: typeof r.signal === 'string' ? r.signal : null,
      timedOut: r.timedOut === true,
      cancelled: r.cancelled === true,
      durationSeconds: typeof r.durationSeconds === 'number' ? r.durationSeconds : 0,
    };
  } catch {
    return null;
  }
}
