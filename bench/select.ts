/**
 * Latency of one selection pick (selectFailedPhase / selectQueuedPhase) against synthetic
 * backlogs of growing size, on a throw-away embedded Postgres (migrated: phases_failed_rank_idx
 * from migration 003 exists while seeding, as in a live database).
 *
 *   npx tsx bench/select.ts [--sizes 10000,100000,1000000] [--picks 20] [--plan] [--sqlite]
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
 * --sqlite: the backlog is a SQLite file instead (Autopack's DATABASE_URL=sqlite:///…). For each
 * size a fresh file in the temp dir is made with Autopack's SQLite schema and seeded with the
 * same seedSynthetic (no ANALYZE: the file is left as Autopack has it); it is opened with
 * openStores, records in the bench Postgres (a schema per file, as a worker keeps them), and
 * every pick goes the worker's way: a new stores.backlog.sql({ phaseStates: ['FAILED',
 * 'QUEUED'] }) Queryable per pick, which reads a snapshot of those phases (and of every other
 * Autopack table the statement names, whole) from the file and runs the one selection
 * statement on PostgreSQL with the rows as CTEs. The mid-session state, the worst-case runs and
 * the memory blocks are read through that sql() too. Per size it also prints the snapshot's
 * rows per pick (the cost driver) and the snapshot's cost alone; EXPLAIN is skipped (the plan
 * of a statement over unnest() arrays says nothing about the file).
 *
 * Prints numbers only: no thresholds, no asserts (test/e2e/failure-rank.test.ts checks that
 * selectFailedPhase returns what a full sort would). The Postgres and its temp directory (the
 * SQLite files included) are removed on every exit path, Ctrl-C included.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Queryable } from '../src/db/pool.js';
import type { BacklogTable } from '../src/db/backlog-snapshot.js';
import { selectFailedPhase, selectQueuedPhase } from '../src/db/select.js';
import { parseDrainInput } from '../src/domain/input.js';
import { selectionParams, type SelectParams } from '../src/domain/selection.js';
import type { DrainConfig } from '../src/domain/types.js';
import { seedSynthetic, type SyntheticCounts } from '../src/sim/seed.js';
import {
  benchPostgres,
  cleanup,
  explain,
  freshParams,
  isStopping,
  measure,
  midState,
  namedTables,
  parseArgs,
  startBenchPostgres,
  trackStores,
  type Args,
  type Picker,
} from './select-setup.js';
import { openSqliteForSize, SELECTION_SCOPE, snapshotLine } from './select-sqlite.js';

const fmt = (x: number) => x.toFixed(2).padStart(9);

type Scenario = [string, Picker, SelectParams];

interface Configs {
  failed: DrainConfig;
  queued: DrainConfig;
  /** {"skipRunsWithQueued": false}: the `-q` scenarios. */
  noSkip: DrainConfig;
}

/** A backlog seeded for one size, as the scenarios reach it. */
interface SizeBacklog {
  /** The Queryable of one pick (the pool; on SQLite a new backlog.sql() per pick). */
  pickDb: () => Queryable;
  /** Where the bench reads the backlog's phases (mid-session state, worst case, memory). */
  readDb: () => Queryable;
  seeded: SyntheticCounts;
  seedMs: number;
  /** After the state counts on the "seeded" line. */
  detail: string;
}

async function printHeader(pool: pg.Pool, args: Args): Promise<string> {
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
    args.sqlite
      ? "strategy: a fresh SQLite file per size with Autopack's SQLite schema, seeded with seedSynthetic " +
          '(runs = size/50 + 1, 10% FAILED, 2% QUEUED; no ANALYZE, as Autopack leaves it); records in the ' +
          'bench Postgres; every pick through a new backlog.sql({ phaseStates: [FAILED, QUEUED] })'
      : 'strategy: TRUNCATE + reseed per size (runs = size/50 + 1, 10% FAILED, 2% QUEUED; ' +
          'phases_failed_rank_idx maintained while seeding), then ANALYZE',
  );
  console.log();
  console.log(
    `${'phases'.padStart(9)} ${'scenario'.padEnd(16)} ${'min'.padStart(9)} ${'median'.padStart(9)} ${'p95'.padStart(9)} ${'max'.padStart(9)}  picked / passed over`,
  );
  return version;
}

