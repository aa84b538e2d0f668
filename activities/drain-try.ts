/** One try of a drain attempt: claim (lease + phase check + logs + row), run, observe. */
import { writeFile } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import type { DrainRequest } from './drain-env.js';
import type { DrainHeartbeat } from './drain-recovery.js';
import { runExecutorProcess, type ProcessResult, type SupervisorEnd } from './executor-process.js';
import { claimAttemptLogs, type AttemptLogPaths } from './paths.js';
import {
  outcomeFromFacts,
  type AttemptFacts,
  type ExitFacts,
  type Unjudged,
} from '../src/domain/attempt-outcome.js';
import type { AttemptOutcome } from '../src/domain/types.js';
import { setAttemptProcess, startAttempt, type AttemptKey } from '../src/db/attempts.js';
import { leaseAndReadPhase } from '../src/db/leases.js';
import { leaseTtlSeconds } from '../src/domain/fence.js';
import { findOnPath, setprivPath } from '../src/runtime/binaries.js';
import type { PhaseRow } from '../src/db/phases.js';
import { tableDelta, type TelemetryCounts } from '../src/db/telemetry.js';
import { createTryCgroup } from '../src/runtime/containment.js';
import { attemptTokens, spendOf, type TokenCounters } from '../src/domain/tokens.js';

export interface TryStart {
  key: AttemptKey;
  tag: string;
  cgroup: string | null;
  paths: AttemptLogPaths;
  headerBytes: number;
  initial: PhaseRow | null;
  before: TelemetryCounts;
  /** phases.tokens_used and runs.tokens_used when the try started (null: no such column). */
  tokensBefore: TokenCounters;
  runCountsBefore: Record<string, number>;
  startedAt: string;
  interruptedTries: number;
  /** Why this try must not run (lease held by another session, phase changed), or null. */
  lostReason: string | null;
}

/** Did anything of the phase row change (state, reason, updated_at)? */
function phaseChanged(before: PhaseRow | null, after: PhaseRow | null): boolean | null {
  if (!before || !after) return before === after ? null : true;
  return (
    before.state !== after.state ||
    before.last_failure_reason !== after.last_failure_reason ||
    (before.updated_at?.getTime() ?? null) !== (after.updated_at?.getTime() ?? null)
  );
}

/** Why a try must not run, from the one-statement lease + phase check, or null. */
export function lostReasonOf(
  req: Pick<DrainRequest, 'runId' | 'phaseId' | 'pickedState'>,
  tryNo: number,
  c: { leased: boolean; holder: string | null; state: string | null },
): string | null {
  if (!c.leased) return `lease lost: run ${req.runId} is being drained by session ${c.holder ?? '(unknown)'}`;
  if (c.state === null) return `phase ${req.runId}/${req.phaseId} no longer exists`;
  if (tryNo === 1 && req.pickedState && c.state !== req.pickedState) {
    return `phase changed since it was picked: ${req.pickedState} → ${c.state} (not drained again)`;
  }
  return null;
}

export async function startTry(
  deps: ActivityDeps,
  req: DrainRequest,
  t: { key: AttemptKey; tag: string; header: string; interruptedTries: number; runsExecutor?: boolean },
): Promise<TryStart> {
  const check = await leaseAndReadPhase(deps.backlog.sql({ runId: req.runId, phaseId: req.phaseId }), {
    runId: req.runId,
    phaseId: req.phaseId,
    sessionId: req.sessionId,
    holder: deps.identity,
    ttlSeconds: deps.leaseTtlSeconds,
  });
  const paths = await claimAttemptLogs({ ...req, tryNo: t.key.tryNo, execRunId: t.key.execRunId }, t.header);
  const facts = await deps.backlog.phaseFacts(req.runId, req.phaseId);
  const before = facts.telemetry;
  const initial = check.state === null ? null : facts.phase;
  const { runCounts: runCountsBefore, tokens: tokensBefore } = facts;
  const startedAt = new Date().toISOString();
  const lostReason = lostReasonOf(req, t.key.tryNo, check);
  const claimed = await startAttempt(deps.pool, t.key, {
    initialState: initial?.state ?? null,
    stdoutPath: paths.stdout,
    stderrPath: paths.stderr,
    workerIdentity: deps.identity,
    host: deps.host,
    baselineCommit: req.baseline?.commit ?? null,
    startedAt,
    runCountsBefore,
    phaseUpdatedBefore: initial?.updated_at ?? null,
    tokensBefore,
    tag: t.tag,
    fenced: (t.runsExecutor ?? true) && lostReason === null,
    baseline: req.baseline && {
      status: req.baseline.status,
      error: req.baseline.error ?? null,
      captureId: req.baseline.captureId ?? null,
      skip: Boolean(req.baseline.artifactPath), // executorEnv tells the executor to skip exactly then
    },
  });
  return {
    key: t.key,
    tag: t.tag,
    cgroup: createTryCgroup(t.tag),
    paths,
    headerBytes: Buffer.byteLength(t.header),
    initial,
    before,
    tokensBefore,
    runCountsBefore,
    startedAt,
    interruptedTries: t.interruptedTries,
    lostReason: claimed
      ? lostReason
      : 'superseded: a later try of this attempt has started (this try ran nothing and recorded nothing)',
  };
}

