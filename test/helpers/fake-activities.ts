/**
 * An in-memory fake backlog whose activities stand in for the real ones (activities/index.ts)
 * in workflow tests on the time-skipping environment: no database, no executor, no files.
 *
 * - selectNextPhase picks from an in-memory list of FAILED/QUEUED phases the way the selection
 *   statement does in outline (src/db/select-failed.ts): never a busy run, a blocked run, a
 *   done phase, a phase at maxAttemptsPerPhase or a run another session leases; phases not yet
 *   attempted first, then by triage group, phase index and insertion order. The session's
 *   attempts and done phases come from the fake's own records (the workflow state carries
 *   none, as with `fromRecords`), and the token budget from recorded + live spend.
 * - drainPhase acts out a script per phase (success: COMPLETE; failure with an error text:
 *   FAILED; timeout: left EXECUTING, or FAILED with --on-kill fail; token spend; or an
 *   infrastructure error thrown by the activity) after a scripted duration,
 *   heartbeating so that cancellation reaches it; it records how many phases (and phases of
 *   one run) are in flight at once.
 * - Every other activity records its calls and returns a valid shape.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { DrainActivities } from '../../activities/index.js';
import type { BaselineResult, EnsureBaselineInput } from '../../activities/baseline.js';
import type { DrainRequest } from '../../activities/drain-env.js';
import type { PreparedSession, SessionReport } from '../../activities/session.js';
import type { SelectResult } from '../../src/db/select-shared.js';
import type { SelectParams } from '../../src/domain/selection.js';
import { attemptTokens } from '../../src/domain/tokens.js';
import type { AttemptOutcome, PhaseRef, SkipRecord } from '../../src/domain/types.js';

/** What one drain try of a phase does. */
export type Step =
  | { kind: 'success'; events?: number; tokens?: number; ms?: number; commit?: string }
  | { kind: 'failure'; error: string; events?: number; tokens?: number; ms?: number; commit?: string }
  | { kind: 'timeout'; tokens?: number; ms?: number }
  /**
   * The activity itself fails (a worker-side error): retried by Temporal up to the drain's
   * tries, never an outcome; `type` and `nonRetryable` as an ApplicationFailure's.
   */
  | { kind: 'throw'; message: string; type?: string; nonRetryable?: boolean; ms?: number };

export interface FakePhase {
  runId: string;
  phaseId: string;
  phaseIndex?: number;
  state?: 'FAILED' | 'QUEUED';
  lastFailureReason?: string | null;
  /**
   * What the drain tries of this phase do, in order (one entry per try, the last repeats);
   * default: one quick success.
   */
  script?: Step[];
}

interface PhaseRow {
  ref: PhaseRef;
  script: Step[];
  tries: number;
  tokensUsed: number;
}

export interface Call {
  name: string;
  input: unknown;
  /** The workflow execution's run id the call came from (continue-as-new starts a new one). */
  execRunId: string;
  /** Activity try number. */
  attempt: number;
  atMs: number;
}

/** The session's record of one attempt (what drain_attempts rows give selection). */
interface AttemptRecord {
  sessionId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  success: boolean;
  tokens: number;
}

const key = (runId: string, phaseId: string) => JSON.stringify([runId, phaseId]);
const DATABASE = { id: '00000000-0000-4000-8000-000000000001', name: 'fake-backlog' };
const COMMIT = 'c0ffee0000000000000000000000000000000000';

