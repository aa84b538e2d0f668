/**
 * Latency of one selection pick (selectFailedPhase / selectQueuedPhase) against synthetic
 * backlogs of growing size, on a throw-away embedded Postgres.
 *
 *   npx tsx bench/select.ts [--sizes 10000,100000,1000000] [--picks 20] [--plan] [--prototype]
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
 *   queued/fresh    selectQueuedPhase, a new session with {"mode": "queued"}
 *   queued/mid      selectQueuedPhase, the mid-session state with {"mode": "queued"}
 * --prototype also times bench/select-prototype.ts (same answers, index-ordered walk; builds its
 * index after seeding) on the failed scenarios and checks that it returns exactly what
 * selectFailedPhase returns on 38 states (with and without a lease held by another session).
 * For the largest size it prints the EXPLAIN (ANALYZE, BUFFERS) summary of the main picks
 * (--plan: the whole plans).
 *
 * Prints numbers only: no thresholds, no asserts. The Postgres and its temp directory are
 * removed on every exit path, Ctrl-C included.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Queryable } from '../src/db/pool.js';
import { selectFailedPhase, selectQueuedPhase, type SelectResult } from '../src/db/select.js';
import { parseDrainInput } from '../src/domain/input.js';
import { selectionParams, type SelectParams } from '../src/domain/selection.js';
import { newSessionState, pairKey, type SessionState } from '../src/domain/session-state.js';
import type { DrainConfig } from '../src/domain/types.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/runtime/postgres.js';
import { getFreePort } from '../src/runtime/ports.js';
import { seedSynthetic } from '../src/sim/seed.js';
import { PROTOTYPE_DDL, RANK_INDEX, selectFailedPhasePrototype } from './select-prototype.js';

// ---------------------------------------------------------------------------------------------
// Arguments

interface Args {
  sizes: number[];
  picks: number;
  plan: boolean;
  prototype: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { sizes: [10_000, 100_000, 1_000_000], picks: 20, plan: false, prototype: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--sizes') {
      out.sizes = value()
        .split(',')
        .map((s) => Number(s.trim().replace(/_/g, '')));
      if (out.sizes.some((n) => !Number.isInteger(n) || n < 50)) {
        throw new Error('--sizes: comma-separated integers >= 50');
      }
    } else if (a === '--picks') {
      out.picks = Number(value());
      if (!Number.isInteger(out.picks) || out.picks < 1) throw new Error('--picks: an integer >= 1');
    } else if (a === '--plan') {
      out.plan = true;
    } else if (a === '--prototype') {
      out.prototype = true;
    } else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npx tsx bench/select.ts [--sizes 10000,100000,1000000] [--picks 20] [--plan] [--prototype]',
      );
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path

let tmp: string | null = null;
let pgh: EmbeddedPostgresHandle | null = null;
let starting: Promise<EmbeddedPostgresHandle> | null = null;
let pool: pg.Pool | null = null;
let stopping = false;

/** Directories to remove: the temp dir, and the cluster's if resolveDataDir moved it elsewhere. */
function dirsToRemove(): string[] {
  const dirs: string[] = [];
  if (tmp) dirs.push(tmp);
  if (pgh && tmp && !pgh.dataDir.startsWith(tmp)) dirs.push(path.dirname(pgh.dataDir));
  return dirs;
}

// Every way out ends here (normal end, error, signal): remove the files synchronously.
process.on('exit', () => {
  for (const d of dirsToRemove()) rmSync(d, { recursive: true, force: true });
});
const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
for (const sig of Object.keys(SIGNAL_CODES) as Array<keyof typeof SIGNAL_CODES>) {
  process.on(sig, () => {
    if (stopping) process.exit(SIGNAL_CODES[sig]); // a second Ctrl-C: leave now
    stopping = true;
    // Connections checked out of the pool (e.g. the seeding transaction) emit 'error' when the
    // server goes away; while stopping that is expected and must not crash before cleanup.
    process.on('uncaughtException', () => {});
    process.stderr.write(`\n${sig}: stopping Postgres and removing ${tmp ?? 'nothing'}\n`);
    const leave = () => process.exit(SIGNAL_CODES[sig]);
    setTimeout(leave, 20_000).unref(); // never hang on a Postgres that does not stop
    // If the signal came while Postgres was starting, wait for it so it can be stopped too.
    void Promise.resolve(pgh ?? starting?.catch(() => null) ?? null)
      .then((h) => h?.stop())
      .catch(() => {})
      .finally(leave);
  });
}