/**
 * Watches the phase while its executor runs (for --stall-seconds): how long its row (state,
 * last_failure_reason, updated_at) and its telemetry row count are known to have stayed
 * unchanged. Reads the phase row as the try's start and end do, and only the phase's telemetry
 * (an indexed count, never the tables' overall counts). A read that fails (the database is
 * away) proves nothing: the known-quiet time stops growing until a read succeeds again.
 */
export class DbChangeWatch {
  private phase: PhaseRow | null;
  private telemetry: number;
  private changedAt: number;
  private checkedAt: number;
  private busy = false;
  private readonly tokensBefore: number | null;
  /** Tokens the phase has spent since the try started, as last read (null: not read, or unknown). */
  tokensSpent: number | null = null;

  constructor(
    private readonly deps: Pick<ActivityDeps, 'backlog'>,
    private readonly req: Pick<DrainRequest, 'runId' | 'phaseId' | 'maxTokensPerPhase'>,
    t: Pick<TryStart, 'initial' | 'before'> & Partial<Pick<TryStart, 'tokensBefore'>>,
    now = Date.now(),
  ) {
    this.tokensBefore = t.tokensBefore?.phase ?? null;
    this.phase = t.initial;
    this.telemetry = t.before.phase;
    this.changedAt = now;
    this.checkedAt = now;
  }

  /** Seconds the phase is known to have stayed unchanged. */
  quietSeconds(): number {
    return Math.max(0, (this.checkedAt - this.changedAt) / 1000);
  }

  /** The phase has spent more than --max-tokens-per-phase in this try (an unknown spend never is). */
  overTokenCap(): boolean {
    const cap = this.req.maxTokensPerPhase ?? null;
    return cap !== null && this.tokensSpent !== null && this.tokensSpent > cap;
  }

  /** One read of the phase row and its telemetry count; never throws, never overlaps. */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const at = Date.now(); // what the reads see is at least this recent
      const phase = await this.deps.backlog.getPhase(this.req.runId, this.req.phaseId);
      const telemetry = await this.deps.backlog.countPhaseTelemetry(this.req.runId, this.req.phaseId);
      if (this.req.maxTokensPerPhase != null) {
        const tokens = await this.deps.backlog.tokensOf(this.req.runId, this.req.phaseId);
        this.tokensSpent = spendOf(this.tokensBefore, tokens.phase);
      }
      if (phaseChanged(this.phase, phase) || telemetry !== this.telemetry) {
        this.phase = phase;
        this.telemetry = telemetry;
        this.changedAt = at;
      }
      this.checkedAt = at;
    } catch {
      /* the database is away: nothing learned */
    } finally {
      this.busy = false;
    }
  }
}

/** How often the database is read for --stall-seconds: 4 reads per stall window, at least every heartbeat. */
export function dbWatchIntervalMs(
  heartbeatIntervalMs: number,
  stallSeconds: number | null,
  tokenCap: number | null = null,
): number {
  // A token cap is read every second at least: the executor is stopped within a few seconds of it.
  const forCap = tokenCap === null ? Infinity : 1000;
  const forStall = stallSeconds === null ? Infinity : Math.max(250, (stallSeconds * 1000) / 4);
  return Math.min(heartbeatIntervalMs, forStall, forCap);
}

