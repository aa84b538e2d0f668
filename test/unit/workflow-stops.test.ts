/**
 * batchDrain's stop conditions, on the time-skipping environment with fake activities
 * (test/helpers/fake-activities.ts): batch size, zero-yield streak, the time budget (workflow
 * time, skipped), timeouts per run, fingerprint repeats, and the token budget (folded by the
 * workflow, or read by the selection from the records while another slot's try runs).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionReport } from '../../activities/session.js';
import type { DrainRequest } from '../../activities/drain-env.js';
import { progressQuery, type Progress, type SessionResult } from '../../src/domain/messages.js';
import type { SelectParams } from '../../src/domain/selection.js';
import { tokenBudgetReason } from '../../src/domain/stop-conditions.js';
import type { AttemptVerdict } from '../../src/domain/types.js';
import { FakeBacklog, type FakePhase } from '../helpers/fake-activities.js';
import { startWorkflowTests, type WorkflowTestEnv } from '../helpers/time-skipping.js';

let t: WorkflowTestEnv;
before(async () => {
  t = await startWorkflowTests();
});
after(async () => {
  await t?.teardown();
});

const run = async (fake: FakeBacklog, input: Record<string, unknown>) =>
  (await (await t.start(fake, input)).result()) as SessionResult;

/** The session state in the last session JSON the workflow wrote. */
const finalSnapshot = (fake: FakeBacklog) =>
  fake.inputsOf<SessionReport>('writeSessionReport').at(-1)!.snapshot;

const drained = (fake: FakeBacklog) =>
  fake.inputsOf<DrainRequest>('drainPhase').map((d) => `${d.runId}:${d.phaseId}`);

interface FinishInput {
  runId: string;
  phaseId: string;
  verdict: AttemptVerdict;
  memoryStop: { fingerprint: string; repeats: number } | null;
}

describe('batch size', () => {
  test('one slot stops at batchSize', async () => {
    const fake = FakeBacklog.grid(3, 3);
    const r = await run(fake, { batchSize: 4 });
    assert.equal(r.stopReason, 'batch size reached (4)');
    assert.equal(r.processed, 4);
    assert.equal(fake.callsOf('drainPhase').length, 4);
    assert.equal(fake.callsOf('selectNextPhase').length, 4, 'no fifth pick');
  });

  test('three slots stop at batchSize too: the phases in flight count toward it', async () => {
    const fake = FakeBacklog.grid(4, 3, [{ kind: 'success', events: 1, ms: 300 }]);
    const r = await run(fake, { batchSize: 4, concurrency: 3 });
    assert.equal(r.stopReason, 'batch size reached (4)');
    assert.equal(r.processed, 4);
    assert.equal(fake.callsOf('drainPhase').length, 4, 'no slot started a fifth phase');
  });
});

test('maxConsecutiveZeroYield: the streak of attempts without telemetry ends the session', async () => {
  const phases: FakePhase[] = [
    { runId: 'r0', phaseId: 'p0', script: [{ kind: 'success', events: 0 }] },
    { runId: 'r1', phaseId: 'p0', script: [{ kind: 'success', events: 5 }] },
    ...[2, 3, 4, 5, 6].map((i) => ({
      runId: `r${i}`,
      phaseId: 'p0',
      script: [{ kind: 'success' as const, events: 0 }],
    })),
  ];
  const fake = new FakeBacklog(phases);
  const r = await run(fake, { maxConsecutiveZeroYield: 3, batchSize: 100 });
  assert.equal(r.stopReason, '3 consecutive attempts with zero telemetry yield (limit: 3)');
  // r0 (zero), r1 (yield: the streak starts again), then three without: five in all.
  assert.deepEqual(drained(fake), ['r0:p0', 'r1:p0', 'r2:p0', 'r3:p0', 'r4:p0']);
  assert.equal(r.telemetryEvents, 5);
  assert.equal(finalSnapshot(fake).zeroYield.success_no_llm_calls, 4);
});