// size/50 + 1 runs: with exactly size/50 runs, seedSynthetic's state scramble (which depends
// on g mod 10000) makes every phase of a run share one state once runs is a multiple of 10000.
const runsFor = (size: number) => Math.floor(size / 50) + 1;

async function seedPostgres(pool: pg.Pool, size: number): Promise<SizeBacklog> {
  await pool.query('TRUNCATE phases, runs RESTART IDENTITY CASCADE');
  const t0 = performance.now();
  const seeded = await seedSynthetic(pool, { phases: size, runs: runsFor(size), failedFraction: 0.1 });
  const seedMs = performance.now() - t0;
  await pool.query('ANALYZE');
  const indexMb = (
    await pool.query<{ mb: string }>(
      `SELECT (pg_relation_size('phases_failed_rank_idx') / 1048576.0)::numeric(10,1) AS mb`,
    )
  ).rows[0].mb;
  const db = () => pool;
  return { pickDb: db, readDb: db, seeded, seedMs, detail: `; phases_failed_rank_idx ${indexMb} MB` };
}

/** The scenarios of one size, and the mid-session parameters (printed on the "seeded" line). */
async function buildScenarios(
  db: Queryable,
  cfg: Configs,
): Promise<{ scenarios: Scenario[]; mid: SelectParams }> {
  const mid = await midState(db);
  const midFailed = selectionParams(mid, cfg.failed);
  // Worst case for an ordered walk: every run but the last 3 stopped, so nearly every FAILED
  // phase is read and passed over before the pick (a crafted state: stopped runs are not sampled).
  const failedRuns = (
    await db.query<{ run_id: string }>(
      `SELECT DISTINCT run_id FROM phases WHERE state = 'FAILED' ORDER BY run_id`,
    )
  ).rows.map((r) => r.run_id);
  const worst: SelectParams = {
    ...freshParams(cfg.noSkip),
    blockedRuns: failedRuns.slice(0, -3),
    blockedReasons: failedRuns.slice(0, -3).map((r) => `run ${r} has 2 timeouts (limit: 2)`),
  };
  // Failure memory passing over 500 FAILED phases (as selection receives it from the memory query).
  const memoryBlocks = (
    await db.query<{ run_id: string; phase_id: string }>(
      `SELECT run_id, phase_id FROM phases WHERE state = 'FAILED' ORDER BY id LIMIT 500`,
    )
  ).rows.map((r) => ({
    runId: r.run_id,
    phaseId: r.phase_id,
    reason: 'fingerprint F stopped by session S',
  }));
  const scenarios: Scenario[] = [
    ['failed/fresh', selectFailedPhase, freshParams(cfg.failed)],
    ['failed/mid', selectFailedPhase, midFailed],
    ['failed/fresh-q', selectFailedPhase, freshParams(cfg.noSkip)],
    ['failed/mid-q', selectFailedPhase, selectionParams(mid, cfg.noSkip)],
    ['failed/worst', selectFailedPhase, worst],
    ['failed/yield', selectFailedPhase, { ...freshParams(cfg.failed), order: 'yield' }],
    ['failed/memory', selectFailedPhase, { ...freshParams(cfg.failed), memory: memoryBlocks }],
    ['queued/fresh', selectQueuedPhase, freshParams(cfg.queued)],
    ['queued/mid', selectQueuedPhase, selectionParams(mid, cfg.queued)],
  ];
  return { scenarios, mid: midFailed };
}

function printSeeded(size: number, b: SizeBacklog, mid: SelectParams): void {
  console.log(
    `${String(size).padStart(9)} seeded in ${(b.seedMs / 1000).toFixed(1)} s: ${b.seeded.runs} runs, ` +
      Object.entries(b.seeded.byState)
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      b.detail +
      `; mid-session: ${mid.attemptedRuns.length} attempted, ${mid.doneRuns.length} done, ` +
      `${mid.blockedRuns.length} stopped, ${mid.sampledRuns.length} sampled, ` +
      `${mid.promisingRuns.length} promising, ${mid.deprioritizedRuns.length} deprioritized`,
  );
}

