/**
 * One baseline capture (activities/baseline.ts decides when one is needed): the command run
 * contained (src/runtime/contained-run.ts) with its output in the capture's own file, the
 * heartbeat and claim renewal while it runs, and the recorded result; and the end of a capture
 * a previous try of the activity left running.
 */
import { closeSync, openSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import type { BaselineHeartbeat, BaselineResult, EnsureBaselineInput } from './baseline.js';
import {
  captureError,
  captureFileName,
  captureStatusOf,
  captureTempName,
  CLAIM_TTL_SECONDS,
  type BaselineStatus,
} from '../src/domain/baseline-decision.js';
import { renderCommand } from '../src/domain/command-template.js';
import { safeFileComponent } from '../src/domain/files.js';
import { redactSecrets } from '../src/domain/redact.js';
import {
  finishCapture,
  insertBaseline,
  interruptCaptures,
  renewCapture,
  setCaptureProcess,
  type CaptureRow,
} from '../src/db/baselines.js';
import { TAG_VAR, createTryCgroup, endTry, spawnContained } from '../src/runtime/containment.js';
import { GroupKill, onAbort, runContained } from '../src/runtime/contained-run.js';

/** The containment tag of one baseline capture. */
const captureTag = (captureId: string) => `baseline-capture-${captureId}`;

interface CaptureProcess {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  spawnError: string | null;
  durationSeconds: number;
}

/**
 * Runs the baseline command in its own process group with its output going straight to
 * `fd`, kills the whole group at the timeout or on cancellation (SIGTERM, SIGKILL after the
 * grace), and returns once nothing of the group is left.
 */
async function runCaptureProcess(o: {
  argv: string[];
  cwd: string;
  fd: number;
  timeoutSeconds: number;
  graceMs: number;
  /** Containment tag (DRAIN_ATTEMPT_TAG) of this capture: escapees carrying it are reaped. */
  tag: string;
  onStart: (pid: number | null) => void;
}): Promise<CaptureProcess> {
  const cgroup = createTryCgroup(o.tag);
  let timedOut = false;
  let cancelled = false;
  const run = await runContained({
    start: () =>
      spawnContained({
        argv: o.argv,
        cwd: o.cwd,
        env: { ...process.env, [TAG_VAR]: o.tag },
        stdoutFd: o.fd,
        stderrFd: o.fd,
        cgroup,
      }),
    tag: o.tag,
    cgroup,
    graceMs: o.graceMs,
    group: (pid) => new GroupKill(pid, o.graceMs),
    watch: ({ pid, group }) => {
      o.onStart(pid);
      const timer = setTimeout(() => {
        timedOut = true;
        group.kill();
      }, o.timeoutSeconds * 1000);
      const unlisten = onAbort(Context.current().cancellationSignal, () => {
        cancelled = true;
        group.kill();
      });
      // Neither the timeout nor a cancellation applies once it exited: the rest is its end.
      const done = () => (clearTimeout(timer), unlisten());
      return { exited: done, stop: done };
    },
  });
  return {
    exitCode: run.exit.exitCode,
    signal: run.exit.signal,
    timedOut: timedOut && !cancelled,
    cancelled,
    spawnError: run.spawnError,
    durationSeconds: Math.round(performance.now() - run.started) / 1000,
  };
}

/** A retry of ensureBaseline: the capture the previous try left running is ended. */
export async function endPreviousCapture(
  deps: ActivityDeps,
  prev: BaselineHeartbeat | undefined,
  graceMs: number,
): Promise<void> {
  if (!prev?.captureId) return;
  // Mark first, then kill: a stale try that outlives the kill finds its row no longer running.
  await interruptCaptures(
    deps.pool,
    [prev.captureId],
    'interrupted: the worker capturing it stopped (crash, kill or lost connection); the capture was retried',
  );
  if (prev.host === deps.host) {
    await endTry(
      { pgid: prev.pgid ?? null, tag: captureTag(prev.captureId), cgroup: null, startedMs: 0 },
      graceMs,
    );
  }
}

/** Where a capture's output goes: its own temporary file, renamed when it ended. */
interface CaptureFiles {
  dir: string;
  safe: string;
  tmp: string;
}

/**
 * Runs the claimed capture's command, heartbeating (and renewing the claim) while it runs; a
 * command that could not run at all (bad template, unwritable workspace) is a failed capture.
 */
async function runClaimedCapture(
  deps: ActivityDeps,
  o: EnsureBaselineInput,
  commit: string | null,
  claim: CaptureRow,
  files: CaptureFiles,
  graceSeconds: number,
): Promise<CaptureProcess> {
  const ctx = Context.current();
  let pgid: number | null = null;
  const beat = () => {
    const hb: BaselineHeartbeat = { captureId: claim.id, host: deps.host, pgid };
    ctx.heartbeat(hb);
    void renewCapture(deps.pool, claim.id, CLAIM_TTL_SECONDS).catch(() => {});
  };
  beat();
  const ticker = setInterval(beat, deps.heartbeatIntervalMs);
  try {
    await mkdir(files.dir, { recursive: true });
    const argv = renderCommand(o.baselineCommand as string, {
      workspace: o.workspace,
      commit: commit ?? '',
    });
    const fd = openSync(files.tmp, 'wx'); // this capture's own file: never two writers on one
    try {
      return await runCaptureProcess({
        argv,
        cwd: o.workspace,
        fd,
        timeoutSeconds: o.timeoutSeconds,
        graceMs: graceSeconds * 1000,
        tag: captureTag(claim.id),
        onStart: (pid) => {
          pgid = pid;
          beat();
          void setCaptureProcess(deps.pool, claim.id, { pgid: pid, artifactPath: files.tmp }).catch(() => {});
        },
      });
    } finally {
      closeSync(fd); // the child has its own copy
    }
  } catch (err) {
    // No process ran (bad template, unwritable workspace): a failed capture all the same.
    const spawnError = (err as Error).message;
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      cancelled: false,
      spawnError,
      durationSeconds: 0,
    };
  } finally {
    clearInterval(ticker);
  }
}

