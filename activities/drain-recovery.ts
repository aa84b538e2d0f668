import { attemptTokens, type TokenCounters } from '../src/domain/tokens.js';
import { Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ActivityDeps } from './deps.js';
import type { DrainRequest } from './drain-env.js';
import type { AttemptLogPaths } from './paths.js';
import { redactOutcome } from './redact-records.js';
import { fileTail } from '../src/runtime/log-tail.js';
import { endTry, tryTag } from '../src/runtime/containment.js';
import { outcomeFromFacts, type ExitFacts } from '../src/domain/attempt-outcome.js';
import { TERMINAL_STATES, type AttemptOutcome } from '../src/domain/types.js';
import {
  closeEarlierTries,
  earlierTriesNotOver,
  finalTryOf,
  finishAttempt,
  markInterrupted,
  recordInterruptedLogDigests,
  startAttempt,
  unhashedInterruptedTries,
  type AttemptKey,
  type LogDigests,
} from '../src/db/attempts.js';
import type { PhaseRow } from '../src/db/phases.js';
import { tableDelta } from '../src/db/telemetry.js';

/** What the drain activity heartbeats while the executor runs. */
export interface DrainHeartbeat {
  tryNo: number;
  host: string;
  pid: number | null;
  pgid: number | null;
  /** The try's containment tag and cgroup (see src/runtime/containment.ts). */
  tag: string;
  cgroup: string | null;
  startedAt: string;
  /** The phase's updated_at when the try started (database clock), ISO; null: it had none. */
  phaseUpdatedAt: string | null;
  /** The phase's telemetry rows per table when the try started (the delta needs no clock). */
  telemetryBefore: Record<string, number>;
  /** tokens_used of the phase and its run when the try started (absent in older heartbeats). */
  tokensBefore?: TokenCounters;
  logPaths: AttemptLogPaths;
  bytesOut: number;
  lastOutputAt: string | null;
}

interface Recovery {
  /** The outcome to report without running the executor again, or null: drain again. */
  outcome: AttemptOutcome | null;
  /** Earlier tries this retry marked interrupted. */
  interruptedTries: number;
}

export async function markEarlierTries(deps: ActivityDeps, key: AttemptKey): Promise<number> {
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
  await endEarlierTries(deps, req, key, prev);
  await untilEarlierTriesOver(deps, key);
  const hashed = await hashInterruptedTries(deps, key).catch(() => new Map<number, LogDigests>());
  if (!prev) return { outcome: null, interruptedTries };
  const phase = await deps.backlog.getPhase(req.runId, req.phaseId);
  if (!phase || !TERMINAL_STATES.includes(phase.state) || !changedSince(phase, prev.phaseUpdatedAt)) {
    return { outcome: null, interruptedTries };
  }
  const outcome = await reconcile(deps, req, key, prev, phase, interruptedTries, hashed.get(prev.tryNo));
  return { outcome, interruptedTries };
}

/** The sha256 (hex) of a file, streamed (a log can be 256 MiB); null when it cannot be read. */
async function fileSha256(file: string | null): Promise<string | null> {
  if (!file) return null;
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return null;
  }
}

/** The sha256 of a try's two logs as they are now. */
export async function logDigests(paths: {
  stdout: string | null;
  stderr: string | null;
}): Promise<LogDigests> {
  const [stdoutSha256, stderrSha256] = await Promise.all([
    fileSha256(paths.stdout),
    fileSha256(paths.stderr),
  ]);
  return { stdoutSha256, stderrSha256 };
}

/**
 * Hashes the logs of the earlier tries of this attempt that ran on this host and were
 * interrupted (their worker never hashed them), once they are over; a try of another host
 * keeps NULL. By try number.
 */
async function hashInterruptedTries(deps: ActivityDeps, key: AttemptKey): Promise<Map<number, LogDigests>> {
  const out = new Map<number, LogDigests>();
  for (const t of await unhashedInterruptedTries(deps.pool, key, deps.host)) {
    const d = await logDigests({ stdout: t.stdout_path, stderr: t.stderr_path });
    if (d.stdoutSha256 === null && d.stderrSha256 === null) continue;
    await recordInterruptedLogDigests(deps.pool, t.id, d);
    out.set(t.try, d);
  }
  return out;
}

/**
 * Waits until every earlier try of the attempt is provably over, on whatever host it ran
 * (attempts.earlierTriesNotOver: its end recorded, or its fence older than S), then writes
 * their true ends. Marking them interrupted (done before) is what makes their supervisors end
 * their executors within one renewal; a partitioned one ends its executor after F seconds.
 * Never guesses: a retry does not start an executor beside an earlier one.
 */
export async function untilEarlierTriesOver(deps: ActivityDeps, key: AttemptKey): Promise<void> {
  const signal = Context.current().cancellationSignal;
  const s = deps.fence.overAfterSeconds;
  while ((await earlierTriesNotOver(deps.pool, key, s)).length > 0) {
    if (signal.aborted) throw new Error('cancelled while waiting for an earlier try to end');
    await new Promise((r) => setTimeout(r, 500));
  }
  await closeEarlierTries(deps.pool, key, s);
}