/** Runs the executor; heartbeats; renews the run's lease and stops the executor when it is gone. */
export async function runTry(
  deps: ActivityDeps,
  req: DrainRequest,
  t: TryStart,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ proc: ProcessResult; lostReason: string | null }> {
  const ctx = Context.current();
  const stop = new AbortController();
  let lostReason: string | null = null;
  let pidNoted = false;
  const stallSeconds = req.stallSeconds ?? null;
  const maxTimeoutSeconds = req.maxTimeoutSeconds ?? null;
  const tokenCap = req.maxTokensPerPhase ?? null;
  const dbWatch = stallSeconds === null && tokenCap === null ? null : new DbChangeWatch(deps, req, t);
  const dbTimer =
    dbWatch &&
    setInterval(
      () => void dbWatch.check(),
      dbWatchIntervalMs(deps.heartbeatIntervalMs, stallSeconds, tokenCap),
    );
  const proc = await runExecutorProcess({
    argv,
    cwd: req.workspace,
    env,
    timeoutSeconds: req.timeoutSeconds,
    progress:
      stallSeconds === null && maxTimeoutSeconds === null && tokenCap === null
        ? undefined
        : {
            stallSeconds,
            maxTimeoutSeconds,
            dbQuietSeconds: () => dbWatch?.quietSeconds() ?? 0,
            ...(tokenCap === null ? {} : { overTokenCap: () => dbWatch?.overTokenCap() ?? false }),
          },
    killGraceSeconds: req.killGraceSeconds,
    stdoutPath: t.paths.stdout,
    stderrPath: t.paths.stderr,
    headerBytes: t.headerBytes,
    maxLogBytes: deps.maxLogBytes,
    heartbeatIntervalMs: deps.heartbeatIntervalMs,
    stop: stop.signal,
    tag: t.tag,
    cgroup: t.cgroup,
    fence: fenceOf(deps, req, t, { argv, env }),
    onTick: ({ pid, bytesOut, lastOutputAt }) => {
      const hb: DrainHeartbeat = {
        tryNo: t.key.tryNo,
        host: deps.host,
        pid,
        pgid: pid,
        tag: t.tag,
        cgroup: t.cgroup,
        startedAt: t.startedAt,
        phaseUpdatedAt: t.initial?.updated_at?.toISOString() ?? null,
        telemetryBefore: t.before.byTable,
        tokensBefore: t.tokensBefore,
        logPaths: t.paths,
        bytesOut,
        lastOutputAt: lastOutputAt ? new Date(lastOutputAt).toISOString() : null,
      };
      ctx.heartbeat(hb);
      if (pid && !pidNoted) {
        pidNoted = true;
        void setAttemptProcess(deps.pool, t.key, pid).catch(() => (pidNoted = false));
      }
    },
  }).finally(() => {
    if (dbTimer) clearInterval(dbTimer);
  });
  // The supervisor renews the run's lease with the try's fence; it ends the executor when
  // either is lost (or the try was superseded): then the try is lost, not judged.
  if (proc.fenceEnd && proc.fenceEnd.end !== 'hard-limit') lostReason = fenceLostReason(req, proc.fenceEnd);
  return { proc, lostReason };
}

/** Why a try whose supervisor ended it is lost, in words (the end is in `supervisor_end`). */
function fenceLostReason(req: Pick<DrainRequest, 'runId'>, e: SupervisorEnd): string {
  const what =
    e.end === 'lease-lost'
      ? `lease lost while draining: run ${req.runId} was taken over`
      : e.end === 'superseded'
        ? 'superseded: a retry of this attempt took over'
        : `fence lost: ${e.reason}`;
  return `${what}; the executor was stopped by its supervisor`;
}

/**
 * The supervisor's configuration for this try (src/runtime/try-supervisor.mjs): where the
 * records are, the try's key, the lease it renews and its TTL, the fence bounds, the hard
 * time limit behind the worker's own clock, and where it writes how the executor ended.
 */
