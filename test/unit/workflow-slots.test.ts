/**
 * batchDrain with several slots, on the time-skipping environment with fake activities
 * (test/helpers/fake-activities.ts): run exclusivity, and pause / stop / cancel while every
 * slot is busy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { SessionReport } from '../../activities/session.js';
import type { DrainRequest } from '../../activities/drain-env.js';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
  type SessionResult,
} from '../../src/domain/messages.js';
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

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('slots', () => {
  test('three slots over four runs of three phases: never two phases of one run at once, all drained', async () => {
    // The first phases take long enough for all three slots to pick theirs on a busy machine.
    const fake = FakeBacklog.grid(4, 3, (run, phase) => [
      { kind: 'success', events: 2, ms: run < 3 && phase === 0 ? 600 : 150 },
    ]);
    const h = await t.start(fake, { concurrency: 3, batchSize: 100 });
    const r = (await h.result()) as SessionResult;

    assert.equal(fake.maxInFlightOfOneRun, 1, 'never two phases of one run in flight');
    assert.equal(fake.maxInFlight, 3, 'all three slots drained at once');
    assert.equal(r.processed, 12);
    assert.equal(r.succeeded, 12);
    assert.equal(r.telemetryEvents, 24);
    assert.equal(r.stopReason, 'no eligible phases left');
    for (const row of fake.phases.values()) assert.equal(row.ref.state, 'COMPLETE');
    const drains = fake.inputsOf<DrainRequest>('drainPhase');
    assert.equal(drains.length, 12, 'each phase drained once');
    assert.deepEqual(new Set(drains.map((d) => d.slot)), new Set([0, 1, 2]));
    // Every pick took its run's lease in the selection, and excluded the runs other slots held.
    const selects = fake.inputsOf<SelectParams>('selectNextPhase');
    assert.ok(selects.every((s) => s.takeLease === true));
    assert.ok(
      selects.some((s) => (s.busyRuns ?? []).length === 2),
      'a pick while two slots were busy',
    );
    assert.equal(fake.callsOf('finishPhase').length, 12);
    assert.equal(fake.leases.size, 0, 'every lease released');
  });

  test('eight slots over eight runs of two phases: the slots pick in parallel, the database keeps them apart', async () => {
    const fake = FakeBacklog.grid(8, 2, [{ kind: 'success', events: 1, ms: 400 }]);
    fake.selectMs = 100; // long enough for picks of one wave to overlap
    fake.finishMs = 100; // a phase's recording takes a moment: the batch is full during it
    const h = await t.start(fake, { concurrency: 8, batchSize: 16 });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 16);
    assert.equal(r.succeeded, 16);
    assert.equal(fake.maxInFlightOfOneRun, 1, 'never two phases of one run in flight');
    assert.equal(fake.maxInFlight, 8, 'all eight slots drained at once');
    assert.equal(fake.inputsOf<DrainRequest>('drainPhase').length, 16, 'each phase drained once');
    const selects = fake.inputsOf<SelectParams>('selectNextPhase');
    // Each slot picks for itself, not waiting for the others' turns: the runs this session
    // leases are other slots' (ownLeasesBusy), so concurrent picks take different runs.
    assert.ok(selects.every((s) => s.ownLeasesBusy === true && s.takeLease === true && !s.extraPicks));
    assert.ok(fake.maxSelectsInFlight >= 4, `${fake.maxSelectsInFlight} selections at once at most`);
    // The second wave starts while the first's last phases are recorded: no slot waits for a
    // whole phase of another (a slot that counted folded phases as running ended with one left).
    const last = fake.othersAtStart.at(-1) ?? 0;
    assert.ok(last >= 4, `the last phase started with ${last} others in flight: ${fake.othersAtStart}`);
    // After its phase a slot records it and makes its next pick in one activity.
    const combined = fake.callsOf('finishPhaseAndPick').length;
    assert.ok(combined >= 8, `${combined} of 16 phases recorded with the next pick`);
    assert.equal(fake.leases.size, 0, 'every lease released');
  });

  test('parallel picks with phases of mixed lengths: each phase drained once, every lease given back', async () => {
    // Run 0's phases end at once, the others' later: slots free up one by one and pick while
    // others are still draining or picking.
    const fake = FakeBacklog.grid(4, 2, (run) => [{ kind: 'success', ms: run === 0 ? 50 : 500 }]);
    const h = await t.start(fake, { concurrency: 4, batchSize: 100 });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 8);
    assert.equal(fake.maxInFlightOfOneRun, 1);
    const drains = fake.inputsOf<DrainRequest>('drainPhase');
    assert.equal(new Set(drains.map((d) => `${d.runId}/${d.phaseId}`)).size, 8, 'each phase drained once');
    assert.equal(fake.leases.size, 0, 'every lease released');
  });

  test('one run with many phases and three slots: its phases drain one after the other', async () => {
    const fake = FakeBacklog.grid(1, 4, [{ kind: 'success', ms: 150 }]);
    const h = await t.start(fake, { concurrency: 3, batchSize: 100 });
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 4);
    assert.equal(fake.maxInFlight, 1, 'the idle slots waited instead of taking the busy run');
    assert.equal(r.stopReason, 'no eligible phases left');
  });
});

describe('pause, stop and cancel while every slot is busy', () => {
  test('pause: the phases in flight finish, no new one starts until resume', async () => {
    const fake = FakeBacklog.grid(3, 2, (_run, phase) => [
      { kind: 'success', events: 1, ms: phase === 0 ? 1000 : 150 },
    ]);
    const h = await t.start(fake, { concurrency: 3, batchSize: 100 });
    await fake.until(() => fake.inFlight === 3, 20_000, 'three slots busy');
    await h.signal(pauseSignal);
    const p = await h.query(progressQuery);
    assert.equal(p.status, 'paused');
    assert.equal(p.slots?.filter(Boolean).length, 3, 'the three phases still show in their slots');
    await fake.until(() => fake.callsOf('finishPhase').length === 3, 20_000, 'three phases finished');
    const drainsWhenPaused = fake.callsOf('drainPhase').length;
    const selectsWhenPaused = fake.callsOf('selectNextPhase').length;
    await delay(1000);
    assert.equal(fake.callsOf('drainPhase').length, drainsWhenPaused, 'no drain starts while paused');
    assert.equal(drainsWhenPaused, 3);
    assert.equal(fake.callsOf('selectNextPhase').length, selectsWhenPaused, 'no pick while paused');
    const idle = await h.query(progressQuery);
    assert.equal(idle.processed, 3);
    assert.equal(idle.slots?.filter(Boolean).length, 0);
    await h.signal(resumeSignal);
    const r = (await h.result()) as SessionResult;
    assert.equal(r.processed, 6);
    assert.equal(r.succeeded, 6);
    assert.equal(fake.maxInFlightOfOneRun, 1);
  });

  test('stop: the phases in flight are finished and recorded, nothing new starts', async () => {
    const fake = FakeBacklog.grid(4, 2, [{ kind: 'success', events: 1, ms: 1000 }]);
    const h = await t.start(fake, { concurrency: 3, batchSize: 100 });
    await fake.until(() => fake.inFlight === 3, 20_000, 'three slots busy');
    await h.signal(stopSignal, 'enough for today');
    assert.equal((await h.query(progressQuery)).status, 'stopping');
    const r = (await h.result()) as SessionResult;
    assert.equal(r.stopReason, 'stop requested by operator: enough for today');
    assert.equal(r.processed, 3, 'the three phases in flight, no more');
    assert.equal(r.succeeded, 3);
    assert.equal(fake.callsOf('drainPhase').length, 3);
    assert.equal(fake.callsOf('finishPhase').length, 3);
    assert.equal(fake.leases.size, 0);
    const last = fake.inputsOf<SessionReport>('writeSessionReport').at(-1)!;
    assert.equal(last.status, 'completed');
    assert.equal(last.snapshot.stopReason, 'stop requested by operator: enough for today');
  });

  test('cancel: the drains in flight are cancelled, their runs released, the session ends cancelled', async () => {
    const fake = FakeBacklog.grid(4, 2, [{ kind: 'success', ms: 60_000 }]);
    const h = await t.start(fake, { concurrency: 3, batchSize: 100 });
    await fake.until(() => fake.inFlight === 3, 20_000, 'three slots busy');
    const busy = new Set(fake.inputsOf<DrainRequest>('drainPhase').map((d) => d.runId));
    assert.equal(busy.size, 3);
    const wall = Date.now();
    await h.cancel();
    const err = await h.result().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, `the session failed as cancelled: ${String(err)}`);
    assert.ok(err.cause instanceof CancelledFailure);
    assert.ok(Date.now() - wall < 15_000, 'the minute-long drains did not run to their end');
    assert.equal(fake.cancelledDrains, 3, 'each drain in flight was cancelled');
    assert.equal(fake.inFlight, 0);
    const released = new Set(fake.inputsOf<{ runId: string }>('releaseRunLease').map((c) => c.runId));
    assert.deepEqual(released, busy, 'the runs of the three slots were released');
    assert.equal(fake.callsOf('finishPhase').length, 0);
    const last = fake.inputsOf<SessionReport>('writeSessionReport').at(-1)!;
    assert.equal(last.status, 'cancelled');
    assert.equal(last.snapshot.cancelled, 3);
    assert.equal(last.snapshot.stopReason, 'cancelled');
  });
});