/** One clock: the phase changed if its updated_at differs from the one recorded at the try's start. */
export function changedSince(
  phase: Pick<PhaseRow, 'updated_at'>,
  updatedAtStart: string | null | undefined,
): boolean {
  const now = phase.updated_at?.getTime() ?? null;
  const then = updatedAtStart ? Date.parse(updatedAtStart) : null;
  return now !== then;
}

/**
 * Ends whatever earlier tries of this attempt left running on this host: each try's processes
 * carry its tag, so even a try that died before its first heartbeat is found. The recorded
 * group is only killed when it is still that try's own (containment.ts).
 */
export async function endEarlierTries(
  deps: ActivityDeps,
  req: DrainRequest,
  key: AttemptKey,
  prev: DrainHeartbeat | undefined,
): Promise<void> {
  for (let t = 1; t < key.tryNo; t++) {
    const fromHeartbeat = prev && prev.tryNo === t && prev.host === deps.host ? prev : null;
    await endTry(
      {
        pgid: fromHeartbeat?.pgid ?? null,
        tag: fromHeartbeat?.tag ?? tryTag({ ...key, tryNo: t }),
        cgroup: fromHeartbeat?.cgroup ?? null,
        startedMs: fromHeartbeat ? Date.parse(fromHeartbeat.startedAt) : 0,
      },
      req.killGraceSeconds * 1000,
    );
  }
}

/** The outcome of an attempt whose executor ended under a dead worker: the phase's terminal state, its logs and telemetry. */
async function reconciledOutcome(
  deps: ActivityDeps,
  req: DrainRequest,
  prev: DrainHeartbeat,
  phase: PhaseRow,
  interruptedTries: number,
): Promise<AttemptOutcome> {
  const exit = await readExitRecord(prev.logPaths.exit);
  const [out, err] = await Promise.all([fileTail(prev.logPaths.stdout), fileTail(prev.logPaths.stderr)]);
  const facts = await deps.backlog.phaseFacts(req.runId, req.phaseId);
  const byTable = tableDelta(prev.telemetryBefore, facts.telemetry.byTable);
  const events = Object.values(byTable).reduce((a, b) => a + b, 0);
  const { runCounts, tokens: tokensAfter } = facts;
  return redactOutcome(
    deps,
    outcomeFromFacts({
      runId: req.runId,
      phaseId: req.phaseId,
      attempt: req.attempt,
      timeoutSeconds: req.timeoutSeconds,
      stallSeconds: req.stallSeconds ?? null,
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
      tokens: prev.tokensBefore ? attemptTokens(prev.tokensBefore, tokensAfter) : null,
      runCountsBefore: null,
      runCountsAfter: runCounts,
      phaseChanged: true,
      interruptedTries,
      processesReaped: 0,
      unjudged: null,
      startedAt: prev.startedAt,
      finishedAt: new Date().toISOString(),
      workerIdentity: deps.identity,
      baselineCommit: req.baseline?.commit ?? null,
    }),
  );
}

/** Records, as this try's outcome, the terminal state the phase reached under the dead worker. */
async function reconcile(
  deps: ActivityDeps,
  req: DrainRequest,
  key: AttemptKey,
  prev: DrainHeartbeat,
  phase: PhaseRow,
  interruptedTries: number,
  hashed: LogDigests | undefined,
): Promise<AttemptOutcome> {
  const outcome = await reconciledOutcome(deps, req, prev, phase, interruptedTries);
  // This try's own row: it ran no executor; its evidence is the earlier try's logs.
  await startAttempt(deps.pool, key, {
    initialState: null,
    stdoutPath: prev.logPaths.stdout,
    stderrPath: prev.logPaths.stderr,
    workerIdentity: deps.identity,
    baselineCommit: req.baseline?.commit ?? null,
    startedAt: prev.startedAt,
    runCountsBefore: null,
    host: deps.host,
  });
  // Its logs are the earlier try's: hashed when that try ran on this host (else they stay NULL).
  const digests = prev.host === deps.host ? (hashed ?? (await logDigests(prev.logPaths))) : null;
  await finishAttempt(
    deps.backlog.sql({ runId: req.runId, phaseId: req.phaseId }),
    key,
    'reconciled',
    outcome,
    digests,
  );
  return outcome;
}

/** Reads the exit record a previous try left next to its logs, if any. */
async function readExitRecord(file: string): Promise<ExitFacts | null> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Partial<ExitFacts>;
    return {
      returnCode: typeof r.returnCode === 'number' ? r.returnCode : null,
      signal: typeof r.signal === 'string' ? r.signal : null,
      timedOut: r.timedOut === true,
      ...(r.stalled === true ? { stalled: true } : {}),
      ...(typeof r.extendedToSeconds === 'number' ? { extendedToSeconds: r.extendedToSeconds } : {}),
      cancelled: r.cancelled === true,
      durationSeconds: typeof r.durationSeconds === 'number' ? r.durationSeconds : 0,
    };
  } catch {
    return null;
  }
}