async function cleanup(): Promise<void> {
  await pool?.end().catch(() => {});
  pool = null;
  await pgh?.stop().catch(() => {});
  for (const d of dirsToRemove()) await rm(d, { recursive: true, force: true }).catch(() => {});
  pgh = null;
  tmp = null;
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Stats {
  min: number;
  median: number;
  p95: number;
  max: number;
}

function stats(ms: number[]): Stats {
  const s = [...ms].sort((a, b) => a - b);
  const rank = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { min: s[0], median: rank(0.5), p95: rank(0.95), max: s[s.length - 1] };
}

type Picker = (db: Queryable, p: SelectParams) => Promise<SelectResult>;

async function measure(
  db: Queryable,
  pick: Picker,
  params: SelectParams,
  n: number,
): Promise<{ stats: Stats; last: SelectResult }> {
  let last = await pick(db, params); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    last = await pick(db, params);
    times.push(performance.now() - t0);
  }
  return { stats: stats(times), last };
}

/** A Queryable that records the statement and parameters of the next query, then runs it. */
function recorder(db: Queryable): Queryable & { sql: string; params: unknown[] } {
  const r = {
    sql: '',
    params: [] as unknown[],
    query: ((text: string, params: unknown[]) => {
      r.sql = text;
      r.params = params;
      return (db as pg.Pool).query(text, params);
    }) as unknown as pg.Pool['query'],
  };
  return r;
}

interface PlanNode {
  'Node Type': string;
  'Actual Total Time': number;
  'Actual Rows': number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Temp Read Blocks'?: number;
  'Temp Written Blocks'?: number;
  'Sort Method'?: string;
  'Sort Space Used'?: number;
  'Sort Space Type'?: string;
  Plans?: PlanNode[];
}

function walk(n: PlanNode, f: (n: PlanNode) => void): void {
  f(n);
  for (const c of n.Plans ?? []) walk(c, f);
}

async function explain(db: pg.Pool, pick: Picker, params: SelectParams, full: boolean): Promise<string> {
  const rec = recorder(db);
  await pick(rec, params);
  const res = await db.query<{
    'QUERY PLAN': Array<{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }>;
  }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${rec.sql}`, rec.params);
  const top = res.rows[0]['QUERY PLAN'][0];
  const p = top.Plan;
  const sorts: string[] = [];
  walk(p, (n) => {
    if (n['Sort Method'])
      sorts.push(`${n['Sort Method']} ${n['Sort Space Used']} kB ${n['Sort Space Type']}`);
  });
  const line =
    `top node ${p['Node Type']} rows=${p['Actual Rows']} | planning ${top['Planning Time'].toFixed(2)} ms` +
    ` | execution ${top['Execution Time'].toFixed(2)} ms | shared hit=${p['Shared Hit Blocks'] ?? 0}` +
    ` read=${p['Shared Read Blocks'] ?? 0} temp read=${p['Temp Read Blocks'] ?? 0}` +
    ` written=${p['Temp Written Blocks'] ?? 0}` +
    (sorts.length ? ` | sorts: ${sorts.join('; ')}` : '');
  if (!full) return line;
  const text = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${rec.sql}`, rec.params);
  return line + '\n' + text.rows.map((r) => '      ' + r['QUERY PLAN']).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Session states

const NOW = Date.parse('2025-12-28T06:00:07Z');

function freshParams(config: DrainConfig): SelectParams {
  return selectionParams(newSessionState('batch-drain-bench-fresh', NOW, config), config);
}

/**
 * A mid-session state built from the backlog itself: the first 200 FAILED phases (by run,
 * phase_index) attempted (every 4th twice), 60 of them done, every run touched sampled
 * (20-40 runs), of those the first 8 promising, the next 6 deprioritized, the next 5 stopped
 * for timeouts.
 */