test('maxTotalMinutes is workflow time: waiting for leased runs skips to the deadline in seconds', async () => {
  const fake = new FakeBacklog([
    { runId: 'mine', phaseId: 'p0', phaseIndex: 0 },
    { runId: 'mine', phaseId: 'p1', phaseIndex: 1 },
    { runId: 'theirs', phaseId: 'p0', phaseIndex: 0 },
    { runId: 'theirs', phaseId: 'p1', phaseIndex: 1 },
  ]);
  fake.leaseToOther('theirs');
  const wall = Date.now();
  const r = await run(fake, { maxTotalMinutes: 2, batchSize: 100 });
  assert.equal(r.stopReason, 'max total minutes reached (2)');
  assert.ok(Date.now() - wall < 20_000, `two workflow minutes took ${Date.now() - wall} ms of wall time`);
  assert.deepEqual(drained(fake), ['mine:p0', 'mine:p1'], "the other session's run was never drained");
  // Two picks, then a look every 5 s of workflow time until two minutes were up.
  const selects = fake.callsOf('selectNextPhase').length;
  assert.ok(selects >= 2 + 20 && selects <= 2 + 25, `${selects} selections`);
  assert.ok(
    r.skipped.some((s) => s.runId === 'theirs' && /being drained by session another-session/.test(s.reason)),
  );
  for (const d of fake.inputsOf<DrainRequest>('drainPhase'))
    assert.ok(d.timeoutSeconds <= 120, `the phase timeout is capped by the time left (${d.timeoutSeconds})`);
});

test('maxTimeoutsPerRun: a run with that many timeouts is drained no more, the others go on', async () => {
  const fake = new FakeBacklog([
    ...[0, 1, 2, 3].map((i) => ({
      runId: 'slow',
      phaseId: `p${i}`,
      phaseIndex: i,
      script: [{ kind: 'timeout' as const }],
    })),
    { runId: 'quick', phaseId: 'p0', phaseIndex: 0 },
    { runId: 'quick', phaseId: 'p1', phaseIndex: 1 },
  ]);
  const r = await run(fake, { maxTimeoutsPerRun: 2, batchSize: 100 });
  assert.equal(r.stopReason, 'no eligible phases left');
  assert.equal(r.timeouts, 2);
  assert.equal(drained(fake).filter((k) => k.startsWith('slow:')).length, 2);
  assert.equal(drained(fake).filter((k) => k.startsWith('quick:')).length, 2);
  const why = 'run slow has 2 timeouts (limit: 2)';
  assert.deepEqual(finalSnapshot(fake).stoppedRuns, { slow: why });
  const last = fake.inputsOf<SelectParams>('selectNextPhase').at(-1)!;
  assert.deepEqual([last.blockedRuns, last.blockedReasons], [['slow'], [why]]);
  // Its two untried phases were passed over with that reason (the timed-out two were left running).
  assert.deepEqual(
    r.skipped.filter((s) => s.runId === 'slow' && s.reason === why).map((s) => s.phaseId),
    ['p2', 'p3'],
  );
});

