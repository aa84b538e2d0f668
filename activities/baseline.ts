import { closeSync, openSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { workspaceCommit } from '../src/runtime/git.js';
import type { BaselineInfo } from './drain.js';
import {
  captureError,
  captureFileName,
  captureFits,
  captureStatusOf,
  captureTempName,
  CLAIM_TTL_SECONDS,
  decideBaseline,
  exhaustedError,
  type BaselineStatus,
} from '../src/domain/baseline-decision.js';
import { renderCommand } from '../src/domain/command-template.js';
import { safeFileComponent } from '../src/domain/files.js';
import { redactSecrets } from '../src/domain/redact.js';
import {
  captureFact,
  claimCapture,
  finishCapture,
  insertBaseline,
  interruptCaptures,
  listCaptures,
  renewCapture,
  setCaptureProcess,
  withBaselineLock,
  type CaptureRow,
} from '../src/db/baselines.js';
import type { DatabaseIdentity } from '../src/db/identity.js';
import { terminateGroup } from '../src/runtime/process-group.js';
import { TAG_VAR, createTryCgroup, endTry, spawnContained } from '../src/runtime/containment.js';

/** The containment tag of one baseline capture. */
const captureTag = (captureId: string) => `baseline-capture-${captureId}`;

/** What ensureBaseline returns: BaselineInfo plus what became of the baseline. */
export interface BaselineResult extends BaselineInfo {
  status: BaselineStatus;
  /** Why there is no baseline (status other than ok and none), redacted. */
  error: string | null;
  /** The drain_baseline_captures row whose result this is. */
  captureId: string | null;
}

/** What ensureBaseline heartbeats while it captures: a retry ends the capture it left. */
export interface BaselineHeartbeat {
  captureId?: string;
  host?: string;
  pgid?: number | null;
  /** While waiting for another session's capture. */
  waitingFor?: string;
}

export interface EnsureBaselineInput {
  sessionId: string;
  workspace: string;
  baselineCommand: string | null;
  timeoutSeconds: number;
  /** SIGTERM → SIGKILL delay for the baseline command's group (default 10 s). */
  killGraceSeconds?: number;
  database?: DatabaseIdentity | null;
}

const DEFAULT_KILL_GRACE_SECONDS = 10;
const WAIT_POLL_MS = 500;
const STALE_NOTE =
  'interrupted: the worker capturing it stopped renewing its claim (crash, kill or lost connection)';

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
  const started = performance.now();
  const startedMs = Date.now();
  const cgroup = createTryCgroup(o.tag);
  const sub = spawnContained({
    argv: o.argv,
    cwd: o.cwd,
    env: { ...process.env, [TAG_VAR]: o.tag },
    stdoutFd: o.fd,
    stderrFd: o.fd,
    cgroup,
  });
  const pid = sub.pid;
  o.onStart(pid);
  let timedOut = false;
  let cancelled = false;
  let killing: Promise<void> | null = null;
  const kill = () => {
    if (pid && !killing) killing = terminateGroup(pid, o.graceMs);
  };
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
    result = await sub.exited;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
  // The main process is gone; nothing it started may outlive it (its group, its cgroup, anything
  // carrying its tag: setsid and double forks included).
  if (pid) await killing;
  await sub.joined;
  await endTry({ pgid: pid, tag: o.tag, cgroup, startedMs }, o.graceMs);
  const spawnError =
    pid === null || (result.error && result.exitCode === null && !result.signal)
      ? (result.error?.message ?? 'unknown spawn error')
      : null;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: timedOut && !cancelled,
    cancelled,
    spawnError,
    durationSeconds: Math.round(performance.now() - started) / 1000,
  };
}

