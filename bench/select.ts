/**
 * Latency of one selection pick (selectFailedPhase / selectQueuedPhase) against synthetic
 * backlogs of growing size, on a throw-away embedded Postgres (migrated: phases_failed_rank_idx
 * from migration 003 exists while seeding, as in a live database).
 *
 *   npx tsx bench/select.ts [--sizes 10000,100000,1000000] [--picks 20] [--plan]
 *
 * For each size the database is emptied (TRUNCATE) and reseeded with seedSynthetic
 * (runs = size/50 + 1, 10% FAILED, 2% QUEUED), then ANALYZEd. Each scenario runs one warm-up
 * pick and then --picks timed picks (wall time of the call, round trip included):
 *   failed/fresh    selectFailedPhase, a new session, default input (skipRunsWithQueued on:
 *                   phases of runs with a QUEUED phase, ~64% of the runs, are passed over)
 *   failed/mid      selectFailedPhase, a mid-session state (200 attempted phases, 60 done,
 *                   5 stopped runs, sampled/promising/deprioritized runs)
 *   failed/*-q      the same with {"skipRunsWithQueued": false}
 *   failed/worst    every run but the last 3 stopped: almost every FAILED phase is passed over
 *   failed/yield    failed/fresh with {"order": "yield"} (scores every FAILED phase in the filter)
 *   failed/memory   failed/fresh with failure memory passing over the first 500 FAILED phases
 *   queued/fresh    selectQueuedPhase, a new session with {"mode": "queued"}
 *   queued/mid      selectQueuedPhase, the mid-session state with {"mode": "queued"}
 * For the largest size it prints the EXPLAIN (ANALYZE, BUFFERS) summary of the main picks
 * (--plan: the whole plans).
 *
 * Prints numbers only: no thresholds, no asserts (test/e2e/failure-rank.test.ts checks that
 * selectFailedPhase returns what a full sort would). The Postgres and its temp directory are
 * removed on every exit path, Ctrl-C included.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { selectFailedPhase, selectQueuedPhase } from '../src/db/select.js';
import { parseDrainInput } from '../src/domain/input.js';
import { selectionParams, type SelectParams } from '../src/domain/selection.js';
import { seedSynthetic } from '../src/sim/seed.js';
import {
  cleanup,
  explain,
  freshParams,
  isStopping,
  measure,
  midState,
  parseArgs,
  startBenchPostgres,
  type Picker,
} from './select-setup.js';

const fmt = (x: number) => x.toFixed(2).padStart(9);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pool = await startBenchPostgres();
  if (!pool) return;
  const setting = async (name: string) =>
    (await pool.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0].v;
  const version = await setting('server_version');
  const sb = await setting('shared_buffers');
  const wm = await setting('work_mem');
  console.log(
    `Postgres ${version} (shared_buffers ${sb}, work_mem ${wm}), node ${process.version}, ${os.cpus().length} CPUs; ` +
      `${args.picks} picks per scenario after 1 warm-up; times in ms`,
  );
  console.log(
    'strategy: TRUNCATE + reseed per size (runs = size/50 + 1, 10% FAILED, 2% QUEUED; ' +
      'phases_failed_rank_idx maintained while seeding), then ANALYZE',
  );
  console.log();
  console.log(
    `${'phases'.padStart(9)} ${'scenario'.padEnd(16)} ${'min'.padStart(9)} ${'median'.padStart(9)} ${'p95'.padStart(9)} ${'max'.padStart(9)}  picked / passed over`,
  );

  const failedCfg = parseDrainInput({});
  const queuedCfg = parseDrainInput({ mode: 'queued' });
  // With the default skipRunsWithQueued, phases of runs that have a QUEUED phase (about 64% of
  // the synthetic runs) are passed over; the `-q` scenarios use {"skipRunsWithQueued": false}.
  const noSkipCfg = parseDrainInput({ skipRunsWithQueued: false });
  const largest = Math.max(...args.sizes);
  const plans: string[] = [];

  for (const size of args.sizes) {
    if (isStopping()) return;
    await pool.query('TRUNCATE phases, runs RESTART IDENTITY CASCADE');
    const t0 = performance.now();
    // size/50 + 1 runs: with exactly size/50 runs, seedSynthetic's state scramble (which depends
    // on g mod 10000) makes every phase of a run share one state once runs is a multiple of 10000.
    const runs = Math.floor(size / 50) + 1;
    const seeded = await seedSynthetic(pool, { phases: size, runs, failedFraction: 0.1 });
    const seedMs = performance.now() - t0;
    await pool.query('ANALYZE');
    const indexMb = (
      await pool.query<{ mb: string }>(
        `SELECT (pg_relation_size('phases_failed_rank_idx') / 1048576.0)::numeric(10,1) AS mb`,
      )
    ).rows[0].mb;
    const mid = await midState(pool);
    const midFailed = selectionParams(mid, failedCfg);
    const midQueued = selectionParams(mid, queuedCfg);
    const midNoSkip = selectionParams(mid, noSkipCfg);
    console.log(
      `${String(size).padStart(9)} seeded in ${(seedMs / 1000).toFixed(1)} s: ${seeded.runs} runs, ` +
        Object.entries(seeded.byState)
          .sort()
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') +
        `; phases_failed_rank_idx ${indexMb} MB` +
        `; mid-session: ${midFailed.attemptedRuns.length} attempted, ${midFailed.doneRuns.length} done, ` +
        `${midFailed.blockedRuns.length} stopped, ${midFailed.sampledRuns.length} sampled, ` +
        `${midFailed.promisingRuns.length} promising, ${midFailed.deprioritizedRuns.length} deprioritized`,
    );
    // Worst case for an ordered walk: every run but the last 3 stopped, so nearly every FAILED
    // phase is read and passed over before the pick (a crafted state: stopped runs are not sampled).
    const failedRuns = (
      await pool.query<{ run_id: string }>(
        `SELECT DISTINCT run_id FROM phases WHERE state = 'FAILED' ORDER BY run_id`,
      )
    ).rows.map((r) => r.run_id);
    const worst: SelectParams = {
      ...freshParams(noSkipCfg),
      blockedRuns: failedRuns.slice(0, -3),
      blockedReasons: failedRuns.slice(0, -3).map((r) => `run ${r} has 2 timeouts (limit: 2)`),
    };
    // Failure memory passing over 500 FAILED phases (as selection receives it from the memory query).
    const memoryBlocks = (
      await pool.query<{ run_id: string; phase_id: string }>(
        `SELECT run_id, phase_id FROM phases WHERE state = 'FAILED' ORDER BY id LIMIT 500`,
      )
    ).rows.map((r) => ({
      runId: r.run_id,
      phaseId: r.phase_id,
      reason: 'fingerprint F stopped by session S',
    }));
    const scenarios: Array<[string, Picker, SelectParams]> = [
      ['failed/fresh', selectFailedPhase, freshParams(failedCfg)],
      ['failed/mid', selectFailedPhase, midFailed],
      ['failed/fresh-q', selectFailedPhase, freshParams(noSkipCfg)],
      ['failed/mid-q', selectFailedPhase, midNoSkip],
      ['failed/worst', selectFailedPhase, worst],
      ['failed/yield', selectFailedPhase, { ...freshParams(failedCfg), order: 'yield' }],
      ['failed/memory', selectFailedPhase, { ...freshParams(failedCfg), memory: memoryBlocks }],
      ['queued/fresh', selectQueuedPhase, freshParams(queuedCfg)],
      ['queued/mid', selectQueuedPhase, midQueued],
    ];
    for (const [name, pick, params] of scenarios) {
      if (isStopping()) return;
      const { stats: st, last } = await measure(pool, pick, params, args.picks);
      const picked = last.pick ? `${last.pick.runId}/${last.pick.phaseId} (${last.pick.category})` : 'none';
      console.log(
        `${String(size).padStart(9)} ${name.padEnd(16)} ${fmt(st.min)} ${fmt(st.median)} ${fmt(st.p95)} ${fmt(st.max)}  ${picked} / ${last.passedOver.length}`,
      );
    }
    if (size === largest) {
      const explained: Array<[string, Picker, SelectParams]> = [
        ['failed/fresh', selectFailedPhase, freshParams(failedCfg)],
        ['failed/mid', selectFailedPhase, midFailed],
        ['failed/worst', selectFailedPhase, worst],
        ['queued/fresh', selectQueuedPhase, freshParams(queuedCfg)],
      ];
      for (const [name, pick, params] of explained) {
        plans.push(`  ${`${name}:`.padEnd(14)}${await explain(pool, pick, params, args.plan)}`);
      }
    }
  }
  console.log();
  console.log(`EXPLAIN (ANALYZE, BUFFERS) at ${largest} phases:`);
  for (const p of plans) console.log(p);
}

main()
  .catch((err: unknown) => {
    if (isStopping()) return; // the connection died because we are stopping: not an error
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  })
  .finally(() => (isStopping() ? undefined : cleanup()));