export class FakeBacklog {
  readonly phases = new Map<string, PhaseRow>();
  readonly calls: Call[] = [];
  readonly records: AttemptRecord[] = [];
  /** runId → session holding its lease. */
  readonly leases = new Map<string, string>();
  /** Phases in flight now, overall and per run; and the maxima seen. */
  inFlight = 0;
  readonly inFlightByRun = new Map<string, number>();
  maxInFlight = 0;
  maxInFlightOfOneRun = 0;
  /** Drains that ended by their activity's cancellation. */
  cancelledDrains = 0;
  /** Selections that picked nothing because the session's spend reached its token budget. */
  budgetRefusals = 0;
  /** The workspace's commit: what ensureBaseline captures and drains report (a step may move it). */
  commit = COMMIT;
  /** Set: prepareSession refuses the session (non-retryable), as for a reused session id. */
  refusePrepare: { message: string; type: string } | null = null;
  /** Spend of drains still running, by key: what a records read would see mid-try. */
  private readonly live = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  constructor(phases: FakePhase[]) {
    let dbId = 0;
    for (const p of phases) {
      const state = p.state ?? 'FAILED';
      this.phases.set(key(p.runId, p.phaseId), {
        ref: {
          runId: p.runId,
          phaseId: p.phaseId,
          phaseIndex: p.phaseIndex ?? 0,
          dbId: ++dbId,
          state,
          lastFailureReason: p.lastFailureReason ?? (state === 'FAILED' ? 'earlier failure' : null),
          category: 'unknown',
        },
        script: p.script?.length ? p.script : [{ kind: 'success', events: 1 }],
        tries: 0,
        tokensUsed: 0,
      });
    }
  }

  /**
   * `runs` runs (`run-0`, …) × `phases` phases each (`p0`, …, phase index as the number), all
   * with the same script or the script `script(run, phase)` gives.
   */
  static grid(
    runs: number,
    phases: number,
    script?: Step[] | ((run: number, phase: number) => Step[]),
  ): FakeBacklog {
    const list: FakePhase[] = [];
    for (let r = 0; r < runs; r++)
      for (let p = 0; p < phases; p++)
        list.push({
          runId: `run-${r}`,
          phaseId: `p${p}`,
          phaseIndex: p,
          script: typeof script === 'function' ? script(r, p) : script,
        });
    return new FakeBacklog(list);
  }

  /** Another session holds this run's lease (selection passes it over and waits). */
  leaseToOther(runId: string, sessionId = 'another-session'): void {
    this.leases.set(runId, sessionId);
  }

  callsOf(name: string): Call[] {
    return this.calls.filter((c) => c.name === name);
  }

  inputsOf<T>(name: string): T[] {
    return this.callsOf(name).map((c) => c.input as T);
  }

  stateOf(runId: string, phaseId: string): string {
    return this.phases.get(key(runId, phaseId))!.ref.state;
  }