test('maxFingerprintRepeats: the repeated failure is stopped once, kept for failure memory, its run deprioritized', async () => {
  const error = "ImportError: cannot import name 'Widget' from 'app.models' (/srv/app/models.py)";
  const phases: FakePhase[] = [];
  for (const runId of ['a', 'b', 'c'])
    for (const i of [0, 1])
      phases.push({ runId, phaseId: `p${i}`, phaseIndex: i, script: [{ kind: 'failure', error }] });
  phases.push({
    runId: 'd',
    phaseId: 'p0',
    script: [{ kind: 'failure', error: 'AssertionError: expected 3, got 4' }],
  });
  const fake = new FakeBacklog(phases);
  const r = await run(fake, { maxFingerprintRepeats: 2, maxAttemptsPerPhase: 1, batchSize: 100 });
  assert.equal(r.processed, 7);
  assert.equal(r.failed, 7);
  const finishes = fake.inputsOf<FinishInput>('finishPhase');
  const same = finishes.filter((f) => f.runId !== 'd').map((f) => f.verdict.fingerprint);
  assert.equal(new Set(same).size, 1, 'one fingerprint for the six identical failures');
  const fingerprint = same[0]!;
  const stops = finishes.filter((f) => f.memoryStop);
  assert.equal(stops.length, 1, 'the fingerprint is stopped once');
  assert.deepEqual(stops[0].memoryStop, { fingerprint, repeats: 2 });
  assert.equal(stops[0].runId, 'b', 'at its second occurrence (a:p0, then b:p0)');
  const snap = finalSnapshot(fake);
  assert.deepEqual(snap.stoppedFingerprints, [fingerprint]);
  assert.equal(snap.fingerprintCounts[fingerprint], 6);
  assert.ok(snap.deprioritizedRuns.includes('b'));
  // After the stop the deprioritized runs' second phases come last: a, then d's unsampled run first.
  assert.deepEqual(drained(fake), ['a:p0', 'b:p0', 'c:p0', 'd:p0', 'a:p1', 'b:p1', 'c:p1']);
});

describe('--max-tokens', () => {
  test('the folded spend ends the session before the next pick', async () => {
    const fake = FakeBacklog.grid(5, 1, [{ kind: 'success', events: 1, tokens: 400 }]);
    const r = await run(fake, { maxTokens: 1000, batchSize: 100 });
    assert.equal(r.stopReason, tokenBudgetReason(1200, 1000));
    assert.equal(r.processed, 3);
    assert.equal(fake.callsOf('selectNextPhase').length, 3, 'the workflow stopped without asking selection');
    assert.equal(finalSnapshot(fake).tokensSpent, 1200);
    const budgets = fake.inputsOf<SelectParams>('selectNextPhase').map((s) => s.tokenBudget);
    assert.deepEqual(
      budgets,
      [0, 400, 800].map((folded) => ({ maxTokens: 1000, folded })),
    );
  });

  test("selection's tokenBudgetSpent ends it while another slot's try has spent the budget", async () => {
    const fake = new FakeBacklog([
      { runId: 'big', phaseId: 'p0', script: [{ kind: 'success', events: 1, tokens: 1500, ms: 2500 }] },
      ...[0, 1, 2].map((i) => ({
        runId: 'small',
        phaseId: `p${i}`,
        phaseIndex: i,
        script: [{ kind: 'success' as const, events: 1, tokens: 0, ms: 100 }],
      })),
    ]);
    const h = await t.start(fake, { maxTokens: 1000, concurrency: 2, batchSize: 100 });
    await fake.until(() => fake.budgetRefusals > 0, 20_000, 'a selection refused for the budget');
    // The workflow takes the refusal in its next task: look until it has, or the big try ended.
    let bigRunning: boolean;
    let p: Progress;
    for (;;) {
      bigRunning = fake.inFlight > 0; // before the query: a stop it shows came while the try ran
      p = await h.query(progressQuery);
      if (p.stopReason || !bigRunning) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(bigRunning, 'the session stopped while the big try still ran');
    assert.equal(p.stopReason, tokenBudgetReason(1500, 1000));
    assert.equal(p.slots?.filter(Boolean).length, 1);
    const r = (await h.result()) as SessionResult;
    assert.equal(r.stopReason, tokenBudgetReason(1500, 1000));
    assert.equal(fake.budgetRefusals, 1, 'no further pick once the session stopped');
    const selects = fake.inputsOf<SelectParams>('selectNextPhase');
    const stopping = selects.at(-1)!;
    assert.equal(stopping.tokenBudget?.folded, 0, 'nothing folded yet: the records said so');
    assert.ok(drained(fake).includes('big:p0'));
    assert.equal(r.processed, fake.callsOf('drainPhase').length, 'the try in flight was finished and folded');
    assert.equal(finalSnapshot(fake).tokensSpent, 1500);
    assert.ok(fake.phases.size - r.processed >= 1, 'phases were left undrained');
  });
});
