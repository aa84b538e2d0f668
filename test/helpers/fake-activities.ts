/**
 * An in-memory fake backlog whose activities stand in for the real ones (activities/index.ts)
 * in workflow tests on the time-skipping environment: no database, no executor, no files.
 *
 * - selectNextPhase picks as the selection statement does in outline (test/helpers/fake-select.ts),
 *   the session's attempts and done phases from the fake's own records (the workflow state
 *   carries none, as with `fromRecords`), and refuses once recorded + live spend reaches the
 *   token budget.
 * - drainPhase acts out a script per phase (test/helpers/fake-steps.ts: success, failure with an
 *   error text, timeout, token spend, or an error thrown by the activity) after a scripted
 *   duration, heartbeating so that cancellation reaches it; it records how many phases (and
 *   phases of one run) are in flight at once.
 * - Every other activity records its calls and returns a valid shape.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { DrainActivities } from '../../activities/index.js';
import type { BaselineResult, EnsureBaselineInput } from '../../activities/baseline.js';
import type { DrainRequest } from '../../activities/drain-env.js';
import type { PreparedSession } from '../../activities/session.js';
import type { SelectResult } from '../../src/db/select-shared.js';
import type { SelectParams } from '../../src/domain/selection.js';
import { attemptTokens } from '../../src/domain/tokens.js';
import type { AttemptOutcome, PhaseRef } from '../../src/domain/types.js';
import { fakeSelect, phaseKey as key } from './fake-select.js';
import { withMorePicks } from '../../activities/select.js';
import { outcome, outcomeOfStep, phaseAfter, type Step } from './fake-steps.js';

export type { Step } from './fake-steps.js';

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
  /** For each drain in start order: how many others were in flight when it started. */
  readonly othersAtStart: number[] = [];
  /** Drains that ended by their activity's cancellation. */
  cancelledDrains = 0;
  /** How long recording a phase (finishPhase) takes (ms). */
  finishMs = 0;
  /** How long a selection takes before it picks (ms), and how many ran at once at most. */
  selectMs = 0;
  maxSelectsInFlight = 0;
  private selectsInFlight = 0;
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
        return this.prepared(o);
      },
      selectNextPhase: async (p) => {
        this.record('selectNextPhase', p);
        this.maxSelectsInFlight = Math.max(this.maxSelectsInFlight, ++this.selectsInFlight);
        try {
          if (this.selectMs > 0) await new Promise((r) => setTimeout(r, this.selectMs));
          // Further picks for free slots as the real activity makes them (the same loop).
          return withMorePicks(async (q) => this.select(q), p, this.select(p));
        } finally {
          this.selectsInFlight -= 1;
        }
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
        return this.baseline(o);
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
        return outcome(o.req, { abandoned: true, errorMessage: reason, baselineCommit: this.commit });
      },
      finishPhase: async (o) => {
        this.record('finishPhase', o);
        if (this.finishMs > 0) await new Promise((r) => setTimeout(r, this.finishMs));
        if (this.leases.get(o.runId) === o.sessionId) this.leases.delete(o.runId);
      },
      // As the real one: finishPhase, then selectNextPhase (each recorded as its own call too).
      finishPhaseAndPick: async (o) => {
        this.record('finishPhaseAndPick', o);
        await acts.finishPhase(o);
        return acts.selectNextPhase(o.next);
      },
      writeSessionReport: async (r) => {
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

  private prepared(o: { sessionId: string; chainId: string }): PreparedSession {
    const runs = new Set([...this.phases.values()].map((p) => p.ref.runId));
    return {
      workspace: '/nonexistent/fake-workspace',
      executor: 'fake-executor {run_id} {phase_id}',
      apiUrl: null,
      searchAttributes: false,
      db: { url: 'fake://backlog', runs: runs.size, phases: this.phases.size },
      database: DATABASE,
      chainId: o.chainId,
      sessionJson: `/nonexistent/fake-workspace/${o.sessionId}.json`,
    };
  }

  private baseline(o: EnsureBaselineInput): BaselineResult {
    const good = Boolean(o.baselineCommand);
    return {
      commit: this.commit,
      artifactPath: good ? '/nonexistent/baseline.json' : null,
      captured: good,
      status: good ? 'ok' : 'none',
      error: null,
      captureId: good ? 'capture-1' : null,
    };
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
    const phases = [...this.phases.values()].map((row) => row.ref);
    return fakeSelect(phases, this.recordsOf(p.sessionId), this.leases, p);
  }

  /** A drain starts or ends: in-flight counts (and their maxima) and the live spend. */
  private inFlightChange(req: DrainRequest, by: 1 | -1, spend = 0): void {
    const ofRun = (this.inFlightByRun.get(req.runId) ?? 0) + by;
    this.inFlightByRun.set(req.runId, ofRun);
    this.inFlight += by;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (by > 0) this.othersAtStart.push(this.inFlight - 1);
    this.maxInFlightOfOneRun = Math.max(this.maxInFlightOfOneRun, ofRun);
    // The executor spends its tokens as it goes: a records read sees them while it runs.
    if (by > 0) this.live.set(key(req.runId, req.phaseId), spend);
    else this.live.delete(key(req.runId, req.phaseId));
    this.changed();
  }

  private async drain(req: DrainRequest): Promise<AttemptOutcome> {
    const row = this.phases.get(key(req.runId, req.phaseId));
    if (!row) throw ApplicationFailure.nonRetryable(`no such phase ${req.runId}:${req.phaseId}`);
    const step = row.script[Math.min(row.tries, row.script.length - 1)];
    row.tries += 1;
    const spend = step.kind === 'throw' ? 0 : (step.tokens ?? 0);
    const started = Date.now();
    const before = row.tokensUsed;
    this.inFlightChange(req, +1, spend);
    try {
      await heartbeatingSleep(step.ms ?? 0);
    } catch (err) {
      if (err instanceof CancelledFailure) this.cancelledDrains += 1;
      this.records.push({ ...pick(req), success: false, tokens: spend });
      row.tokensUsed += spend;
      throw err;
    } finally {
      this.inFlightChange(req, -1);
    }
    if (step.kind === 'throw') {
      const type = step.type ?? 'FakeInfrastructureError';
      throw step.nonRetryable
        ? ApplicationFailure.nonRetryable(step.message, type)
        : ApplicationFailure.retryable(step.message, type);
    }
    row.tokensUsed += spend;
    row.ref = phaseAfter(step, req, row.ref);
    this.records.push({ ...pick(req), success: step.kind === 'success', tokens: spend });
    this.changed();
    // The workspace is found on another commit (someone committed meanwhile).
    if (step.kind !== 'timeout' && step.commit) this.commit = step.commit;
    return outcomeOfStep(step, req, {
      after: row.ref,
      tokens: attemptTokens({ phase: before, run: before }, { phase: row.tokensUsed, run: row.tokensUsed }),
      durationSeconds: (Date.now() - started) / 1000,
      baselineCommit: this.commit,
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