  /** Resolves once `pred` holds (checked after every call the fake records), or rejects after `ms`. */
  until(pred: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.listeners.add(check);
    });
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  private record(name: string, input: unknown): void {
    const info = Context.current().info;
    this.calls.push({
      name,
      input,
      execRunId: info.workflowExecution?.runId ?? '',
      attempt: info.attempt,
      atMs: Date.now(),
    });
    this.changed();
  }

  private recordsOf(sessionId: string): AttemptRecord[] {
    return this.records.filter((r) => r.sessionId === sessionId);
  }

  /** The session's spend as a records read sees it: finished attempts plus running drains. */
  spentOf(sessionId: string): number {
    const finished = this.recordsOf(sessionId).reduce((n, r) => n + r.tokens, 0);
    return finished + [...this.live.values()].reduce((n, t) => n + t, 0);
  }

  /** The activities, bound to this backlog (pass as the worker's `activities`). */
  activities(): DrainActivities {
    return (this.acts ??= this.makeActivities());
  }

  private acts: DrainActivities | undefined;

  private makeActivities(): DrainActivities {
    const acts: DrainActivities = {
      prepareSession: async (o) => {
        this.record('prepareSession', o);
        if (this.refusePrepare)
          throw ApplicationFailure.nonRetryable(this.refusePrepare.message, this.refusePrepare.type);
        const prepared: PreparedSession = {
          workspace: '/nonexistent/fake-workspace',
          executor: 'fake-executor {run_id} {phase_id}',
          apiUrl: null,
          searchAttributes: false,
          db: {
            url: 'fake://backlog',
            runs: new Set([...this.phases.values()].map((p) => p.ref.runId)).size,
            phases: this.phases.size,
          },
          database: DATABASE,
          chainId: o.chainId,
          sessionJson: `/nonexistent/fake-workspace/${o.sessionId}.json`,
        };
        return prepared;
      },
      selectNextPhase: async (p) => {
        this.record('selectNextPhase', p);
        return this.select(p);
      },
      acquireRunLease: async (o) => {
        this.record('acquireRunLease', o);
        const holder = this.leases.get(o.runId);
        if (holder && holder !== o.sessionId) return { acquired: false, sessionId: holder };
        this.leases.set(o.runId, o.sessionId);
        return { acquired: true, sessionId: o.sessionId };
      },
      releaseRunLease: async (o) => {
        this.record('releaseRunLease', o);
        if (this.leases.get(o.runId) === o.sessionId) this.leases.delete(o.runId);
      },
      ensureBaseline: async (o: EnsureBaselineInput): Promise<BaselineResult> => {
        this.record('ensureBaseline', o);
        return {
          commit: this.commit,
          artifactPath: o.baselineCommand ? '/nonexistent/baseline.json' : null,
          captured: Boolean(o.baselineCommand),
          status: o.baselineCommand ? 'ok' : 'none',
          error: null,
          captureId: o.baselineCommand ? 'capture-1' : null,
        };
      },
      drainPhase: async (req) => {
        this.record('drainPhase', req);
        return this.drain(req);
      },
      abandonAttempt: async (o) => {
        this.record('abandonAttempt', o);
        const reason = `abandoned after ${o.triesUsed} tries: ${o.reason}`;
        this.records.push({ ...pick(o.req), success: false, tokens: 0 });
        this.changed();
        return outcome(o.req, {
          abandoned: true,
          errorMessage: reason,
          finalState: 'FAILED',
          baselineCommit: this.commit,
        });
      },
      finishPhase: async (o) => {
        this.record('finishPhase', o);
        if (this.leases.get(o.runId) === o.sessionId) this.leases.delete(o.runId);
      },
      writeSessionReport: async (r: SessionReport) => {
        this.record('writeSessionReport', r);
        return `/nonexistent/fake-workspace/${r.sessionId}.json`;
      },
      countPhasesStillFailed: async (o) => {
        this.record('countPhasesStillFailed', o);
        const last = new Map<string, boolean>();
        for (const r of this.recordsOf(o.sessionId)) last.set(key(r.runId, r.phaseId), r.success);
        return [...last.values()].filter((ok) => !ok).length;
      },
    };
    return acts;
  }

  private select(p: SelectParams): SelectResult {
    if (p.fromRecords && p.tokenBudget) {
      const spent = Math.max(p.tokenBudget.folded, this.spentOf(p.sessionId));
      if (spent >= p.tokenBudget.maxTokens) {
        this.budgetRefusals += 1;
        this.changed();
        return { pick: null, passedOver: [], waitingForLease: false, tokenBudgetSpent: spent };
      }
    }
    const mine = this.recordsOf(p.sessionId);
    const attempts = new Map<string, number>();
    const done = new Set<string>();
    for (const r of mine) {
      const k = key(r.runId, r.phaseId);
      attempts.set(k, Math.max(attempts.get(k) ?? 0, r.attempt));
      if (r.success) done.add(k);
    }
    // Dry runs carry their attempts and done phases in the state instead.
    p.attemptedRuns.forEach((run, i) => {
      const k = key(run, p.attemptedPhases[i]);
      attempts.set(k, Math.max(attempts.get(k) ?? 0, p.attemptCounts[i]));
    });
    p.doneRuns.forEach((run, i) => done.add(key(run, p.donePhases[i])));
    const states = p.mode === 'failed' ? ['FAILED'] : p.mode === 'queued' ? ['QUEUED'] : ['QUEUED', 'FAILED'];
    const busy = new Set(p.busyRuns ?? []);
    const group = (runId: string) =>
      p.deprioritizedRuns.includes(runId)
        ? 3
        : !p.sampledRuns.includes(runId)
          ? 0
          : p.promisingRuns.includes(runId)
            ? 1
            : 2;
    const candidates = [...this.phases.values()]
      .map((row) => row.ref)
      .filter((r) => states.includes(r.state) && !busy.has(r.runId))
      .filter((r) => p.runId == null || r.runId === p.runId)
      .sort(
        (a, b) =>
          states.indexOf(a.state) - states.indexOf(b.state) ||
          Number(attempts.has(key(a.runId, a.phaseId))) - Number(attempts.has(key(b.runId, b.phaseId))) ||
          group(a.runId) - group(b.runId) ||
          a.phaseIndex - b.phaseIndex ||
          a.dbId - b.dbId,
      );
    const passedOver: SkipRecord[] = [];
    let waitingForLease = false;
    for (const r of candidates) {
      const k = key(r.runId, r.phaseId);
      const blocked = p.blockedRuns.indexOf(r.runId);
      const holder = this.leases.get(r.runId);
      let reason: string | null = null;
      if (done.has(k)) reason = 'already succeeded this session';
      else if (blocked >= 0) reason = p.blockedReasons[blocked];
      else if ((attempts.get(k) ?? 0) >= p.maxAttemptsPerPhase)
        reason = `max attempts per phase reached (${p.maxAttemptsPerPhase})`;
      else if (holder && holder !== p.sessionId) {
        reason = `run ${r.runId} is being drained by session ${holder}`;
        waitingForLease = true;
      }
      if (reason) {
        if (passedOver.length < p.maxSkipsReported)
          passedOver.push({ runId: r.runId, phaseId: r.phaseId, reason });
        continue;
      }
      const leased = p.takeLease ? true : undefined;
      if (leased) this.leases.set(r.runId, p.sessionId);
      return {
        pick: { ...r, attemptsSoFar: attempts.get(k) ?? 0 },
        passedOver,
        waitingForLease,
        ...(leased ? { leased } : {}),
      };
    }
    return { pick: null, passedOver, waitingForLease };
  }

  private async drain(req: DrainRequest): Promise<AttemptOutcome> {
    const row = this.phases.get(key(req.runId, req.phaseId));
    if (!row) throw ApplicationFailure.nonRetryable(`no such phase ${req.runId}:${req.phaseId}`);
    const step = row.script[Math.min(row.tries, row.script.length - 1)];
    row.tries += 1;
    const k = key(req.runId, req.phaseId);
    const spend = step.kind === 'throw' ? 0 : (step.tokens ?? 0);
    this.inFlight += 1;
    const ofRun = (this.inFlightByRun.get(req.runId) ?? 0) + 1;
    this.inFlightByRun.set(req.runId, ofRun);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.maxInFlightOfOneRun = Math.max(this.maxInFlightOfOneRun, ofRun);
    // The executor spends its tokens as it goes: a records read sees them while it runs.
    this.live.set(k, spend);
    this.changed();
    const started = Date.now();
    const before = row.tokensUsed;
    try {
      await heartbeatingSleep(step.ms ?? 0);
    } catch (err) {
      if (err instanceof CancelledFailure) this.cancelledDrains += 1;
      this.records.push({ ...pick(req), success: false, tokens: spend });
      row.tokensUsed += spend;
      throw err;
    } finally {
      this.live.delete(k);
      this.inFlight -= 1;
      this.inFlightByRun.set(req.runId, (this.inFlightByRun.get(req.runId) ?? 1) - 1);
      this.changed();
    }
    if (step.kind === 'throw') {
      const type = step.type ?? 'FakeInfrastructureError';
      throw step.nonRetryable
        ? ApplicationFailure.nonRetryable(step.message, type)
        : ApplicationFailure.retryable(step.message, type);
    }
    row.tokensUsed += spend;
    const success = step.kind === 'success';
    if (success) row.ref = { ...row.ref, state: 'COMPLETE', lastFailureReason: null };
    if (step.kind === 'failure') row.ref = { ...row.ref, state: 'FAILED', lastFailureReason: step.error };
    // A stopped executor leaves its phase running (no longer a candidate) unless --on-kill fail.
    if (step.kind === 'timeout')
      row.ref = {
        ...row.ref,
        state: req.onKill === 'fail' ? 'FAILED' : 'EXECUTING',
        lastFailureReason:
          req.onKill === 'fail' ? 'timed out (handed back by the drain)' : row.ref.lastFailureReason,
      };
    this.records.push({ ...pick(req), success, tokens: spend });
    this.changed();
    const durationSeconds = (Date.now() - started) / 1000;
    // The workspace is found on another commit (someone committed meanwhile).
    if (step.kind !== 'timeout' && step.commit) this.commit = step.commit;
    const baselineCommit = this.commit;
    const tokens = attemptTokens(
      { phase: before, run: before },
      { phase: row.tokensUsed, run: row.tokensUsed },
    );
    if (step.kind === 'success')
      return outcome(req, {
        success: true,
        finalState: 'COMPLETE',
        returnCode: 0,
        telemetryEvents: step.events ?? 1,
        tokens,
        durationSeconds,
        baselineCommit,
      });
    if (step.kind === 'failure')
      return outcome(req, {
        finalState: 'FAILED',
        returnCode: 1,
        lastFailureReason: step.error,
        errorMessage: step.error,
        telemetryEvents: step.events ?? 0,
        tokens,
        durationSeconds,
        baselineCommit,
      });
    return outcome(req, {
      finalState: 'EXECUTING',
      lastFailureReason: req.onKill === 'fail' ? row.ref.lastFailureReason : null,
      timedOut: true,
      signal: 'SIGTERM',
      errorMessage: `timed out after ${req.timeoutSeconds}s`,
      tokens,
      durationSeconds,
      baselineCommit,
    });
  }
}

