/**
 * batchDrain across failures and executions, on the time-skipping environment with fake
 * activities (test/helpers/fake-activities.ts): a drain whose tries run out is recorded
 * abandoned and the session goes on; a session that continues-as-new carries its totals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FinishPhaseInput, SessionReport } from '../../activities/session.js';
import type { DrainRequest } from '../../activities/drain-env.js';
import type { SessionResult } from '../../src/domain/messages.js';
import type { SelectParams } from '../../src/domain/selection.js';
import { FakeBacklog } from '../helpers/fake-activities.js';
import { startWorkflowTests, type WorkflowTestEnv } from '../helpers/time-skipping.js';

let t: WorkflowTestEnv;
before(async () => {
  t = await startWorkflowTests();
});
after(async () => {
  await t?.teardown();
});

const finalSnapshot = (fake: FakeBacklog) =>
  fake.inputsOf<SessionReport>('writeSessionReport').at(-1)!.snapshot;

interface AbandonInput {
  req: DrainRequest;
  triesUsed: number;
  reason: string;
}

/** The failure a failed session ends with (the cause of WorkflowFailedError). */
async function failureOf(h: { result(): Promise<unknown> }): Promise<ApplicationFailure> {
  const err = await h.result().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, `the session failed: ${String(err)}`);
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return err.cause;
}

describe('refusals', () => {
  test('bad input fails the session at once, naming the field, before any activity', async () => {
    const fake = FakeBacklog.grid(1, 1);
    const f = await failureOf(await t.start(fake, { batchSize: 0 }));
    assert.equal(f.type, 'InvalidDrainInput');
    assert.equal(f.nonRetryable, true);
    assert.deepEqual(f.details, ['batchSize']);
    assert.equal(fake.calls.length, 0);
  });

  test('a refusal of prepareSession fails the session as itself, not as an activity error', async () => {
    const fake = FakeBacklog.grid(1, 1);
    fake.refusePrepare = {
      message: 'session id "x" was already used by an earlier session',
      type: 'SessionIdReused',
    };
    const f = await failureOf(await t.start(fake, {}));
    assert.equal(f.type, 'SessionIdReused');
    assert.match(f.message, /already used/);
    assert.equal(fake.callsOf('prepareSession').length, 1, 'not retried');
    assert.equal(fake.callsOf('selectNextPhase').length, 0);
  });
});

test('a dry run plans every phase once, drains nothing and writes no session JSON', async () => {
  const fake = FakeBacklog.grid(2, 3);
  const r = (await (
    await t.start(fake, { dryRun: true, concurrency: 3, batchSize: 100 })
  ).result()) as SessionResult;
  assert.equal(r.planned.length, 6);
  assert.equal(new Set(r.planned.map((p) => `${p.runId}:${p.phaseId}`)).size, 6);
  assert.equal(r.stopReason, 'no eligible phases left');
  assert.equal(r.sessionJson, null);
  for (const name of ['drainPhase', 'finishPhase', 'writeSessionReport', 'countPhasesStillFailed'])
    assert.equal(fake.callsOf(name).length, 0, name);
  const selects = fake.inputsOf<SelectParams>('selectNextPhase');
  assert.ok(
    selects.every((s) => s.fromRecords === false && !s.takeLease),
    'a plan leases nothing',
  );
  assert.deepEqual(selects.at(-1)!.doneRuns.length, 6, 'the plan is carried in the state');
});

test('a finished phase carries the running report only when the session JSON is due', async () => {
  // The cadence (src/domain/json-cadence.ts): a rewrite once the results since the last reach
  // 1/16 of those held: every phase up to 31 results, then every 2nd (32–47), every 3rd (48–63).
  const phases = 50;
  const fake = FakeBacklog.grid(10, 5, [{ kind: 'failure', error: 'E' }]);
  const r = (await (
    await t.start(fake, { batchSize: 100, maxAttemptsPerPhase: 1, runId: null })
  ).result()) as SessionResult;
  assert.equal(r.processed, phases);
  const finishes = fake.inputsOf<FinishPhaseInput>('finishPhase');
  assert.equal(finishes.length, phases);
  const withReport = finishes.flatMap((f, i) => (f.report ? [i + 1] : []));
  const every = (from: number, to: number, step: number) =>
    Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);
  assert.deepEqual(withReport, [...every(1, 31, 1), ...every(33, 47, 2), 50]);
  const reports = finishes.flatMap((f) => (f.report ? [f] : []));
  assert.ok(
    reports.every(
      (f) => f.reportDue === true && f.report!.snapshot.processed === withReport[reports.indexOf(f)],
    ),
  );
  // Numbered in order, the final one last: the writer keeps the newest.
  const seqs = [
    ...reports.map((f) => f.report!.seq),
    fake.inputsOf<SessionReport>('writeSessionReport')[0].seq,
  ];
  assert.deepEqual(
    [...seqs].sort((a, b) => a - b),
    seqs,
  );
  assert.equal(new Set(seqs).size, seqs.length);
});