export function baselineActivities(deps: ActivityDeps) {
  const red = (s: string | null) => (s === null ? null : redactSecrets(s, deps.knownSecrets));

  /** A retry of ensureBaseline: the capture the previous try left running is ended. */
  async function endPreviousCapture(prev: BaselineHeartbeat | undefined, graceMs: number): Promise<void> {
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

  /** Runs one claimed capture to its end and records it; the result tells executors what they may use. */
  async function capture(
    o: EnsureBaselineInput,
    commit: string | null,
    key: string,
    claim: CaptureRow,
    graceSeconds: number,
  ): Promise<BaselineResult> {
    const ctx = Context.current();
    const dir = path.join(o.workspace, '.autonomous_runs', 'baselines');
    const safe = safeFileComponent(key);
    const tmp = path.join(dir, captureTempName(safe, claim.id));
    let proc: CaptureProcess;
    let pgid: number | null = null;
    const beat = () => {
      const hb: BaselineHeartbeat = { captureId: claim.id, host: deps.host, pgid };
      ctx.heartbeat(hb);
      void renewCapture(deps.pool, claim.id, CLAIM_TTL_SECONDS).catch(() => {});
    };
    beat();
    const ticker = setInterval(beat, deps.heartbeatIntervalMs);
    try {
      await mkdir(dir, { recursive: true });
      const argv = renderCommand(o.baselineCommand as string, {
        workspace: o.workspace,
        commit: commit ?? '',
      });
      const fd = openSync(tmp, 'wx'); // this capture's own file: never two writers on one
      try {
        proc = await runCaptureProcess({
          argv,
          cwd: o.workspace,
          fd,
          timeoutSeconds: o.timeoutSeconds,
          graceMs: graceSeconds * 1000,
          tag: captureTag(claim.id),
          onStart: (pid) => {
            pgid = pid;
            beat();
            void setCaptureProcess(deps.pool, claim.id, { pgid: pid, artifactPath: tmp }).catch(() => {});
          },
        });
      } finally {
        closeSync(fd); // the child has its own copy
      }
    } catch (err) {
      // No process ran (bad template, unwritable workspace): a failed capture all the same.
      const spawnError = (err as Error).message;
      proc = {
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
    const status = captureStatusOf(proc);
    const finalPath = path.join(dir, captureFileName(safe, claim.id, status === 'ok'));
    const artifactPath = await rename(tmp, finalPath).then(
      () => finalPath,
      () => tmp,
    );
    const error = red(
      captureError({ ...proc, status, timeoutSeconds: o.timeoutSeconds, outputPath: artifactPath }),
    );
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

  return {
    /**
     * T0 baseline: captured once per workspace commit across sessions, processes and hosts.
     * Only a good capture (exit 0 within the timeout) is a baseline: its artifact path tells
     * executors to skip theirs. A failed, timed-out or interrupted capture is recorded
     * (drain_baseline_captures) and tried again by the next drain, up to MAX_FAILED_CAPTURES
     * per commit. Concurrent sessions take turns on the commit's advisory lock: one claims
     * the capture, the others wait (heartbeating) and reuse its result.
     */
    async ensureBaseline(o: EnsureBaselineInput): Promise<BaselineResult> {
      const ctx = Context.current();
      const enteredMs = Date.now();
      const budgetMs = ctx.info.startToCloseTimeoutMs || Number.POSITIVE_INFINITY;
      const remainingMs = () => budgetMs - (Date.now() - enteredMs);
      const commit = await workspaceCommit(o.workspace);
      const result = (status: BaselineStatus, error: string | null, captureId: string | null = null) => ({
        commit,
        artifactPath: null,
        captured: false,
        status,
        error: red(error),
        captureId,
      });
      if (!o.baselineCommand) return result('none', null);
      const key = commit ?? `nogit:${o.workspace}:${o.sessionId}`;
      const grace = o.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS;
      await endPreviousCapture(ctx.info.heartbeatDetails as BaselineHeartbeat | undefined, grace * 1000);
      for (;;) {
        const canCapture = captureFits(remainingMs(), o.timeoutSeconds, grace);
        const step = await withBaselineLock(deps.pool, key, async (db) => {
          const d = decideBaseline((await listCaptures(db, key)).map(captureFact), { canCapture });
          if (d.expire.length > 0) await interruptCaptures(db, d.expire, STALE_NOTE);
          if (d.kind !== 'capture') return { d, claim: null };
          const claim = await claimCapture(db, {
            key,
            sessionId: o.sessionId,
            attempt: d.attempt,
            host: deps.host,
            workerIdentity: deps.identity,
            ttlSeconds: CLAIM_TTL_SECONDS,
          });
          return { d, claim };
        });
        const d = step.d;
        switch (d.kind) {
          case 'reuse':
            return { ...result('ok', null, d.capture.id), artifactPath: d.capture.artifactPath };
          case 'exhausted':
            return result('exhausted', exhaustedError(key, d.failures, d.last), d.last.id);
          case 'no-time':
            return result('pending', `no time left in this activity for a baseline capture of ${key}`);
          case 'wait':
            if (!captureFits(remainingMs(), 0, 0)) {
              return result(
                'pending',
                `baseline capture ${d.capture.id} of ${key} is still running`,
                d.capture.id,
              );
            }
            ctx.heartbeat({ waitingFor: d.capture.id } satisfies BaselineHeartbeat);
            await ctx.sleep(WAIT_POLL_MS); // throws when cancelled
            continue;
          case 'capture':
            if (step.claim) return capture(o, commit, key, step.claim, grace);
            continue; // another worker claimed it first: wait for that one
        }
      }
    },
  };
}