/** Keeps the capture's file under its final name and records the capture (and a good baseline). */
async function recordCapture(
  deps: ActivityDeps,
  o: EnsureBaselineInput,
  key: string,
  claim: CaptureRow,
  files: CaptureFiles,
  proc: CaptureProcess,
): Promise<{ status: BaselineStatus; artifactPath: string; error: string | null; landed: boolean }> {
  const status = captureStatusOf(proc);
  const finalPath = path.join(files.dir, captureFileName(files.safe, claim.id, status === 'ok'));
  const artifactPath = await rename(files.tmp, finalPath).then(
    () => finalPath,
    () => files.tmp,
  );
  const raw = captureError({ ...proc, status, timeoutSeconds: o.timeoutSeconds, outputPath: artifactPath });
  const error = raw === null ? null : redactSecrets(raw, deps.knownSecrets);
  const landed = await finishCapture(deps.pool, claim.id, {
    status,
    exitCode: proc.exitCode,
    signal: proc.signal,
    durationSeconds: proc.durationSeconds,
    artifactPath,
    error,
  });
  if (landed && status === 'ok') {
    await insertBaseline(deps.pool, {
      commitSha: key,
      artifactPath,
      durationSeconds: proc.durationSeconds,
      sessionId: o.sessionId,
      captureId: claim.id,
    });
  }
  return { status, artifactPath, error, landed };
}

/** Runs one claimed capture to its end and records it; the result tells executors what they may use. */
export async function captureBaseline(
  deps: ActivityDeps,
  o: EnsureBaselineInput,
  commit: string | null,
  key: string,
  claim: CaptureRow,
  graceSeconds: number,
): Promise<BaselineResult> {
  const ctx = Context.current();
  const dir = path.join(o.workspace, '.autonomous_runs', 'baselines');
  const safe = safeFileComponent(key);
  const files: CaptureFiles = { dir, safe, tmp: path.join(dir, captureTempName(safe, claim.id)) };
  const proc = await runClaimedCapture(deps, o, commit, claim, files, graceSeconds);
  const { status, artifactPath, error, landed } = await recordCapture(deps, o, key, claim, files, proc);
  if (proc.cancelled) await ctx.cancelled; // rethrows the cancellation (the row says interrupted)
  if (!landed) {
    const note = `baseline capture ${claim.id} ended (${status}) after its claim lapsed and was marked interrupted`;
    return {
      commit,
      artifactPath: null,
      captured: false,
      status: 'interrupted',
      error: note,
      captureId: claim.id,
    };
  }
  const ok = status === 'ok';
  return {
    commit,
    artifactPath: ok ? artifactPath : null,
    captured: ok,
    status,
    error,
    captureId: claim.id,
  };
}
