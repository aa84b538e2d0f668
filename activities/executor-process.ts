import { closeSync, openSync } from 'node:fs';
import { appendFile, readFile, unlink } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { LogTail } from '../src/runtime/log-tail.js';
import { spawnContained } from '../src/runtime/containment.js';
import type { SupervisorPool } from '../src/runtime/supervisor-pool.js';
import { GroupKill, onAbort, runContained } from '../src/runtime/contained-run.js';
import { detectLlmBoundary } from '../src/domain/llm-boundary.js';
import { tryClock } from '../src/domain/try-clock.js';

const WATCH_INTERVAL_MS = 200;

/** Why a try's supervisor ended it (try-supervisor.mjs), other than its executor exiting. */
export interface SupervisorEnd {
  end: 'superseded' | 'lease-lost' | 'fence-lost' | 'hard-limit';
  reason: string;
}

interface SupervisorStatus {
  end: 'exited' | SupervisorEnd['end'];
  reason?: string | null;
  spawnError?: string;
}

/** The status file the supervisor wrote when its executor ended (then removed); null when none. */
async function readSupervisorStatus(file: string): Promise<SupervisorStatus | null> {
  try {
    const status = JSON.parse(await readFile(file, 'utf8')) as SupervisorStatus;
    await unlink(file).catch(() => {});
    return status;
  } catch {
    return null;
  }
}

export interface ProcessResult {
  pid: number | null;
  returnCode: number | null;
  signal: string | null;
  /** Our clock stopped it: its deadline passed, or it stalled (a stall is a timeout too). */
  timedOut: boolean;
  /** Stopped by --stall-seconds: no output and no database change for that long. */
  stalled: boolean;
  /** Stopped by --max-tokens-per-phase: its phase spent more than the cap (not a timeout). */
  tokenCapped: boolean;
  /** The deadline it was stopped at when it ran past its base timeout (kept producing output); else null. */
  extendedToSeconds: number | null;
  cancelled: boolean;
  /** The executor wrote more than maxLogBytes and was stopped. */
  outputCapped: boolean;
  spawnError: string | null;
  durationSeconds: number;
  /** Processes that outlived the executor's group and had to be reaped (setsid, double forks). */
  processesReaped: number;
  /** Stopped through `stop` (not a timeout, not a cancellation). */
  stopped: boolean;
  /** How the supervisor ended the try when it did (no longer current, fence or lease lost), else null. */
  fenceEnd: SupervisorEnd | null;
  llmBoundaryHit: boolean;
  stdout: LogTail;
  stderr: LogTail;
}

interface RunOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The base timeout. */
  timeoutSeconds: number;
  /** Progress-aware limits (src/domain/try-clock.ts); absent: the base timeout alone. */
  progress?: {
    maxTimeoutSeconds: number | null;
    stallSeconds: number | null;
    /** Seconds the database is known to have stayed unchanged for this phase. */
    dbQuietSeconds: () => number;
    /** True once the phase has spent more than --max-tokens-per-phase (absent: no cap). */
    overTokenCap?: () => boolean;
  };
  killGraceSeconds: number;
  stdoutPath: string;
  stderrPath: string;
  /** Bytes of our own header at the start of both log files (already written by the caller). */
  headerBytes: number;
  maxLogBytes: number;
  heartbeatIntervalMs: number;
  /** Aborted when the try must stop (its run's lease is gone): the executor is killed. */
  stop?: AbortSignal;
  /** The try's tag (in `env` as DRAIN_ATTEMPT_TAG) and cgroup (null: none), for containment. */
  tag: string;
  cgroup: string | null;
  /**
   * The try's supervisor (src/runtime/try-supervisor.mjs): the executor runs as its child,
   * fenced by it; `config` (with the executor's argv, cwd, env and log files) goes to a ready
   * supervisor of `supervisors`, and it writes how the executor ended to `statusFile`. Absent:
   * the executor is spawned directly.
   */
  fence?: { config: Record<string, unknown>; statusFile: string; supervisors: SupervisorPool };
  /** Called every heartbeat interval while the process runs (heartbeat). */
  onTick: (p: { pid: number | null; bytesOut: number; lastOutputAt: number | null }) => void;
}

