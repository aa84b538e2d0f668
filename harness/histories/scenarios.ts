/**
 * The drain sessions recorded for replay tests (scripts/record-histories.ts records them,
 * test/e2e/replay.test.ts records them again and replays both), each run on the test services
 * (harness/env.ts) against this checkout's workflow code.
 */
import type {
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId as StartedHandle,
} from '@temporalio/client';
import { eventually, type TestEnv } from '../env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { secretValuesOf } from '../../src/domain/redact.js';
import type { DrainWorker } from '../../src/worker.js';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
  type Progress,
} from '../../src/domain/messages.js';
import { scrubSecrets, type RecordedRun } from './fixture.js';
import { historyToProtoJson } from './proto-json.js';

interface ScenarioContext {
  env: TestEnv;
  /** Prefix of every workflow id and run id the scenario creates (several recordings share one env). */
  prefix: string;
  /** Starts the in-process worker unless it runs. */
  ensureWorker(): Promise<void>;
  /** Stops the in-process worker (for scenarios that need a worker of their own). */
  stopWorker(): Promise<void>;
}

interface Scenario {
  name: string;
  description: string;
  /** Runs the session to its end; returns the handle whose chain is recorded. */
  run(ctx: ScenarioContext): Promise<StartedHandle>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const progressOf = (h: WorkflowHandle): Promise<Progress> => h.query(progressQuery);

/** Waits for the session's end; a failed or cancelled session is an expected end here. */
async function ended(h: StartedHandle): Promise<StartedHandle> {
  await h.result().catch(() => {});
  return h;
}

async function startSession(ctx: ScenarioContext, name: string, input: object): Promise<StartedHandle> {
  return ctx.env.client.workflow.start('batchDrain', {
    taskQueue: ctx.env.taskQueue,
    workflowId: `${ctx.prefix}${name}`,
    args: [input],
  });
}

async function seed(ctx: ScenarioContext, run: string, phases: Omit<PhaseSeed, 'runId'>[]): Promise<string> {
  const runId = `${ctx.prefix}${run}`;
  await seedPhases(
    ctx.env.pool,
    phases.map((p) => ({ runId, ...p })),
  );
  return runId;
}

export const SCENARIOS: Scenario[] = [
  {
    // First: it needs to be the only worker polling when the session starts.
    name: 'worker-killed',
    description:
      'the worker running the drain is killed with SIGKILL mid-phase; after the heartbeat timeout an in-process worker retries the drain (redrain or reconcile) and finishes the session',
    async run(ctx) {
      await ctx.stopWorker();
      const runId = await seed(ctx, 'kill-run', [
        { phaseId: 'slow', sim: { scenario: 'complete', events: 2, seconds: 6 } },
      ]);
      const child = ctx.env.spawnWorker();
      const h = await startSession(ctx, 'worker-killed', {
        batchSize: 1,
        runId,
        phaseTimeoutSeconds: 120,
        heartbeatTimeoutSeconds: 4,
        killGraceSeconds: 1,
      });
      await eventually(
        async () =>
          (await listSessionAttempts(ctx.env.pool, h.workflowId)).some(
            (r) => r.status === 'running' && r.pid,
          ),
        90_000,
        'the executor to start under the spawned worker',
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await ctx.ensureWorker();
      return ended(h);
    },
  },
  {
    name: 'plain',
    description: 'four phases of one run: two successes, a failure with a DB reason, a crash (exit 3)',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'plain-run', [
        { phaseId: 'ok-1', sim: { scenario: 'complete', events: 2, seconds: 0.1 } },
        { phaseId: 'bad', lastFailureReason: 'patch apply failed', sim: { scenario: 'fail' } },
        { phaseId: 'crash', sim: { scenario: 'crash', exitCode: 3 } },
        { phaseId: 'ok-2', sim: { scenario: 'complete', events: 1, seconds: 0.1 } },
      ]);
      return ended(await startSession(ctx, 'plain', { batchSize: 4, runId, maxAttemptsPerPhase: 1 }));
    },
  },
  {
    name: 'dry-run',
    description: 'a dry run over three phases: selection only, nothing drained, no session JSON',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'dry-run', [
        { phaseId: 'a', sim: { scenario: 'complete' } },
        { phaseId: 'b', lastFailureReason: 'deliverable missing: src/x.py', sim: { scenario: 'fail' } },
        { phaseId: 'c', sim: { scenario: 'complete' } },
      ]);
      return ended(await startSession(ctx, 'dry-run', { batchSize: 3, runId, dryRun: true }));
    },
  },
  {
    name: 'continue-as-new',
    description:
      'forty instant phases with continueAsNewAfterEvents 200: the session continues as new, carrying its state',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(
        ctx,
        'can-run',
        Array.from({ length: 40 }, (_, i) => ({
          phaseId: `p${String(i).padStart(2, '0')}`,
          phaseIndex: i,
          sim: { scenario: 'complete', events: 1, seconds: 0.01 },
        })),
      );
      return ended(
        await startSession(ctx, 'continue-as-new', { batchSize: 40, runId, continueAsNewAfterEvents: 200 }),
      );
    },
  },
  {
    name: 'signals',
    description:
      'paused during the first phase (takes effect after it), resumed, then stopped with a reason during the second phase',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(
        ctx,
        'signals-run',
        [0, 1, 2].map((i) => ({ phaseId: `p${i}`, sim: { scenario: 'complete', events: 1, seconds: 1.5 } })),
      );
      const h = await startSession(ctx, 'signals', { batchSize: 3, runId });
      await eventually(async () => (await progressOf(h)).current, 60_000, 'the first phase to start');
      await h.signal(pauseSignal);
      await eventually(
        async () => {
          const p = await progressOf(h);
          return p.paused && p.processed === 1 && !p.current;
        },
        60_000,
        'the session to pause after its first phase',
      );
      await sleep(1500);
      await h.signal(resumeSignal);
      await eventually(
        async () => {
          const p = await progressOf(h);
          return p.processed === 1 && p.current;
        },
        60_000,
        'the second phase to start',
      );
      await h.signal(stopSignal, 'recorded for replay: stop after the second phase');
      return ended(h);
    },
  },
  {
    name: 'cancelled',
    description:
      'a success, then a hanging phase; the session is cancelled while it hangs (executor killed, lease released, session JSON written)',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'cancel-run', [
        { phaseId: 'ok', phaseIndex: 0, sim: { scenario: 'complete', events: 1, seconds: 0.1 } },
        { phaseId: 'hang', phaseIndex: 1, sim: { scenario: 'hang' } },
      ]);
      const h = await startSession(ctx, 'cancelled', {
        batchSize: 2,
        runId,
        phaseTimeoutSeconds: 120,
        killGraceSeconds: 1,
      });
      await eventually(
        async () => (await progressOf(h)).current?.phaseId === 'hang',
        60_000,
        'the hanging phase to start',
      );
      await eventually(
        async () =>
          (await listSessionAttempts(ctx.env.pool, h.workflowId)).some(
            (r) => r.phase_id === 'hang' && r.status === 'running' && r.pid,
          ),
        60_000,
        'the hanging executor to run',
      );
      await h.cancel();
      return ended(h);
    },
  },
  {
    name: 'lease-wait',
    description:
      'a session whose run is leased by another running session: it waits (5 s timers) until that session releases the lease, then drains what is left',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'lease-run', [
        { phaseId: 'held', phaseIndex: 0, sim: { scenario: 'complete', events: 1, seconds: 4 } },
        { phaseId: 'after', phaseIndex: 1, sim: { scenario: 'complete', events: 1, seconds: 0.1 } },
      ]);
      const holder = await startSession(ctx, 'lease-holder', { batchSize: 1, runId });
      await eventually(async () => (await progressOf(holder)).current, 60_000, 'the holder to drain');
      const waiter = await startSession(ctx, 'lease-wait', { batchSize: 1, runId });
      await ended(holder);
      return ended(waiter);
    },
  },
  {
    name: 'refused-reused-id',
    description:
      'a second session started with the id of a finished one: prepareSession refuses it (SessionIdReused) and the workflow fails at once',
    async run(ctx) {
      await ctx.ensureWorker();
      const phases = [{ phaseId: 'ok', sim: { scenario: 'complete', events: 1, seconds: 0.1 } }];
      const runId = await seed(ctx, 'reuse-run', phases);
      await ended(await startSession(ctx, 'refused-reused-id', { batchSize: 1, runId }));
      await seed(ctx, 'reuse-run', phases); // drainable again
      // The default id reuse policy (ALLOW_DUPLICATE) lets the closed id start again.
      return ended(await startSession(ctx, 'refused-reused-id', { batchSize: 1, runId }));
    },
  },
  {
    name: 'slots',
    description:
      'three slots (concurrency 3) drain three runs × two QUEUED phases in queued mode: picks take turns, phases of different runs at once, one run at a time',
    async run(ctx) {
      await ctx.ensureWorker();
      for (const run of ['slots-a', 'slots-b', 'slots-c']) {
        await seed(
          ctx,
          run,
          [0, 1].map((i) => ({
            phaseId: `q${i}`,
            phaseIndex: i,
            state: 'QUEUED',
            sim: { scenario: 'complete', events: 1, seconds: 0.5 },
          })),
        );
      }
      // Queued mode: no other scenario leaves QUEUED phases, so only these are drained.
      return ended(await startSession(ctx, 'slots', { batchSize: 6, concurrency: 3, mode: 'queued' }));
    },
  },
];

