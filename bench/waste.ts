/**
 * bench/waste (issue 18 item 3): what failure memory saves in tokens and executor minutes.
 *
 * One backlog, drained by three nightly sessions, twice: with failure memory (the default) and
 * with --ignore-memory (the original's behaviour, which forgets every night). The reference
 * executor spends tokens as Autopack's does (phases.tokens_used, runs.tokens_used); 40 % of the
 * phases fail deterministically under a handful of fingerprints, the others succeed. Before
 * every night the backlog is put back as it was (every phase FAILED with its last reason;
 * tokens_used keeps counting, as in Autopack), so each night faces the same work.
 *
 * Per night it prints the tokens and executor minutes spent on already-known failures (attempts
 * whose fingerprint had already been stopped, by that session or by an earlier one on the same
 * workspace commit: src/db/tokens.ts knownFailureAttempts), the night's total, and the ratio of
 * the two modes' waste.
 *
 *   npm run bench:waste [-- --phases 30 --fingerprints 3 --concurrency 2]
 */
import { startTestEnv, type TestEnv } from '../harness/env.js';
import { seedPhases, type PhaseSeed } from '../src/sim/seed.js';
import { listSessionAttempts } from '../src/db/attempts.js';
import { knownFailureAttempts } from '../src/db/tokens.js';
import { formatTokens } from '../src/domain/tokens.js';
import { arg } from './session-run.js';

const phases = Number(arg('--phases', '30'));
const fingerprints = Number(arg('--fingerprints', '3'));
const concurrency = Number(arg('--concurrency', '2'));
const NIGHTS = 3;
const RUNS = 6;

/** The deterministic failures: one reason per fingerprint, each different in kind. */
const REASONS = [
  'pytest collection error: ImportError: cannot import name frobnicate from pkg.util',
  'patch apply failed: hunk #2 FAILED at 118 in src/app/models.py',
  'deliverable missing: docs/CHANGELOG.md was not produced',
  'TypeError: unsupported operand type(s) for +: NoneType and int in build_plan',
  'schema validation failed: field "tier" is required',
];

/** The backlog: 40 % of the phases fail deterministically (spread over the fingerprints), the rest succeed. */
function backlog(): Array<PhaseSeed & { sim: { scenario: string } }> {
  const failing = Math.round(phases * 0.4);
  return Array.from({ length: phases }, (_, i) => {
    // The first 40 % fail, round-robin over the fingerprints; run ids cycle, so every run has some.
    const f = i < failing ? i % fingerprints : -1;
    const reason = f >= 0 ? REASONS[f % REASONS.length] : 'transient: upstream API returned 503';
    return {
      runId: `waste-run-${i % RUNS}`,
      phaseId: `p${String(i).padStart(3, '0')}`,
      lastFailureReason: reason,
      sim:
        f >= 0
          ? { scenario: 'fail', reason, events: 2, tokens: 1500, seconds: 0.4 }
          : { scenario: 'complete', events: 3, tokens: 1200, seconds: 0.4 },
    };
  });
}

interface Night {
  tokens: number;
  seconds: number;
  attempts: number;
  wastedTokens: number;
  wastedSeconds: number;
  wastedAttempts: number;
}

async function night(env: TestEnv, id: string, ignoreMemory: boolean): Promise<Night> {
  await seedPhases(env.pool, backlog()); // back to the night's starting state
  const h = await env.client.workflow.start('batchDrain', {
    taskQueue: env.taskQueue,
    workflowId: id,
    args: [
      {
        batchSize: phases,
        maxAttemptsPerPhase: 1,
        maxFingerprintRepeats: 2,
        skipRunsWithQueued: false,
        killGraceSeconds: 1,
        concurrency,
        ignoreMemory,
      },
    ],
  });
  await h.result();
  const rows = (await listSessionAttempts(env.pool, id)).filter((r) => r.status === 'finished');
  const known = await knownFailureAttempts(env.pool, id);
  const n: Night = {
    tokens: 0,
    seconds: 0,
    attempts: rows.length,
    wastedTokens: 0,
    wastedSeconds: 0,
    wastedAttempts: 0,
  };
  for (const r of rows) {
    const t = Number(r.tokens_spent ?? 0);
    const s = Number(r.duration_seconds ?? 0);
    n.tokens += t;
    n.seconds += s;
    if (known[r.id]) {
      n.wastedTokens += t;
      n.wastedSeconds += s;
      n.wastedAttempts += 1;
    }
  }
  return n;
}

const env = await startTestEnv();
const stop = () => void env.teardown().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const min = (s: number) => (s / 60).toFixed(2);
try {
  await env.startWorker();
  const failing = backlog().filter((p) => p.sim.scenario === 'fail').length;
  console.log(
    `bench/waste: ${phases} phases in ${RUNS} runs, ${failing} failing deterministically under ${fingerprints} fingerprints; ` +
      `${NIGHTS} nightly sessions per mode (--max-fingerprint-repeats 2, --concurrency ${concurrency})`,
  );
  const totals: Record<string, { tokens: number; seconds: number }> = {};
  for (const [mode, ignore] of [
    ['memory', false],
    ['ignore-memory', true],
  ] as const) {
    // Each mode starts with no memory and no earlier attempts of its own.
    await env.pool.query('TRUNCATE drain_memory_stops, drain_memory_clears');
    totals[mode] = { tokens: 0, seconds: 0 };
    for (let k = 1; k <= NIGHTS; k++) {
      const n = await night(env, `waste-${mode}-${k}`, ignore);
      totals[mode].tokens += n.wastedTokens;
      totals[mode].seconds += n.wastedSeconds;
      console.log(
        `  ${mode.padEnd(13)} night ${k}: ${n.attempts} attempts, ${formatTokens(n.tokens)} tokens, ${min(n.seconds)} executor min; ` +
          `on already-known failures: ${n.wastedAttempts} attempts, ${formatTokens(n.wastedTokens)} tokens, ${min(n.wastedSeconds)} executor min`,
      );
    }
    await env.pool.query(`DELETE FROM drain_attempts WHERE session_id LIKE 'waste-${mode}-%'`);
  }
  const m = totals.memory;
  const o = totals['ignore-memory'];
  const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? '1.00' : '∞') : (a / b).toFixed(2));
  console.log(
    `Spent on already-known failures over ${NIGHTS} nights: with memory ${formatTokens(m.tokens)} tokens, ${min(m.seconds)} executor min; ` +
      `with --ignore-memory ${formatTokens(o.tokens)} tokens, ${min(o.seconds)} executor min`,
  );
  console.log(
    `Ratio (--ignore-memory / memory): tokens ${ratio(o.tokens, m.tokens)}×, executor minutes ${ratio(o.seconds, m.seconds)}×`,
  );
} finally {
  await env.teardown();
}
