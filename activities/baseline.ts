import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { captureBaseline, endPreviousCapture } from './baseline-capture.js';
import { workspaceCommit } from '../src/runtime/git.js';
import type { BaselineInfo } from './drain.js';
import {
  captureFits,
  CLAIM_TTL_SECONDS,
  decideBaseline,
  exhaustedError,
  type BaselineStatus,
} from '../src/domain/baseline-decision.js';
import { redactSecrets } from '../src/domain/redact.js';
import {
  captureFact,
  claimCapture,
  interruptCaptures,
  listCaptures,
  withBaselineLock,
} from '../src/db/baselines.js';
import type { DatabaseIdentity } from '../src/db/identity.js';

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

/**
 * What to do about the baseline of `key`, decided on the commit's advisory lock: stale claims
 * are expired, and a capture to make is claimed at once (claim null: another worker was first).
 */
async function decideLocked(deps: ActivityDeps, o: EnsureBaselineInput, key: string, canCapture: boolean) {
  return withBaselineLock(deps.pool, key, async (db) => {
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
}

export function baselineActivities(deps: ActivityDeps) {
  const red = (s: string | null) => (s === null ? null : redactSecrets(s, deps.knownSecrets));

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
      await endPreviousCapture(
        deps,
        ctx.info.heartbeatDetails as BaselineHeartbeat | undefined,
        grace * 1000,
      );
      for (;;) {
        const canCapture = captureFits(remainingMs(), o.timeoutSeconds, grace);
        const step = await decideLocked(deps, o, key, canCapture);
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
            if (step.claim) return captureBaseline(deps, o, commit, key, step.claim, grace);
            continue; // another worker claimed it first: wait for that one
        }
      }
    },
  };
}