/**
 * Starts the executor with its output going straight into the log files (containment.ts); with
 * `fence`, under its supervisor (a ready one: src/runtime/supervisor-pool.ts), which is the
 * group's leader, opens the log files and starts the executor as its child.
 */
function spawnToLogFiles(o: RunOptions): ReturnType<typeof spawnContained> {
  if (o.fence) {
    const { argv, cwd, env, stdoutPath, stderrPath } = o;
    return o.fence.supervisors.start({ ...o.fence.config, argv, cwd, env, stdoutPath, stderrPath }, o.cgroup);
  }
  const stdoutFd = openSync(o.stdoutPath, 'a');
  const stderrFd = openSync(o.stderrPath, 'a');
  try {
    return spawnContained({ argv: o.argv, cwd: o.cwd, env: o.env, stdoutFd, stderrFd, cgroup: o.cgroup });
  } finally {
    closeSync(stdoutFd); // the child has its own copies
    closeSync(stderrFd);
  }
}

/** Why the executor was stopped (each cause noted when it happens) and the kill of its group. */
class Stops extends GroupKill {
  timedOut = false;
  stalled = false;
  tokenCapped = false;
  extendedToSeconds: number | null = null;
  cancelled = false;
  outputCapped = false;
  stopped = false;

  /** What the result says: a cancellation, the output cap or a stop wins over our clock. */
  reported(): Pick<
    ProcessResult,
    'timedOut' | 'stalled' | 'tokenCapped' | 'extendedToSeconds' | 'stopped' | 'cancelled' | 'outputCapped'
  > {
    const other = this.cancelled || this.outputCapped || this.stopped;
    return {
      timedOut: (this.timedOut || this.stalled) && !other,
      stalled: this.stalled && !other,
      tokenCapped: this.tokenCapped && !other && !this.stalled && !this.timedOut,
      extendedToSeconds: this.timedOut && !this.stalled ? this.extendedToSeconds : null,
      stopped: this.stopped && !this.cancelled,
      cancelled: this.cancelled,
      outputCapped: this.outputCapped,
    };
  }
}

interface Tails {
  stdout: LogTail;
  stderr: LogTail;
  lastOutputAt(): number | null;
}

/**
 * Stalls and extensions are decided from the output (watched here) and the database (watched
 * by the caller); the same kill path as the plain timeout.
 */