test('a failed phase is tried again up to maxAttemptsPerPhase, numbered from the records', async () => {
  const fake = new FakeBacklog([
    {
      runId: 'r',
      phaseId: 'flaky',
      script: [
        { kind: 'failure', error: 'E1' },
        { kind: 'success', events: 1 },
      ],
    },
    { runId: 'r', phaseId: 'hopeless', phaseIndex: 1, script: [{ kind: 'failure', error: 'E2' }] },
  ]);
  const r = (await (
    await t.start(fake, { maxAttemptsPerPhase: 3, batchSize: 100 })
  ).result()) as SessionResult;
  const tries = fake.inputsOf<DrainRequest>('drainPhase').map((d) => `${d.phaseId}#${d.attempt}`);
  assert.deepEqual(tries, ['flaky#1', 'hopeless#1', 'flaky#2', 'hopeless#2', 'hopeless#3']);
  assert.equal(r.processed, 5);
  assert.equal(r.succeeded, 1);
  assert.equal(r.phasesStillFailed, 1, 'only the hopeless phase ended failed');
  assert.ok(r.skipped.some((s) => s.phaseId === 'hopeless' && /max attempts/.test(s.reason)));
});

test('the baseline is ensured once per commit: again only when a drain finds the workspace moved', async () => {
  const fake = FakeBacklog.grid(1, 5, (_run, phase) => [
    { kind: 'success', events: 1, ...(phase === 2 ? { commit: 'b0b0b0' } : {}) },
  ]);
  const r = (await (
    await t.start(fake, { baselineCommand: 'make baseline', batchSize: 100 })
  ).result()) as SessionResult;
  assert.equal(r.processed, 5);
  const ensured = fake.callsOf('ensureBaseline');
  assert.equal(ensured.length, 2, 'at the start, and after the drain that found a new commit');
  const drains = fake.inputsOf<DrainRequest>('drainPhase');
  assert.deepEqual(
    drains.map((d) => [d.phaseId, d.baselineInDrain === true, d.baseline?.commit ?? null]),
    [
      ['p0', false, 'c0ffee0000000000000000000000000000000000'],
      ['p1', true, 'c0ffee0000000000000000000000000000000000'],
      ['p2', true, 'c0ffee0000000000000000000000000000000000'],
      ['p3', false, 'b0b0b0'],
      ['p4', true, 'b0b0b0'],
    ],
  );
});

describe('retries running out', () => {
  test('a drain failing every try is recorded abandoned and the session goes on', async () => {
    const fake = new FakeBacklog([
      {
        runId: 'broken',
        phaseId: 'p0',
        script: [{ kind: 'throw', message: 'worker lost its database connection' }],
      },
      { runId: 'fine', phaseId: 'p0', script: [{ kind: 'success', events: 3 }] },
      { runId: 'fine', phaseId: 'p1', phaseIndex: 1, script: [{ kind: 'success', events: 3 }] },
    ]);
    const h = await t.start(fake, { maxDrainTries: 3, maxAttemptsPerPhase: 2, batchSize: 100 });
    const r = (await h.result()) as SessionResult;

    const broken = fake.callsOf('drainPhase').filter((c) => (c.input as DrainRequest).runId === 'broken');
    // Two attempts of the phase (maxAttemptsPerPhase), each of three tries (maxDrainTries).
    assert.deepEqual(
      broken.map((c) => [(c.input as DrainRequest).attempt, c.attempt]),
      [
        [1, 1],
        [1, 2],
        [1, 3],
        [2, 1],
        [2, 2],
        [2, 3],
      ],
    );
    const abandons = fake.inputsOf<AbandonInput>('abandonAttempt');
    assert.deepEqual(
      abandons.map((a) => [a.req.runId, a.req.attempt, a.triesUsed, a.reason]),
      [
        ['broken', 1, 3, 'worker lost its database connection'],
        ['broken', 2, 3, 'worker lost its database connection'],
      ],
    );
    assert.equal(r.processed, 4);
    assert.equal(r.succeeded, 2, 'the other phases drained');
    assert.equal(r.failed, 2);
    assert.equal(r.telemetryEvents, 6);
    assert.equal(r.phasesStillFailed, 1);
    assert.equal(r.stopReason, 'no eligible phases left');
    const snap = finalSnapshot(fake);
    assert.equal(snap.abandoned, 2);
    assert.deepEqual(snap.stoppedFingerprints, [], 'an abandoned attempt teaches nothing');
    assert.equal(fake.callsOf('finishPhase').length, 4, 'abandoned attempts are recorded like any other');
  });

  test('a non-retryable error of the drain is not abandoned: it fails the session', async () => {
    const message = 'executor template: unknown placeholder {nope}';
    const fake = FakeBacklog.grid(1, 2, [
      { kind: 'throw', message, type: 'SessionConfigError', nonRetryable: true },
    ]);
    const h = await t.start(fake, { batchSize: 100 });
    const err = await h.result().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = (err.cause as { cause?: unknown } | undefined)?.cause;
    assert.ok(cause instanceof ApplicationFailure && cause.type === 'SessionConfigError', String(cause));
    assert.equal(fake.callsOf('drainPhase').length, 1, 'not tried again');
    assert.equal(fake.callsOf('abandonAttempt').length, 0);
  });
});