/** Times every scenario; false if a signal came meanwhile. */
async function runScenarios(
  size: number,
  b: SizeBacklog,
  scenarios: Scenario[],
  picks: number,
): Promise<boolean> {
  for (const [name, pick, params] of scenarios) {
    if (isStopping()) return false;
    const { stats: st, last } = await measure(b.pickDb, pick, params, picks);
    const picked = last.pick ? `${last.pick.runId}/${last.pick.phaseId} (${last.pick.category})` : 'none';
    console.log(
      `${String(size).padStart(9)} ${name.padEnd(16)} ${fmt(st.min)} ${fmt(st.median)} ${fmt(st.p95)} ${fmt(st.max)}  ${picked} / ${last.passedOver.length}`,
    );
  }
  return true;
}

/** EXPLAIN (ANALYZE, BUFFERS) summaries of the main picks (PostgreSQL backlog, largest size). */
async function explainMain(pool: pg.Pool, scenarios: Scenario[], full: boolean): Promise<string[]> {
  const names = ['failed/fresh', 'failed/mid', 'failed/worst', 'queued/fresh'];
  const plans: string[] = [];
  for (const name of names) {
    const [, pick, params] = scenarios.find(([n]) => n === name)!;
    plans.push(`  ${`${name}:`.padEnd(14)}${await explain(pool, pick, params, full)}`);
  }
  return plans;
}

async function postgresMain(pool: pg.Pool, args: Args, cfg: Configs): Promise<void> {
  const largest = Math.max(...args.sizes);
  let plans: string[] = [];
  for (const size of args.sizes) {
    if (isStopping()) return;
    const b = await seedPostgres(pool, size);
    const { scenarios, mid } = await buildScenarios(pool, cfg);
    printSeeded(size, b, mid);
    if (!(await runScenarios(size, b, scenarios, args.picks))) return;
    if (size === largest) plans = await explainMain(pool, scenarios, args.plan);
  }
  console.log();
  console.log(`EXPLAIN (ANALYZE, BUFFERS) at ${largest} phases:`);
  for (const p of plans) console.log(p);
}

async function sqliteMain(args: Args, cfg: Configs, version: string): Promise<void> {
  const { url, tmp } = benchPostgres();
  for (const size of args.sizes) {
    if (isStopping()) return;
    const s = await openSqliteForSize(tmp, url, size, runsFor(size));
    trackStores(s.stores);
    const sql = () => s.stores.backlog.sql(SELECTION_SCOPE);
    const b: SizeBacklog = { pickDb: sql, readDb: sql, ...s, detail: `; file ${s.fileMb} MB` };
    console.log(`SQLite backlog ${s.file} (records in PostgreSQL ${version}, schema ${s.schema})`);
    const { scenarios, mid } = await buildScenarios(sql(), cfg);
    printSeeded(size, b, mid);
    const tables = new Map<string, BacklogTable[]>();
    for (const [name, pick, params] of scenarios) tables.set(name, await namedTables(sql(), pick, params));
    console.log(`${String(size).padStart(9)} ${await snapshotLine(s, tables, args.picks)}`);
    if (!(await runScenarios(size, b, scenarios, args.picks))) return;
    trackStores(null);
    await s.stores.close();
  }
  console.log();
  console.log(
    'EXPLAIN: skipped on a SQLite backlog (the statement runs on PostgreSQL over unnest() arrays of the ' +
      'snapshot: its plan says nothing about the file)',
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pool = await startBenchPostgres();
  if (!pool) return;
  const version = await printHeader(pool, args);
  const cfg: Configs = {
    failed: parseDrainInput({}),
    queued: parseDrainInput({ mode: 'queued' }),
    // With the default skipRunsWithQueued, phases of runs that have a QUEUED phase (about 64% of
    // the synthetic runs) are passed over; the `-q` scenarios use {"skipRunsWithQueued": false}.
    noSkip: parseDrainInput({ skipRunsWithQueued: false }),
  };
  if (args.sqlite) await sqliteMain(args, cfg, version);
  else await postgresMain(pool, args, cfg);
}

main()
  .catch((err: unknown) => {
    if (isStopping()) return; // the connection died because we are stopping: not an error
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  })
  .finally(() => (isStopping() ? undefined : cleanup()));