function judgeClock(o: RunOptions, stops: Stops, tails: Tails, started: number): void {
  const progress = o.progress;
  if (!progress || stops.killing) return;
  if (progress.overTokenCap?.()) {
    stops.tokenCapped = true;
    stops.kill();
    return;
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  const out = tails.lastOutputAt();
  const d = tryClock({
    elapsedSeconds,
    sinceOutputSeconds: out === null ? elapsedSeconds : Math.max(0, (Date.now() - out) / 1000),
    sinceDbChangeSeconds: progress.dbQuietSeconds(),
    baseTimeoutSeconds: o.timeoutSeconds,
    maxTimeoutSeconds: progress.maxTimeoutSeconds,
    stallSeconds: progress.stallSeconds,
  });
  if (d.kind === 'stalled') {
    stops.stalled = true;
    stops.kill();
  } else if (d.kind === 'timeout') {
    stops.timedOut = true;
    if (d.extended) stops.extendedToSeconds = d.limitSeconds;
    stops.kill();
  }
}

/**
 * Watches the running executor until `stop()`: its output (the cap and
 * the clock, more often than heartbeats: a runaway writer must not fill the disk), the
 * heartbeat ticks, the hard time limit, activity cancellation and `o.stop`.
 */
function watchExecutor(o: RunOptions, pid: number | null, stops: Stops, tails: Tails, started: number) {
  const watch = async () => {
    await Promise.all([tails.stdout.poll(), tails.stderr.poll()]);
    if (tails.stdout.bytes + tails.stderr.bytes > o.maxLogBytes && !stops.outputCapped) {
      stops.outputCapped = true;
      stops.kill(0); // no grace: it would keep writing at full speed
    }
    judgeClock(o, stops, tails, started);
  };
  const tick = async () => {
    await watch();
    o.onTick({ pid, bytesOut: tails.stdout.bytes + tails.stderr.bytes, lastOutputAt: tails.lastOutputAt() });
  };
  const watcher = setInterval(() => void watch(), WATCH_INTERVAL_MS);
  void tick();
  const ticker = setInterval(() => void tick(), o.heartbeatIntervalMs);
  // The hard limit: the base timeout, or the maximum a phase that keeps producing output may run.
  const max = o.progress?.maxTimeoutSeconds ?? null;
  const hardLimit = max !== null && max > o.timeoutSeconds ? max : o.timeoutSeconds;
  const timer = setTimeout(() => {
    if (stops.killing) return; // already stopped by the clock, the cap, a cancellation or a stop
    stops.timedOut = true;
    if (hardLimit > o.timeoutSeconds) stops.extendedToSeconds = hardLimit;
    stops.kill();
  }, hardLimit * 1000);
  const unlisten = onAbort(Context.current().cancellationSignal, () => {
    stops.cancelled = true;
    stops.kill();
  });
  const onStop = () => ((stops.stopped = true), stops.kill());
  o.stop?.addEventListener('abort', onStop);
  return {
    /** The executor exited: its time limit no longer applies (ticks go on while the group is ended). */
    exited: () => clearTimeout(timer),
    stop: () => {
      clearTimeout(timer);
      clearInterval(ticker);
      clearInterval(watcher);
      unlisten();
      o.stop?.removeEventListener('abort', onStop);
    },
  };
}

/**
 * Runs the executor in its own process group with its stdout/stderr going straight to the
 * log files (so they outlive a crashed worker), enforces the timeout (SIGTERM to the group,
 * SIGKILL after the grace period), the output cap and activity cancellation, and guarantees
 * the whole group is gone when it returns.
 */
export async function runExecutorProcess(o: RunOptions): Promise<ProcessResult> {
  let llmBoundaryHit = false;
  const scan = (t: string) => {
    if (!llmBoundaryHit && detectLlmBoundary(t)) llmBoundaryHit = true;
  };
  const stdout = new LogTail(o.stdoutPath, o.headerBytes, scan);
  const stderr = new LogTail(o.stderrPath, o.headerBytes, scan);
  const tails: Tails = {
    stdout,
    stderr,
    lastOutputAt: () => Math.max(stdout.lastOutputAt ?? 0, stderr.lastOutputAt ?? 0) || null,
  };
  const graceMs = o.killGraceSeconds * 1000;
  // Heartbeats go on while the end of its group takes the kill grace (ticks stop at `stop`).
  const run = await runContained({
    start: () => spawnToLogFiles(o),
    tag: o.tag,
    cgroup: o.cgroup,
    graceMs,
    group: (pid) => new Stops(pid, graceMs),
    watch: ({ pid, group, started }) => watchExecutor(o, pid, group, tails, started),
  });
  const { pid, exit: result, processesReaped, started, group: stops } = run;
  await Promise.all([stdout.poll(), stderr.poll()]);
  if (stops.outputCapped) {
    const note = `\n[autopack-drain: output exceeded ${o.maxLogBytes} bytes; the executor was stopped]\n`;
    await Promise.all([appendFile(o.stdoutPath, note), appendFile(o.stderrPath, note)]).catch(() => {});
  }
  const status = o.fence ? await readSupervisorStatus(o.fence.statusFile) : null;
  const spawnError =
    run.spawnError !== null
      ? `executor could not be started: ${run.spawnError}`
      : status?.spawnError
        ? `executor could not be started: ${status.spawnError}`
        : null;
  return {
    pid,
    returnCode: result.exitCode,
    signal: result.signal,
    ...stops.reported(),
    spawnError,
    durationSeconds: Math.round(performance.now() - started) / 1000,
    processesReaped,
    fenceEnd:
      status && status.end !== 'exited' ? { end: status.end, reason: status.reason ?? status.end } : null,
    llmBoundaryHit,
    stdout,
    stderr,
  };
}