/** Every run of a session's chain, from the handle's first run, following continue-as-new. */
export async function chainHistories(env: TestEnv, h: StartedHandle): Promise<RecordedRun[]> {
  const out: RecordedRun[] = [];
  let runId: string | undefined = h.firstExecutionRunId;
  while (runId) {
    const raw = await env.client.workflow.getHandle(h.workflowId, runId).fetchHistory();
    const history = historyToProtoJson(raw);
    out.push({ workflowId: h.workflowId, runId, history });
    const last = history.events[history.events.length - 1] as {
      workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string };
    };
    runId = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return out;
}
/** A context on `env` with a lazily started in-process worker; call `close()` when done. */
export function scenarioContext(env: TestEnv, prefix: string): ScenarioContext & { close(): Promise<void> } {
  let worker: DrainWorker | null = null;
  const stopWorker = async () => {
    const w = worker;
    worker = null;
    await w?.shutdown();
  };
  return {
    env,
    prefix,
    async ensureWorker() {
      worker ??= await env.startWorker();
    },
    stopWorker,
    close: stopWorker,
  };
}

/** Runs one scenario and returns its histories, scrubbed of the database password. */
export async function recordScenario(ctx: ScenarioContext, scenario: Scenario): Promise<RecordedRun[]> {
  const h = await scenario.run(ctx);
  const runs = await chainHistories(ctx.env, h);
  return scrubSecrets(runs, secretValuesOf(ctx.env.databaseUrl)).value;
}
