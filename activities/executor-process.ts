import { Context } from '@temporalio/activity';
import { execa } from 'execa';
import { LogSink } from '../src/runtime/log-sink.js';
import { terminateGroup } from '../src/runtime/process-group.js';
import { detectLlmBoundary } from '../src/domain/llm-boundary.js';

export interface ProcessResult {
  pid: number | null;
  returnCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  spawnError: string | null;
  durationSeconds: number;
  llmBoundaryHit: boolean;
  stdout: LogSink;
  stderr: LogSink;
}

export interface RunOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutSeconds: number;
  killGraceSeconds: number;
  stdoutPath: string;
  stderrPath: string;
  header: string;
  maxLogBytes: number;
  heartbeatIntervalMs: number;
  /** Called every heartbeat interval while the process runs (heartbeat, lease renewal). */
  onTick: (p: { pid: number | null; bytesOut: number; lastOutputAt: number | null }) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the executor in its own process group, streams both outputs to their log files,
 * enforces the timeout (SIGTERM to the group, SIGKILL after the grace period) and activity
 * cancellation, and guarantees the whole group is gone when it returns.
 */
export async function runExecutorProcess(o: RunOptions): Promise<ProcessResult> {
  let llmBoundaryHit = false;
  const scan = (t: string) => {
    if (!llmBoundaryHit && detectLlmBoundary(t)) llmBoundaryHit = true;
  };
  const stdout = new LogSink(o.stdoutPath, o.header, o.maxLogBytes, scan);
  const stderr = new LogSink(o.stderrPath, o.header, o.maxLogBytes, scan);
  const graceMs = o.killGraceSeconds * 1000;
  const started = performance.now();

  const sub = execa(o.argv[0], o.argv.slice(1), {
    cwd: o.cwd,
    env: o.env,
    extendEnv: false,
    detached: true, // own process group: pgid = pid
    stdin: 'ignore',
    buffer: false,
    reject: false,
    encoding: 'buffer',
    cleanup: false,
    forceKillAfterDelay: false,
  });
  const pid = sub.pid ?? null;
  const piping = Promise.all([stdout.attach(sub.stdout), stderr.attach(sub.stderr)]);

  let timedOut = false;
  let cancelled = false;
  let killing: Promise<void> | null = null;
  const kill = () => {
    if (pid && !killing) killing = terminateGroup(pid, graceMs);
  };
  const tick = () =>
    o.onTick({
      pid,
      bytesOut: stdout.bytes + stderr.bytes,
      lastOutputAt: Math.max(stdout.lastOutputAt ?? 0, stderr.lastOutputAt ?? 0) || null,
    });
  tick();
  const ticker = setInterval(tick, o.heartbeatIntervalMs);
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, o.timeoutSeconds * 1000);
  const signal = Context.current().cancellationSignal;
  const onAbort = () => {
    cancelled = true;
    kill();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort);

  let result;
  try {
    result = await sub;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
  // The main process is gone; nothing of its group may outlive it (children, grandchildren).
  if (pid) {
    await (killing ?? terminateGroup(pid, graceMs));
  }
  // A descendant that escaped the group could hold the pipes open: do not wait forever.
  await Promise.race([piping, sleep(5_000)]);
  sub.stdout?.destroy();
  sub.stderr?.destroy();
  clearInterval(ticker);

  const spawnError =
    pid === null || (result.failed && result.exitCode === undefined && !result.signal)
      ? `executor could not be started: ${result.shortMessage ?? result.message ?? 'unknown spawn error'}`
      : null;
  return {
    pid,
    returnCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut: timedOut && !cancelled,
    cancelled,
    spawnError,
    durationSeconds: Math.round(performance.now() - started) / 1000,
    llmBoundaryHit,
    stdout,
    stderr,
  };
}