describe('continue-as-new', () => {
  test('a session continuing as new carries its totals into the result', async () => {
    const phases = 40;
    const fake = FakeBacklog.grid(phases / 2, 2, [{ kind: 'success', events: 2, tokens: 10 }]);
    const h = await t.start(fake, { continueAsNewAfterEvents: 200, batchSize: 100, maxTokens: 1_000_000 });
    const r = (await h.result()) as SessionResult;

    // Executions in order of their first call (every execution selects at least once).
    const runs = [...new Set(fake.calls.map((c) => c.execRunId))];
    assert.ok(runs.length >= 2, `the session continued as new (${runs.length} executions)`);
    assert.equal(r.processed, phases);
    assert.equal(r.succeeded, phases);
    assert.equal(r.telemetryEvents, 2 * phases);
    assert.equal(r.stopReason, 'no eligible phases left');
    assert.equal(fake.callsOf('drainPhase').length, phases, 'no phase drained twice');
    assert.equal(fake.callsOf('prepareSession').length, 1, 'the prepared session was carried');
    const snap = finalSnapshot(fake);
    assert.equal(snap.generation, runs.length - 1);
    assert.equal(snap.tokensSpent, 10 * phases);
    const history = await h.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.ok(started?.continuedExecutionRunId, 'the last execution was continued from another');
    // Each execution starts from the spend of every phase drained before it (the folded state).
    let drainedBefore = 0;
    for (const run of runs) {
      const first = fake.callsOf('selectNextPhase').find((c) => c.execRunId === run)!;
      assert.equal((first.input as SelectParams).tokenBudget?.folded, 10 * drainedBefore);
      drainedBefore += fake.callsOf('drainPhase').filter((c) => c.execRunId === run).length;
    }
  });

  test('three slots continuing as new: the hand-over waits for the phases in flight, totals carry', async () => {
    const phases = 36;
    const fake = FakeBacklog.grid(phases / 3, 3, [{ kind: 'success', events: 1, ms: 30 }]);
    const h = await t.start(fake, { continueAsNewAfterEvents: 200, concurrency: 3, batchSize: 100 });
    const r = (await h.result()) as SessionResult;
    const runs = new Set(fake.calls.map((c) => c.execRunId));
    assert.ok(runs.size >= 2, `the session continued as new (${runs.size} executions)`);
    assert.equal(r.processed, phases);
    assert.equal(r.succeeded, phases);
    assert.equal(fake.callsOf('drainPhase').length, phases);
    assert.equal(fake.maxInFlightOfOneRun, 1);
    // Each execution finished every phase it started: no drain crosses a hand-over.
    const finishes = fake.callsOf('finishPhase');
    for (const d of fake.callsOf('drainPhase')) {
      const req = d.input as DrainRequest;
      const done = finishes.find(
        (f) =>
          (f.input as DrainRequest).runId === req.runId && (f.input as DrainRequest).phaseId === req.phaseId,
      );
      assert.equal(done?.execRunId, d.execRunId, `${req.runId}:${req.phaseId} finished where it started`);
    }
    assert.equal(fake.leases.size, 0);
  });
});