function fenceOf(
  deps: ActivityDeps,
  req: DrainRequest,
  t: Pick<TryStart, 'key' | 'paths' | 'cgroup'>,
  exec: { argv: string[]; env: NodeJS.ProcessEnv },
): { config: Record<string, unknown>; statusFile: string; supervisors: ActivityDeps['supervisors'] } {
  const heartbeatTimeoutSeconds = (Context.current().info.heartbeatTimeoutMs ?? 0) / 1000;
  // Per try (the tries of an attempt share their log files); read and removed by the worker,
  // left beside the logs as evidence when the worker is gone.
  const statusFile = t.paths.exit.replace(/\.exit\.json$/, `.t${t.key.tryNo}.supervisor.json`);
  return {
    statusFile,
    supervisors: deps.supervisors,
    config: {
      key: t.key,
      leaseTtlSeconds: leaseTtlSeconds(deps.fence, heartbeatTimeoutSeconds, deps.leaseTtlSeconds),
      renewMs: deps.fence.renewMs,
      fenceSeconds: deps.fence.fenceSeconds,
      hardLimitSeconds: Math.max(req.timeoutSeconds, req.maxTimeoutSeconds ?? 0),
      killGraceMs: req.killGraceSeconds * 1000,
      statusFile,
      cgroup: t.cgroup,
      setpriv: setprivPath(),
      // The executor's path as a spawn would find it (null: spawned as given, for its error).
      command: findOnPath(exec.argv[0] ?? '', req.workspace, exec.env),
    },
  };
}

/** The exit facts next to the logs: what a retry reads when this worker dies before recording. */
export async function writeExitRecord(file: string, proc: ProcessResult): Promise<void> {
  const { returnCode, signal, timedOut, stalled, extendedToSeconds, cancelled, durationSeconds } = proc;
  const record: ExitFacts & { finishedAt: string } = {
    returnCode,
    signal,
    timedOut,
    stalled,
    ...(proc.tokenCapped ? { tokenCapped: true } : {}),
    extendedToSeconds,
    cancelled,
    durationSeconds,
    finishedAt: new Date().toISOString(),
  };
  await writeFile(file, JSON.stringify(record) + '\n', { flag: 'wx' }).catch(() => {});
}

/** The outcome of a try from what it observed (exit: null when the executor never ran). */
export async function outcomeOfTry(
  deps: ActivityDeps,
  req: DrainRequest,
  t: TryStart,
  proc: ProcessResult | null,
  unjudged: Unjudged | null,
): Promise<AttemptOutcome> {
  const {
    phase: final,
    telemetry: after,
    tokens: tokensAfter,
    runCounts,
  } = await deps.backlog.phaseFacts(req.runId, req.phaseId);
  const facts: AttemptFacts = {
    runId: req.runId,
    phaseId: req.phaseId,
    attempt: req.attempt,
    timeoutSeconds: req.timeoutSeconds,
    stallSeconds: req.stallSeconds ?? null,
    maxTokensPerPhase: req.maxTokensPerPhase ?? null,
    initialState: t.initial?.state ?? null,
    final: final && { state: final.state, lastFailureReason: final.last_failure_reason },
    exit: proc,
    elapsedSeconds: proc?.durationSeconds ?? 0,
    reconciled: false,
    spawnError: proc?.spawnError ?? null,
    outputCapped: proc?.outputCapped ? { maxBytes: deps.maxLogBytes } : null,
    logs: {
      stdoutPath: t.paths.stdout,
      stderrPath: t.paths.stderr,
      stdoutExcerpt: proc ? await proc.stdout.excerpt() : '',
      stderrExcerpt: proc ? await proc.stderr.excerpt() : '',
      stdoutBytes: proc?.stdout.bytes ?? 0,
      stderrBytes: proc?.stderr.bytes ?? 0,
    },
    llmBoundaryHit: proc?.llmBoundaryHit ?? false,
    telemetryEvents: Math.max(0, after.phase - t.before.phase),
    telemetryGlobalDelta: Math.max(0, after.global - t.before.global),
    telemetryByTable: tableDelta(t.before.byTable, after.byTable),
    tokens: attemptTokens(t.tokensBefore, tokensAfter),
    runCountsBefore: t.runCountsBefore,
    runCountsAfter: runCounts,
    phaseChanged: phaseChanged(t.initial, final),
    interruptedTries: t.interruptedTries,
    processesReaped: proc?.processesReaped ?? 0,
    unjudged,
    startedAt: t.startedAt,
    finishedAt: new Date().toISOString(),
    workerIdentity: deps.identity,
    baselineCommit: req.baseline?.commit ?? null,
  };
  return outcomeFromFacts(facts);
}