const pick = (req: DrainRequest) => ({
  sessionId: req.sessionId,
  runId: req.runId,
  phaseId: req.phaseId,
  attempt: req.attempt,
});

/** Sleeps `ms` in slices, heartbeating, so a cancellation of the activity reaches it. */
async function heartbeatingSleep(ms: number): Promise<void> {
  const ctx = Context.current();
  const end = Date.now() + ms;
  ctx.heartbeat();
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) break;
    await ctx.sleep(Math.min(left, 100));
    ctx.heartbeat();
  }
}

/** A complete AttemptOutcome: a failure with no telemetry unless `o` says otherwise. */
export function outcome(req: DrainRequest, o: Partial<AttemptOutcome>): AttemptOutcome {
  const now = new Date().toISOString();
  return {
    runId: req.runId,
    phaseId: req.phaseId,
    attempt: req.attempt,
    initialState: req.pickedState ?? 'FAILED',
    finalState: null,
    success: false,
    returnCode: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    reconciled: false,
    exitKnown: true,
    durationSeconds: 0,
    stdoutPath: null,
    stderrPath: null,
    stdoutExcerpt: '',
    stderrExcerpt: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    lastFailureReason: null,
    errorMessage: null,
    llmBoundaryHit: false,
    telemetryEvents: 0,
    telemetryGlobalDelta: o.telemetryEvents ?? 0,
    telemetryByTable: null,
    runCountsBefore: null,
    runCountsAfter: null,
    phaseChanged: true,
    interruptedTries: 0,
    processesReaped: 0,
    lost: false,
    abandoned: false,
    startedAt: now,
    finishedAt: now,
    workerIdentity: 'fake-worker',
    baselineCommit: req.baseline?.commit ?? COMMIT,
    ...o,
  };
}