async function midState(db: pg.Pool): Promise<SessionState> {
  const rows = (
    await db.query<{ run_id: string; phase_id: string }>(
      `SELECT run_id, phase_id FROM phases WHERE state = 'FAILED' ORDER BY run_id, phase_index, id LIMIT 200`,
    )
  ).rows;
  const s = newSessionState('batch-drain-bench-mid', NOW, parseDrainInput({}));
  const runs = [...new Set(rows.map((r) => r.run_id))];
  const attempts: Record<string, number> = {};
  rows.forEach((r, i) => (attempts[pairKey(r.run_id, r.phase_id)] = i % 4 === 3 ? 2 : 1));
  const stopped = runs.slice(14, 19);
  return {
    ...s,
    processed: 250,
    attempts,
    done: rows.filter((_, i) => i % 10 < 3).map((r) => pairKey(r.run_id, r.phase_id)),
    sampledRuns: runs,
    promisingRuns: runs.slice(0, 8),
    deprioritizedRuns: runs.slice(8, 14),
    stoppedRuns: Object.fromEntries(stopped.map((r) => [r, `run ${r} has 2 timeouts (limit: 2)`])),
    recent: [
      {
        runId: runs[runs.length - 1],
        phaseId: rows[rows.length - 1].phase_id,
        attempt: 1,
        success: false,
        finalState: 'FAILED',
        timedOut: false,
        cancelled: false,
        events: 0,
        durationSeconds: 10,
        errorMessage: null,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------

const fmt = (x: number) => x.toFixed(2).padStart(9);

/**
 * States on which the prototype must return exactly what selectFailedPhase returns: the bench
 * scenarios plus prefixes, a run filter, a lower attempt limit, a lease held by another session.
 */
async function equivalenceStates(db: pg.Pool, mid: SessionState): Promise<Array<[string, SelectParams]>> {
  const firstFailedRun = (
    await db.query<{ run_id: string }>(`SELECT run_id FROM phases WHERE state = 'FAILED' ORDER BY id LIMIT 1`)
  ).rows[0].run_id;
  const fresh = (over: Partial<DrainConfig>) => freshParams(parseDrainInput(over));
  const allRuns = (
    await db.query<{ run_id: string }>(
      `SELECT DISTINCT run_id FROM phases WHERE state = 'FAILED' ORDER BY run_id`,
    )
  ).rows.map((r) => r.run_id);
  const blocked = (runs: string[]) => ({
    blockedRuns: runs,
    blockedReasons: runs.map((r) => `run ${r} has 2 timeouts (limit: 2)`),
  });
  const midWith = (over: Partial<DrainConfig>) => selectionParams(mid, parseDrainInput(over));
  return [
    ['fresh', fresh({})],
    ['fresh, no skip-runs-with-queued', fresh({ skipRunsWithQueued: false })],
    ['mid', midWith({})],
    ['mid, no skip-runs-with-queued', midWith({ skipRunsWithQueued: false })],
    ['mid, maxAttemptsPerPhase 1', midWith({ maxAttemptsPerPhase: 1, skipRunsWithQueued: false })],
    ['fresh, skip prefixes', fresh({ skipRunPrefixes: ['synth-run-0000', 'synth-run-00010'] })],
    ['mid, skip prefixes', midWith({ skipRunPrefixes: ['synth-run-0000'], skipRunsWithQueued: false })],
    ['fresh, one run', fresh({ runId: firstFailedRun })],
    ['mid, one run', midWith({ runId: mid.sampledRuns[0], skipRunsWithQueued: false })],
    [
      'mid, run filter on a stopped run',
      midWith({ runId: Object.keys(mid.stoppedRuns)[0] ?? mid.sampledRuns[0] }),
    ],
    ['fresh, unknown run', fresh({ runId: 'no-such-run' })],
    ['fresh, all runs but 3 stopped', { ...fresh({}), ...blocked(allRuns.slice(0, -3)) }],
    ['fresh, every run stopped', { ...fresh({}), ...blocked(allRuns) }],
    [
      'mid, all runs but 3 stopped',
      { ...midWith({ skipRunsWithQueued: false }), ...blocked(allRuns.slice(3)) },
    ],
    ...(await randomStates(db, 24)),
  ];
}

/** Deterministic pseudo-random mid-session states over the first 120 runs with FAILED phases. */
async function randomStates(db: pg.Pool, n: number): Promise<Array<[string, SelectParams]>> {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pickSome = <T>(xs: T[], p: number) => xs.filter(() => rnd() < p);
  const rows = (
    await db.query<{ run_id: string; phase_id: string }>(
      `SELECT run_id, phase_id FROM phases WHERE state = 'FAILED'
        AND run_id IN (SELECT DISTINCT run_id FROM phases WHERE state = 'FAILED' ORDER BY run_id LIMIT 120)`,
    )
  ).rows;
  const runs = [...new Set(rows.map((r) => r.run_id))];
  const out: Array<[string, SelectParams]> = [];
  for (let i = 0; i < n; i++) {
    const attempted = pickSome(rows, 0.05 + rnd() * 0.4);
    const sampled = [...new Set(attempted.map((r) => r.run_id)), ...pickSome(runs, 0.1)];
    const config = parseDrainInput({
      maxAttemptsPerPhase: 1 + Math.floor(rnd() * 2),
      skipRunsWithQueued: rnd() < 0.5,
      skipRunPrefixes: rnd() < 0.3 ? [runs[Math.floor(rnd() * runs.length)].slice(0, -2)] : [],
      runId: rnd() < 0.15 ? runs[Math.floor(rnd() * runs.length)] : null,
    });
    const s: SessionState = {
      ...newSessionState(`batch-drain-bench-rnd-${i}`, NOW, config),
      attempts: Object.fromEntries(
        attempted.map((r) => [pairKey(r.run_id, r.phase_id), 1 + Math.floor(rnd() * 2)]),
      ),
      done: pickSome(attempted, 0.3).map((r) => pairKey(r.run_id, r.phase_id)),
      sampledRuns: sampled,
      promisingRuns: pickSome(sampled, 0.4),
      deprioritizedRuns: pickSome([...sampled, ...pickSome(runs, 0.05)], 0.3),
      stoppedRuns: Object.fromEntries(
        pickSome(sampled, 0.2).map((r) => [r, `run ${r} has 2 timeouts (limit: 2)`]),
      ),
    };
    out.push([`random #${i}`, selectionParams(s, config)]);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  tmp = await mkdtemp(path.join(os.tmpdir(), 'drain-bench-select-'));
  await chmod(tmp, 0o755); // as root, Postgres runs as 'postgres' and must reach its data dir
  const port = await getFreePort();
  starting = startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), port });
  pgh = await starting;
  if (stopping) return;
  pool = createPool(pgh.url, 2);
  await migrate(pool);
  const setting = async (name: string) =>
    (await pool!.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0].v;
  const version = await setting('server_version');
  const sb = await setting('shared_buffers');
  const wm = await setting('work_mem');
  console.log(
    `Postgres ${version} (shared_buffers ${sb}, work_mem ${wm}), node ${process.version}, ${os.cpus().length} CPUs; ` +
      `${args.picks} picks per scenario after 1 warm-up; times in ms`,
  );
  console.log(
    'strategy: TRUNCATE + reseed per size (runs = size/50 + 1, 10% FAILED, 2% QUEUED), then ANALYZE' +
      (args.prototype ? `; --prototype: index ${RANK_INDEX} built after seeding` : ''),
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
  if (args.prototype) await pool.query(PROTOTYPE_DDL[0]);

  for (const size of args.sizes) {
    if (stopping) return;
    await pool.query(`DROP INDEX IF EXISTS ${RANK_INDEX}`);
    await pool.query('TRUNCATE phases, runs RESTART IDENTITY CASCADE');
    const t0 = performance.now();
    // size/50 + 1 runs: with exactly size/50 runs, seedSynthetic's state scramble (which depends
    // on g mod 10000) makes every phase of a run share one state once runs is a multiple of 10000.
    const runs = Math.floor(size / 50) + 1;
    const seeded = await seedSynthetic(pool, { phases: size, runs, failedFraction: 0.1 });
    const seedMs = performance.now() - t0;
    let indexNote = '';
    if (args.prototype) {
      const t1 = performance.now();
      await pool.query(PROTOTYPE_DDL[1]);
      const mb = (
        await pool.query<{ mb: string }>(`SELECT (pg_relation_size($1) / 1048576.0)::numeric(10,1) AS mb`, [
          RANK_INDEX,
        ])
      ).rows[0].mb;
      indexNote = `; ${RANK_INDEX} built in ${((performance.now() - t1) / 1000).toFixed(1)} s (${mb} MB)`;
    }
    await pool.query('ANALYZE');
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
        `; mid-session: ${midFailed.attemptedRuns.length} attempted, ${midFailed.doneRuns.length} done, ` +
        `${midFailed.blockedRuns.length} stopped, ${midFailed.sampledRuns.length} sampled, ` +
        `${midFailed.promisingRuns.length} promising, ${midFailed.deprioritizedRuns.length} deprioritized` +
        indexNote,
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
    const scenarios: Array<[string, Picker, SelectParams]> = [
      ['failed/fresh', selectFailedPhase, freshParams(failedCfg)],
      ['failed/mid', selectFailedPhase, midFailed],
      ['failed/fresh-q', selectFailedPhase, freshParams(noSkipCfg)],
      ['failed/mid-q', selectFailedPhase, midNoSkip],
      ['failed/worst', selectFailedPhase, worst],
      ['queued/fresh', selectQueuedPhase, freshParams(queuedCfg)],
      ['queued/mid', selectQueuedPhase, midQueued],
    ];
    if (args.prototype) {
      scenarios.push(
        ['proto/fresh', selectFailedPhasePrototype, freshParams(failedCfg)],
        ['proto/mid', selectFailedPhasePrototype, midFailed],
        ['proto/fresh-q', selectFailedPhasePrototype, freshParams(noSkipCfg)],
        ['proto/mid-q', selectFailedPhasePrototype, midNoSkip],
        ['proto/worst', selectFailedPhasePrototype, worst],
      );
    }
    for (const [name, pick, params] of scenarios) {
      if (stopping) return;
      const { stats: st, last } = await measure(pool, pick, params, args.picks);
      const picked = last.pick ? `${last.pick.runId}/${last.pick.phaseId} (${last.pick.category})` : 'none';
      console.log(
        `${String(size).padStart(9)} ${name.padEnd(16)} ${fmt(st.min)} ${fmt(st.median)} ${fmt(st.p95)} ${fmt(st.max)}  ${picked} / ${last.passedOver.length}`,
      );
    }
    if (args.prototype) {
      // Same answer as selectFailedPhase (pick and passed-over list), with a lease held elsewhere.
      const leaseRun = mid.sampledRuns[1] ?? mid.sampledRuns[0];
      const freeRun = (
        await pool.query<{ run_id: string }>(
          `SELECT run_id FROM phases WHERE state = 'FAILED' AND NOT (run_id = ANY($1)) ORDER BY id LIMIT 1`,
          [mid.sampledRuns],
        )
      ).rows[0].run_id;
      let same = 0;
      const kinds = { none: 0, big: 0, rest: 0, fullWindow: 0 };
      const differ: string[] = [];
      const states = await equivalenceStates(pool, mid);
      for (const withLease of [false, true]) {
        if (withLease) {
          await pool.query(
            `INSERT INTO drain_leases (run_id, session_id, holder, expires_at)
             SELECT unnest($1::text[]), 'another-session', 'bench', now() + interval '1 hour'`,
            [[leaseRun, freeRun]],
          );
        }
        for (const [name, params] of states) {
          const a = await selectFailedPhase(pool, params);
          const b = await selectFailedPhasePrototype(pool, params);
          const essence = (r: SelectResult) =>
            JSON.stringify({
              pick: r.pick,
              passedOver: r.passedOver,
              waiting: (r as { waitingForLease?: boolean }).waitingForLease,
            });
          if (essence(a) === essence(b)) {
            same++;
          } else {
            differ.push(`${name}${withLease ? ' (lease)' : ''}`);
            if (process.env.BENCH_DEBUG) console.error(JSON.stringify(a), '\n', JSON.stringify(b));
          }
          if (!a.pick) kinds.none++;
          else if ([...params.sampledRuns, ...params.deprioritizedRuns].includes(a.pick.runId)) kinds.rest++;
          else kinds.big++;
          if (a.passedOver.length >= params.maxSkipsReported) kinds.fullWindow++;
        }
      }
      await pool.query(`DELETE FROM drain_leases WHERE session_id = 'another-session'`);
      console.log(
        `${String(size).padStart(9)} prototype = selectFailedPhase on ${same}/${states.length * 2} states` +
          ` (picks: ${kinds.big} unsampled, ${kinds.rest} sampled/deprioritized, ${kinds.none} none;` +
          ` ${kinds.fullWindow} with a full passed-over window)` +
          (differ.length ? `; differs on: ${differ.join(', ')}` : ''),
      );
    }
    if (size === largest) {
      plans.push(
        `  failed/fresh: ${await explain(pool, selectFailedPhase, freshParams(failedCfg), args.plan)}`,
      );
      plans.push(`  failed/mid:   ${await explain(pool, selectFailedPhase, midFailed, args.plan)}`);
      plans.push(
        `  queued/fresh: ${await explain(pool, selectQueuedPhase, freshParams(queuedCfg), args.plan)}`,
      );
      if (args.prototype) {
        plans.push(
          `  proto/fresh:  ${await explain(pool, selectFailedPhasePrototype, freshParams(failedCfg), args.plan)}`,
        );
        plans.push(
          `  proto/mid:    ${await explain(pool, selectFailedPhasePrototype, midFailed, args.plan)}`,
        );
      }
    }
  }
  console.log();
  console.log(`EXPLAIN (ANALYZE, BUFFERS) at ${largest} phases:`);
  for (const p of plans) console.log(p);
}

main()
  .catch((err: unknown) => {
    if (stopping) return; // the connection died because we are stopping: not an error
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  })
  .finally(() => (stopping ? undefined : cleanup()));
