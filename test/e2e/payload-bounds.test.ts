/**
 * Any length: no payload grows with the session. A session of 10× the phases (continue-as-new
 * every few dozen phases) has no bigger largest payload than a short one — sizes, not times.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { historyCost } from '../../harness/history-payloads.js';
import { countPgStatements } from '../../harness/pg-counts.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';

describe('payloads do not grow with the session', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  async function drain(id: string, phases: number, remembered: PhaseSeed[] = [], input: object = {}) {
    await env.pool.query('TRUNCATE phases, runs CASCADE');
    const seeds = Array.from({ length: phases }, (_, i) => ({
      runId: `${id}-run-${i % 20}`,
      phaseId: `p${i}`,
      lastFailureReason: `patch apply failed in hunk ${i}`,
    }));
    await seedPhases(env.pool, [...seeds, ...remembered]);
    // An instant executor that leaves the phase FAILED: every attempt is a quick failure.
    // Every statement of the session from its start (in-process worker; supervisors not counted).
    const counted = countPgStatements();
    try {
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: id,
        args: [
          {
            batchSize: phases,
            executor: 'true',
            maxAttemptsPerPhase: 1,
            skipRunsWithQueued: false,
            continueAsNewAfterEvents: 400,
            killGraceSeconds: 1,
            ...input,
          },
        ],
      });
      await h.result();
    } finally {
      counted.stop();
    }
    return {
      ...(await historyCost(env.client, id)),
      statements: counted.statements,
      rows: counted.rows,
      top: counted.top(6),
      // Updates of a try's row.
      tryRowUpdates: counted.matching(/^UPDATE drain_attempts SET/),
    };
  }

  // The short session is long enough to fill every bounded list (the progress log's 60 events,
  // the last 20 results) before its first continue-as-new (~14 events per phase: at 400 events,
  // after ~28 phases); past that, only digits grow — counters, sequence numbers and selection
  // indexes in the bounded lists get longer logarithmically (measured +2.3% from 30 to 150 phases,
  // where it was +110% from 40 to 400 phases before the lists got smaller bounds and the attempted
  // pairs moved to SQL): 5% slack.
  test('the largest payload of a 160-phase session is no bigger than that of a 40-phase one', async (t) => {
    const small = await plain40();
    // The same state as the short one started from: no failure memory (the short session
    // stopped the fingerprint all these phases share, and memory would then pass over every
    // phase the long session fails: selection reads them per pick, a cost of memory's size).
    await env.pool.query('TRUNCATE drain_memory_stops, drain_memory_clears');
    const large = await drain('bounds-160', 160);
    assert.ok(large.runs > small.runs, `the long session continued as new (${large.runs} runs)`);
    // Statements and rows read back per phase do not grow with the session (issue 19): the long
    // session sends and reads no more per phase than the short one, whose per-session statements
    // weigh 4× more per phase. (Rows grew 4× from 40 to 160 phases while selection read the
    // session's attempts at every pick; it now probes them by index: src/db/select-session.ts.)
    const per = (c: { statements: number; rows: number }, n: number) =>
      `${(c.statements / n).toFixed(1)} statements and ${(c.rows / n).toFixed(1)} rows per phase`;
    t.diagnostic(`160 phases: ${per(large, 160)}; 40 phases: ${per(small, 40)}`);
    assert.ok(
      large.statements / 160 <= (small.statements / 40) * 1.05,
      `160 phases: ${per(large, 160)}; 40 phases: ${per(small, 40)}`,
    );
    assert.ok(
      large.rows / 160 <= (small.rows / 40) * 1.05,
      `rows: 160 phases: ${per(large, 160)}; 40 phases: ${per(small, 40)}\n${large.top}\n--- 40:\n${small.top}`,
    );
    // What a phase sends, counted (issue 19 item 3; 16.3 measured): a ping, the lease and phase
    // check, the try's row (BEGIN, lock, INSERT, COMMIT), one backlog read at the try's start and
    // one at its end (src/db/phase-facts.ts), three updates of the row (the executor's pid, its
    // end with the logs' digests, the verdict), the lease's release, the selection, and the
    // session JSON's share (coalesced). It was 23.3 when the backlog was read four times per side.
    assert.ok(large.statements / 160 <= 17, `160 phases: ${per(large, 160)}`);
    assert.equal(large.tryRowUpdates, 3 * 160, 'updates of the rows of 160 one-try phases');
    assert.ok(
      large.largestPayload <= small.largestPayload * 1.05,
      `largest payload ${large.largestPayload} B at 160 phases vs ${small.largestPayload} B at 40`,
    );
  });

  /** The 40-phase plain session's cost (drained once for both tests). */
  let plain: Awaited<ReturnType<typeof drain>> | null = null;
  const plain40 = async () => (plain ??= await drain('bounds-40', 40));

  // A session that passes over many phases failure memory remembers carries the last 100 of
  // them with their reasons in every continue-as-new and every session report. Packed (a code
  // and what varies, each distinct string once: src/domain/skip-reasons.ts), their long
  // fingerprints do not multiply; as text they made such a payload 2.8 times the plain one (120 phases).
  // The plain session is the 40-phase one above, with the same 40 plain phases.
  test('passing over 45 remembered phases keeps the largest payload near a plain session’s', async () => {
    const long = (k: number) =>
      `ImportError: cannot import name 'Widget${k}' from 'autopack.${'deeply.nested.package.'.repeat(4)}widgets' (${'/srv/autopack/src/'.repeat(3)}widgets.py)`;
    const remembered = Array.from({ length: 45 }, (_, i) => ({
      runId: `mem-run-${i % 5}`,
      phaseId: `m${i}`,
      lastFailureReason: long(i % 3),
    }));
    // The first session fails every remembered phase twice per failure: the fingerprints stop.
    await env.pool.query('TRUNCATE phases, runs CASCADE');
    await seedPhases(env.pool, remembered);
    const first = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: 'bounds-memory-first',
      args: [
        {
          runId: null,
          batchSize: 45,
          executor: 'true',
          maxAttemptsPerPhase: 1,
          skipRunsWithQueued: false,
          maxFingerprintRepeats: 2,
          killGraceSeconds: 1,
        },
      ],
    });
    await first.result();
    const stops = await env.pool.query('SELECT fingerprint FROM drain_memory_stops');
    assert.ok(stops.rows.length >= 3, `the failures stopped: ${JSON.stringify(stops.rows)}`);
    const small = await plain40();
    const withMemory = await drain('bounds-memory', 40, remembered);
    const skipped = await env.pool.query(
      `SELECT count(*)::int AS n FROM drain_attempts WHERE session_id = 'bounds-memory' AND phase_id LIKE 'm%'`,
    );
    assert.equal(skipped.rows[0].n, 0, 'every remembered phase was passed over');
    assert.ok(
      withMemory.largestPayload <= small.largestPayload * 1.3,
      `largest payload ${withMemory.largestPayload} B passing over 45 remembered phases vs ${small.largestPayload} B`,
    );
  });
});
