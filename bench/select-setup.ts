/**
 * Plumbing of bench/select.ts: arguments, a throw-away embedded Postgres removed on every exit
 * path (Ctrl-C included) with the stores of a SQLite backlog closed first, timing, EXPLAIN
 * summaries, the tables a pick's statement names, and the session states of the scenarios.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Queryable } from '../src/db/pool.js';
import { tablesNamedIn, type BacklogTable } from '../src/db/backlog-snapshot.js';
import type { Stores } from '../src/db/stores.js';
import type { SelectResult } from '../src/db/select.js';
import { parseDrainInput } from '../src/domain/input.js';
import { selectionParams, type SelectParams } from '../src/domain/selection.js';
import { newSessionState, pairKey, type SessionState } from '../src/domain/session-state.js';
import type { DrainConfig } from '../src/domain/types.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/runtime/postgres.js';
import { getFreePort } from '../src/runtime/ports.js';

// ---------------------------------------------------------------------------------------------
// Arguments

export interface Args {
  sizes: number[];
  picks: number;
  plan: boolean;
  /** A SQLite backlog per size (records in the bench Postgres) instead of PostgreSQL's phases. */
  sqlite: boolean;
}

const USAGE =
  'usage: npx tsx bench/select.ts [--sizes 10000,100000,1000000] [--picks 20] [--plan] [--sqlite]';

export function parseArgs(argv: string[]): Args {
  const out: Args = { sizes: [10_000, 100_000, 1_000_000], picks: 20, plan: false, sqlite: false };
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
    } else if (a === '--sqlite') {
      out.sqlite = true;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Postgres, and cleanup on every exit path

let tmp: string | null = null;
let pgh: EmbeddedPostgresHandle | null = null;
let starting: Promise<EmbeddedPostgresHandle> | null = null;
let pool: pg.Pool | null = null;
let stores: Stores | null = null;
let stopping = false;

/** True once a signal asked us to stop: the caller returns, the handler cleans up. */
export const isStopping = () => stopping;

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

/** A migrated throw-away embedded Postgres in a temp dir; null if a signal came meanwhile. */
export async function startBenchPostgres(): Promise<pg.Pool | null> {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'drain-bench-select-'));
  await chmod(tmp, 0o755); // as root, Postgres runs as 'postgres' and must reach its data dir
  const port = await getFreePort();
  starting = startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), port });
  pgh = await starting;
  if (stopping) return null;
  pool = createPool(pgh.url, 2);
  await migrate(pool);
  return pool;
}

/** The bench Postgres's URL and temp dir (after startBenchPostgres). */
export function benchPostgres(): { url: string; tmp: string } {
  if (!pgh || !tmp) throw new Error('the bench Postgres is not running');
  return { url: pgh.url, tmp };
}

/** The stores of the current SQLite backlog: closed by cleanup if still open. */
export function trackStores(s: Stores | null): void {
  stores = s;
}

export async function cleanup(): Promise<void> {
  await stores?.close().catch(() => {});
  stores = null;
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

export type Picker = (db: Queryable, p: SelectParams) => Promise<SelectResult>;

/**
 * One warm-up pick, then `n` timed picks (wall time of the call, round trip included). `db`
 * gives the Queryable of each pick (a new one per pick on SQLite, as the worker takes it).
 */
export async function measure(
  db: () => Queryable,
  pick: Picker,
  params: SelectParams,
  n: number,
): Promise<{ stats: Stats; last: SelectResult }> {
  let last = await pick(db(), params);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    last = await pick(db(), params);
    times.push(performance.now() - t0);
  }
  return { stats: stats(times), last };
}

/** Median wall time of `fn` over `n` calls after one warm-up. */
export async function medianMs(fn: () => unknown, n: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return stats(times).median;
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
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Temp Read Blocks'?: number;
  'Temp Written Blocks'?: number;
  'Sort Method'?: string;
  'Sort Space Used'?: number;
  'Sort Space Type'?: string;
  Plans?: PlanNode[];
}

/** The Autopack tables a pick's statement names (what a SQLite backlog snapshots for it). */
export async function namedTables(
  db: Queryable,
  pick: Picker,
  params: SelectParams,
): Promise<BacklogTable[]> {
  const rec = recorder(db);
  await pick(rec, params);
  return tablesNamedIn(rec.sql);
}

function walk(n: PlanNode, f: (n: PlanNode) => void): void {
  f(n);
  for (const c of n.Plans ?? []) walk(c, f);
}

/** One line: top node, planning/execution time, buffers, sorts, indexes used (--plan: the plan). */
export async function explain(
  db: pg.Pool,
  pick: Picker,
  params: SelectParams,
  full: boolean,
): Promise<string> {
  const rec = recorder(db);
  await pick(rec, params);
  const res = await db.query<{
    'QUERY PLAN': Array<{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }>;
  }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${rec.sql}`, rec.params);
  const top = res.rows[0]['QUERY PLAN'][0];
  const p = top.Plan;
  const sorts: string[] = [];
  const indexes = new Set<string>();
  walk(p, (n) => {
    if (n['Sort Method'])
      sorts.push(`${n['Sort Method']} ${n['Sort Space Used']} kB ${n['Sort Space Type']}`);
    if (n['Index Name']) indexes.add(n['Index Name']);
  });
  const line =
    `top node ${p['Node Type']} rows=${p['Actual Rows']} | planning ${top['Planning Time'].toFixed(2)} ms` +
    ` | execution ${top['Execution Time'].toFixed(2)} ms | shared hit=${p['Shared Hit Blocks'] ?? 0}` +
    ` read=${p['Shared Read Blocks'] ?? 0} temp read=${p['Temp Read Blocks'] ?? 0}` +
    ` written=${p['Temp Written Blocks'] ?? 0}` +
    (sorts.length ? ` | sorts: ${sorts.join('; ')}` : '') +
    (indexes.size ? ` | indexes: ${[...indexes].sort().join(', ')}` : '');
  if (!full) return line;
  const text = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${rec.sql}`, rec.params);
  return line + '\n' + text.rows.map((r) => '      ' + r['QUERY PLAN']).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Session states

const NOW = Date.parse('2025-12-28T06:00:07Z');

export function freshParams(config: DrainConfig): SelectParams {
  return selectionParams(newSessionState('batch-drain-bench-fresh', NOW, config), config);
}

/**
 * A mid-session state built from the backlog itself: the first 200 FAILED phases (by run,
 * phase_index) attempted (every 4th twice), 60 of them done, every run touched sampled
 * (20-40 runs), of those the first 8 promising, the next 6 deprioritized, the next 5 stopped
 * for timeouts.
 */
export async function midState(db: Queryable): Promise<SessionState> {
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
