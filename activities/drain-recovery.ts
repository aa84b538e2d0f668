import { open, readFile } from 'node:fs/promises';
import type { ActivityDeps } from './deps.js';
import type { DrainRequest } from './drain.js';
import { terminateGroup } from '../src/runtime/process-group.js';
import { buildErrorMessage } from '../src/domain/error-message.js';
import { TERMINAL_STATES, type AttemptOutcome } from '../src/domain/types.js';
import {
  finalTryOf,
  finishAttempt,
  markInterrupted,
  outcomeFromRow,
  type AttemptKey,
} from '../src/db/attempts.js';
import { getPhase } from '../src/db/phases.js';
import { countTelemetrySince } from '../src/db/telemetry.js';

/** What the drain activity heartbeats while the executor runs. */
export interface DrainHeartbeat {
  tryNo: number;
  host: string;
  pid: number | null;
  pgid: number | null;
  startedAt: string;
  logPaths: { dir: string; stdout: string; stderr: string; exit: string };
  bytesOut: number;
  lastOutputAt: string | null;
}

async function tailOf(file: string, bytes = 8192): Promise<{ text: string; size: number }> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return { text: buf.toString('utf8').replace(/\u0000/g, ''), size };
    } finally {
      await fh.close();
    }
  } catch {
    return { text: '', size: 0 };
  }
}

/**
 * A retried drain (the previous worker died or lost the task): kill what is left of the old
 * process group, mark the earlier tries interrupted (their logs stay), and if the phase
 * reached a terminal state meanwhile, record that outcome without running the executor again.
 * Returns null when the phase must be drained again.
 */
export async function recoverPreviousTry(
  deps: ActivityDeps,
  req: DrainRequest,
  key: AttemptKey,
  prev: DrainHeartbeat | undefined,
): Promise<AttemptOutcome | null> {
  // An earlier try already recorded the outcome (its completion was lost): report it once.
  const recorded = await finalTryOf(deps.pool, key);
  if (recorded) return outcomeFromRow(recorded);
  if (prev?.pgid && prev.host === deps.host) {
    await terminateGroup(prev.pgid, req.killGraceSeconds * 1000);
  }
  for (let t = 1; t < key.tryNo; t++) {
    await markInterrupted(
      deps.pool,
      { ...key, tryNo: t },
      `interrupted: the worker running try ${t} stopped (crash, kill or lost connection); retried as try ${key.tryNo}`,
    );
  }
  if (!prev) return null;
  const phase = await getPhase(deps.pool, req.runId, req.phaseId);
  const startedMs = Date.parse(prev.startedAt);
  const changedSinceStart = phase?.updated_at ? phase.updated_at.getTime() >= startedMs - 1000 : false;
  if (!phase || !TERMINAL_STATES.includes(phase.state) || !changedSinceStart) return null;

  const exit = await readExitRecord(prev.logPaths.exit);
  const [out, err] = await Promise.all([tailOf(prev.logPaths.stdout), tailOf(prev.logPaths.stderr)]);
  const lastFailureReason = phase.last_failure_reason?.trim() ? phase.last_failure_reason : null;
  const success = phase.state === 'COMPLETE' && (exit ? exit.returnCode === 0 : true);
  const returnCode = exit?.returnCode ?? null;
  const finishedAt = new Date().toISOString();
  const events = await countTelemetrySince(deps.pool, req.runId, req.phaseId, prev.startedAt);
  const outcome: AttemptOutcome = {
    runId: req.runId,
    phaseId: req.phaseId,
    attempt: req.attempt,
    initialState: null,
    finalState: phase.state,
    success,
    returnCode,
    signal: exit?.signal ?? null,
    timedOut: exit?.timedOut ?? false,
    cancelled: false,
    reconciled: true,
    durationSeconds: exit?.durationSeconds ?? Math.round(Date.now() - startedMs) / 1000,
    stdoutPath: prev.logPaths.stdout,
    stderrPath: prev.logPaths.stderr,
    stdoutExcerpt: out.text,
    stderrExcerpt: err.text,
    stdoutBytes: out.size,
    stderrBytes: err.size,
    lastFailureReason,
    errorMessage: success
      ? null
      : buildErrorMessage({
          success,
          finalState: phase.state,
          lastFailureReason,
          returnCode,
          signal: exit?.signal ?? null,
          timedOut: exit?.timedOut ?? false,
          timeoutSeconds: req.timeoutSeconds,
          stdoutPath: prev.logPaths.stdout,
          stderrPath: prev.logPaths.stderr,
          stdoutBytes: out.size,
          stderrBytes: err.size,
        }),
    llmBoundaryHit: false,
    telemetryEvents: events,
    telemetryGlobalDelta: events,
    startedAt: prev.startedAt,
    finishedAt,
    workerIdentity: deps.identity,
    baselineCommit: req.baseline?.commit ?? null,
  };
  await finishAttempt(deps.pool, key, 'reconciled', outcome);
  return outcome;
}

/** Reads the exit record a previous try left next to its logs, if any. */
export async function readExitRecord(file: string): Promise<{
  returnCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationSeconds: number;
} | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
}
