/**
 * Workflow tests on the time-skipping environment: the Java test server found like the e2e
 * tests find it (src/runtime/binaries.ts), the workflow bundle built once per test file (and
 * kept by content, src/runtime/workflow-bundle.ts), and one worker per file whose activities
 * hand each call to the fake backlog (test/helpers/fake-activities.ts) of the session that
 * made it, so tests share the worker (creating one takes a second or more) but not a backlog.
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { DrainActivities } from '../../activities/index.js';
import { findTestServer } from '../../src/runtime/binaries.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { cachedWorkflowBundle, QUIET_BUNDLE_LOGGER } from '../../src/runtime/workflow-bundle.js';
import type { FakeBacklog } from './fake-activities.js';

let bundle: Promise<WorkflowBundle> | undefined;
/**
 * The workflow bundle of this process (one build, or the kept one, per test file): the one
 * src/worker.ts bundles (its WORKFLOWS_PATH, so both share the kept bundle), without loading
 * the worker module and all the activities behind it.
 */
export const workflowBundle = () =>
  (bundle ??= cachedWorkflowBundle(path.join(projectRoot(), 'workflows', 'index.ts'), QUIET_BUNDLE_LOGGER));

/** Every activity the worker registers (a Record, so a new activity missing here fails tsc). */
const ACTIVITIES: Record<keyof DrainActivities, true> = {
  prepareSession: true,
  selectNextPhase: true,
  acquireRunLease: true,
  releaseRunLease: true,
  ensureBaseline: true,
  drainPhase: true,
  abandonAttempt: true,
  finishPhase: true,
  finishPhaseAndPick: true,
  writeSessionReport: true,
  countPhasesStillFailed: true,
};
const ACTIVITY_NAMES = Object.keys(ACTIVITIES) as Array<keyof DrainActivities>;

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  /** Starts batchDrain with `input` on the file's worker, its activities served by `fake`. */
  start(fake: FakeBacklog, input: Record<string, unknown>, workflowId?: string): Promise<WorkflowHandle>;
  teardown(): Promise<void>;
}

let runtimeInstalled = false;
let sessions = 0;

/** The time-skipping server, the bundle and a running worker for one test file. */
export async function startWorkflowTests(): Promise<WorkflowTestEnv> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    // The test server is older than core expects (a warning about heartbeat details each run).
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'WARN' }, forward: {} } },
    });
  }
  const [env, code] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: findTestServer() } },
    }),
    workflowBundle(),
  ]);
  const fakes = new Map<string, FakeBacklog>();
  const fakeOf = (): DrainActivities => {
    const id = Context.current().info.workflowExecution?.workflowId ?? '';
    const fake = fakes.get(id);
    if (!fake) throw new Error(`no fake backlog for session ${id}`);
    return fake.activities();
  };
  const activities = Object.fromEntries(
    ACTIVITY_NAMES.map((name) => [
      name,
      (input: never) => (fakeOf()[name] as (i: never) => Promise<unknown>)(input),
    ]),
  );
  const taskQueue = `workflow-tests-${process.pid}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: code,
    activities,
    // Heartbeats (and so cancellations) reach the server quickly.
    maxHeartbeatThrottleInterval: '200ms',
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  return {
    env,
    async start(fake, input, workflowId = `session-${process.pid}-${++sessions}`) {
      fakes.set(workflowId, fake);
      return env.client.workflow.start('batchDrain', { taskQueue, workflowId, args: [input] });
    },
    async teardown() {
      worker.shutdown();
      await running.catch(() => {});
      await env.teardown();
    },
  };
}
