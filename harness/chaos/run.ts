/**
 * The chaos engine behind `npm run chaos` (bench/chaos.ts, the long form) and
 * test/e2e/chaos.test.ts (the short form): real services, real `drain worker` subprocesses on
 * two "hosts", real faults, and invariants counted from the records afterwards. The plan is in
 * plan.ts, the hosts in hosts.ts, the drain (sessions and faults in turn) in drain.ts, the
 * faults in faults.ts, our processes in /proc in processes.ts, the invariants in invariants.ts
 * and the report in report.ts.
 *
 * Scenario. One backlog of `runs × phasesPerRun` FAILED phases, each taking 1–3 s: most run
 * the reference executor (src/sim, scenario `complete`), `setsidPhases` of them a shell script
 * that forks a `setsid sleep 600` grandchild (it escapes the process group) and then sets the
 * phase COMPLETE itself (node + pg). Two sessions without a run filter drain it at once,
 * competing for its runs, on `workers` (3) `drain worker` processes split over two hosts:
 * floor(n/2) in this (the root) namespace with the default `--max-concurrent` (20), the others
 * in host "chaos-b", a PID + UTS + mount namespace of its own (hosts.ts), with
 * `--max-concurrent 1`. The difference matters to a partition: a stopped worker's open
 * activity polls stay at the Temporal server, which hands them retries of its own drain (each
 * waits out the heartbeat timeout and runs late, after SIGCONT, as a stale try); a worker busy
 * with its one drain holds no such poll, so its drain is retried on another worker meanwhile.
 * The workers run with short fence bounds (renewal R = 1 s, F = 4 s, so S = 8 s;
 * src/domain/fence.ts) and the sessions with a heartbeat timeout of 10 s (the workers
 * heartbeat every second).
 *
 * Faults land at random points of the drain, one at a time, in a random order; fault i fires
 * a random 0–2.5 s after the i-th of a sorted list of random progress thresholds (final
 * attempt records, within the first 70% of the backlog, 50% in the short form) is reached:
 * - kill: `kill -9` of a worker (one running an executor preferred); a replacement is started
 *   on the same host at once. A worker of chaos-b killed is retried on whichever host polls
 *   first: the report counts the retries that ran on the other host.
 * - temporal: the Temporal dev server restarted; postgres: Postgres stopped for a while.
 * - partition: SIGSTOP of a worker (one running an executor preferred) for longer than the
 *   heartbeat timeout (+ 2 s) and until each try it was running has a later try started on
 *   another worker (at most 2 × heartbeat timeout + F + 4 s: a worker of host A is handed its
 *   own retries meanwhile), then SIGCONT. Half of them (by the seed) first stretch an executor
 *   (below) and stop its worker, so the executor still works when the retry supersedes it (its
 *   supervisor ends it); without, it usually ends by itself and the retry adopts its result.
 * - slowdb: a stretched executor is started, then row locks are held on the drain_leases rows
 *   of every run being drained (`BEGIN; SELECT … FOR UPDATE`) for F + 2R + 2 s and released:
 *   the supervisors cannot renew fence and lease (one statement, timed out after R), so each
 *   ends its executor after F and the try is recorded `lost`.
 * Stretching: the chaos executor first works the seconds written in the stretch file, when
 * there are any, before it touches its phase; the file is removed once such an executor runs.
 *
 * A seeded RNG (printed; `CHAOS_SEED` replays it) decides the plan: phase durations, which
 * phases fork, fault order, thresholds, delays, stretches and target picks. The timing of real
 * processes is not replayable, so a replay repeats the plan, not every interleaving.
 *
 * Invariants (each printed as `name: N (want 0)`):
 * - attempts without a final record: (session, exec_run_id, run, phase, attempt) groups in
 *   drain_attempts with no row finished | reconciled | cancelled | lost | abandoned. A try
 *   stopped by a slow database is recorded `lost`, which is final; a later attempt of its
 *   phase is a group of its own. (Unchanged by the fenced tries: nothing to adjust.)
 * - overlapping attempts on one run: two executors alive at once for one run, across both
 *   sessions and hosts, by the records. Tries that ran an executor are the rows with a pid (and
 *   interrupted rows whose own log has executor output after the header: their worker died
 *   before the pid landed). A try's executor is alive from its started_at until: finished_at
 *   for finished, cancelled and lost rows (the worker writes it after the group and its
 *   escapees are gone); for an interrupted row, the later of its finished_at (its supervisor's
 *   record of the executor's true end, or the fence bound) and the moment the next try of the
 *   same attempt began (its started_at; a reconciled next try copies the old start, so its
 *   finished_at). An interrupted row without a later try ends at its own finished_at; a row
 *   still running ends now. Two such intervals of one run_id that intersect (strictly) are a
 *   violation.
 * - executors of two tries alive at once on one run (sampled): /proc of this namespace, which
 *   holds both hosts' processes, every 300 ms: processes carrying two different tries' tags
 *   (supervisors aside) of one run, all still alive when re-checked after the scan.
 * - phases run again after they completed: a try that ran an executor and started after the
 *   phase's COMPLETE moment (the finished_at of its earliest finished/reconciled row with
 *   final_state COMPLETE, any session).
 * - processes left alive: live processes carrying DRAIN_ATTEMPT_TAG in /proc/<pid>/environ
 *   (any tag, either host) whose DATABASE_URL is this run's database, once both sessions are over.
 * - missing or truncated logs: rows whose stdout_path or stderr_path is missing, does not
 *   exist or does not start with our header (`DATABASE_URL=`), and finished rows whose stdout
 *   log does not end with our trailer (`# --- … exit code …`).
 * - late writes of partitioned workers: rows of a stopped worker that a retry had marked
 *   interrupted by the time it was continued, whose status, final_state, success, return_code
 *   or error_message changed afterwards (their true end may still be recorded).
 * - executors not stopped under a held lease lock: tries running when a slow database locked
 *   their runs' lease rows whose executor ended (process_ended_at, else finished_at, else now)
 *   more than R + 1 s after the locks were released.
 * - sessions completed: 2 of 2.
 */
import { startTestEnv, type TestEnv } from '../env.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { ChaosHosts, HOST_B, type HostKey } from './hosts.js';
import { drainUnderFaults, type Run } from './drain.js';
import {
  chaosSeed,
  describeFault,
  planChaos,
  plannedCounts,
  resolveOptions,
  writeExecutor,
  type ChaosOptions,
  type ChaosPlan,
  type ResolvedOptions,
} from './plan.js';
import { countInvariants, readAttempts, type Invariant } from './invariants.js';
import { ExecutorSampler, ourTaggedProcesses } from './processes.js';
import { recordStats, statsLines, type ChaosStats } from './report.js';

export type { FaultKind } from './plan.js';

/** The short form (test/e2e/chaos.test.ts, part of `npm test`). */
export const SHORT_FORM: ChaosOptions = {
  runs: 4,
  phasesPerRun: 4,
  setsidPhases: 3,
  kills: 3,
  temporalRestarts: 1,
  postgresStops: 1,
  postgresDownSeconds: 8,
  partitions: 1,
  slowDatabases: 1,
  // 7 faults, one at a time, some lasting 8–12 s: within the first half of 16 phases, so that
  // the sessions are still draining when the last one's turn comes.
  faultReach: 0.5,
  deadlineSeconds: 150,
};

/** The long form (`npm run chaos`). */
export const LONG_FORM: ChaosOptions = {
  runs: 8,
  phasesPerRun: 5,
  setsidPhases: 8,
  kills: 10,
  temporalRestarts: 2,
  postgresStops: 2,
  postgresDownSeconds: 15,
  partitions: 2,
  slowDatabases: 2,
  deadlineSeconds: 900,
};

interface ChaosResult {
  seed: number;
  ok: boolean;
  invariants: Invariant[];
  stats: ChaosStats;
  /** Every line printed, in order. */
  log: string[];
}

function newStats(plan: ChaosPlan, o: ResolvedOptions): ChaosStats {
  return {
    seed: plan.seed,
    phases: plan.phases.length,
    setsidPhases: plan.phases.filter((p) => p.setsid).length,
    setupSeconds: 0,
    drainSeconds: 0,
    totalSeconds: 0,
    fence: o.fence,
    heartbeatTimeoutSeconds: o.heartbeatTimeoutSeconds,
    planned: plannedCounts(o),
    faults: [],
    workersSpawned: 0,
    hosts: { A: '', B: HOST_B, pidNamespaceB: '', spawned: { A: 0, B: 0 } },
    rowsByStatus: {},
    triesByHost: {},
    processesReaped: 0,
    phasesByState: {},
    sessions: [],
    interrupted: [],
    lost: [],
    abandoned: [],
    crossHost: { cross: 0, of: 0, lines: [] },
    faultOutcomes: [],
    samples: 0,
    sampledOverlaps: [],
  };
}

/** Host B's namespace and the workers on both hosts, each up (`worker running`). */
async function startWorkers(env: TestEnv, o: ResolvedOptions): Promise<ChaosHosts> {
  const hosts = await ChaosHosts.start(env, {
    env: {
      DRAIN_FENCE_RENEW_MS: String(o.fence.renewMs),
      DRAIN_FENCE_SECONDS: String(o.fence.fenceSeconds),
    },
    // Host A: the default --max-concurrent; host B: one drain at a time (see the top).
    args: { A: [], B: ['--max-concurrent', '1'] },
  });
  try {
    const onA = Math.floor(o.workers / 2);
    const first = await Promise.all(
      Array.from({ length: o.workers }, (_, i) => hosts.spawn((i < onA ? 'A' : 'B') as HostKey)),
    );
    const up = await Promise.all(first.map((w) => hosts.ready(w, 120_000)));
    if (!up.every(Boolean)) {
      throw new Error(`workers did not start:\n${first.map((w) => w.output().slice(-2000)).join('\n---\n')}`);
    }
    return hosts;
  } catch (err) {
    await hosts.teardown();
    throw err;
  }
}

/** Counts the invariants, kills what is left, prints the report. */
async function report(run: Run): Promise<Invariant[]> {
  const { env, stats } = run;
  for (const id of run.ids)
    if (!run.closed.has(id)) stats.sessions.push({ id, status: 'RUNNING (deadline)' });
  stats.sessions.unshift(...run.ids.filter((id) => run.closed.has(id)).map((id) => run.closed.get(id)!));
  const leftAlive = ourTaggedProcesses(env.databaseUrl);
  const rows = await readAttempts(env.pool);
  const invariants = countInvariants({
    rows,
    leftAlive,
    sessions: stats.sessions,
    sampledOverlaps: run.sampler.overlaps,
    partitions: stats.faults.flatMap((f) => (f.partition ? [f.partition] : [])),
    slowdbs: stats.faults.flatMap((f) => (f.slowdb ? [f.slowdb] : [])),
    fence: run.o.fence,
  });
  for (const p of leftAlive) killQuietly(p.pid); // ours: this run's database is in its environment
  for (const id of run.ids.filter((x) => !run.closed.has(x))) {
    await env.client.workflow
      .getHandle(id)
      .terminate('chaos: deadline')
      .catch(() => {});
  }
  await recordStats(stats, rows, env.pool);
  stats.workersSpawned = run.hosts.spawned.A + run.hosts.spawned.B;
  stats.hosts.spawned = { ...run.hosts.spawned };
  stats.samples = run.sampler.samples;
  stats.sampledOverlaps = run.sampler.overlaps;
  stats.totalSeconds = (Date.now() - run.t0) / 1000;
  for (const line of statsLines(stats)) run.print(line);
  for (const inv of invariants) run.print(inv.line);
  for (const inv of invariants.filter((x) => !x.ok)) {
    run.print(`${inv.name}: evidence`);
    for (const e of inv.evidence.slice(0, 40)) run.print(`  ${e}`);
    if (inv.evidence.length > 40) run.print(`  … ${inv.evidence.length - 40} more`);
  }
  if (invariants.some((i) => !i.ok)) {
    for (const w of run.hosts.live)
      run.print(`worker ${w.identity} output (tail):\n${w.output().slice(-1500)}`);
  }
  return invariants;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** What setting a run up needs. */
interface Setup {
  opts: ChaosOptions;
  o: ResolvedOptions;
  plan: ChaosPlan;
  t0: number;
  print(line: string): void;
}

/** Prints the seed (to replay it) and the plan. */
function printPlan({ o, plan, print }: Setup): void {
  print(`chaos seed: ${plan.seed} (replay: CHAOS_SEED=${plan.seed})`);
  const onA = Math.floor(o.workers / 2);
  print(
    `plan: ${plan.phases.length} phases (${o.runs} runs × ${o.phasesPerRun}, ${plan.phases.filter((p) => p.setsid).length} forking a setsid grandchild), ` +
      `2 sessions, ${o.workers} workers on 2 hosts (${onA} here, ${o.workers - onA} in ${HOST_B}); ` +
      `fence R ${o.fence.renewMs / 1000}s F ${o.fence.fenceSeconds}s, heartbeat timeout ${o.heartbeatTimeoutSeconds}s; ` +
      `faults: ${plan.faults.map(describeFault).join(' ')}`,
  );
}

/**
 * Seeds the backlog, writes the executor and starts the workers on both hosts (handed to
 * `started` at once, so that they are torn down whatever fails after).
 */
async function setUp(
  s: Setup,
  env: TestEnv,
  started: (hosts: ChaosHosts) => void,
): Promise<{ hosts: ChaosHosts; executor: string; stats: ChaosStats }> {
  const { o, plan } = s;
  await seedPhases(
    env.pool,
    plan.phases.map((p): PhaseSeed => ({
      runId: p.runId,
      phaseId: p.phaseId,
      sim: { scenario: 'complete', events: 1, seconds: p.seconds },
    })),
  );
  const executor = writeExecutor(env.dir, plan.phases);
  const hosts = await startWorkers(env, o);
  started(hosts);
  const stats = newStats(plan, o);
  stats.hosts = { ...stats.hosts, A: hosts.hostA, pidNamespaceB: hosts.pidNamespaceB };
  stats.setupSeconds = (Date.now() - s.t0) / 1000;
  const onA = Math.floor(o.workers / 2);
  s.print(
    `setup: Postgres, Temporal dev server and ${o.workers} workers up in ${stats.setupSeconds.toFixed(1)}s ` +
      `(${hosts.hostA}: ${onA}, ${HOST_B} in ${hosts.pidNamespaceB}: ${o.workers - onA})`,
  );
  return { hosts, executor, stats };
}

/** The run's shared state, its /proc sampler not yet sampling. */
function newRun(s: Setup, env: TestEnv, hosts: ChaosHosts, stats: ChaosStats): Run {
  const { opts, o, plan, t0 } = s;
  const run: Run = {
    o,
    plan,
    env,
    hosts,
    stats,
    print: s.print,
    stamp: () => `[+${((Date.now() - (run.drainStart || t0)) / 1000).toFixed(1).padStart(6)}s]`,
    sampler: null as unknown as ExecutorSampler,
    t0,
    drainStart: 0,
    ids: [`chaos-${plan.seed}-a`, `chaos-${plan.seed}-b`],
    closed: new Map(),
    over: () =>
      run.closed.size === run.ids.length ||
      (run.drainStart > 0 && Date.now() > run.drainStart + o.deadlineSeconds * 1000) ||
      opts.signal?.aborted === true,
  };
  run.sampler = new ExecutorSampler(env.databaseUrl, run.stamp);
  return run;
}

/** Runs the chaos scenario and counts the invariants. Never throws for a failed invariant. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const log: string[] = [];
  const print = (line: string) => {
    log.push(line);
    (opts.print ?? console.log)(line);
  };
  const o = resolveOptions(opts);
  const setup: Setup = { opts, o, plan: planChaos(o, chaosSeed(opts.seed)), t0, print };
  printPlan(setup);
  const env = await startTestEnv();
  let hosts: ChaosHosts | null = null;
  try {
    const ready = await setUp(setup, env, (h) => (hosts = h));
    const run = newRun(setup, env, ready.hosts, ready.stats);
    await drainUnderFaults(run, ready.executor);
    const invariants = await report(run);
    return { seed: setup.plan.seed, ok: invariants.every((i) => i.ok), invariants, stats: run.stats, log };
  } finally {
    for (const p of ourTaggedProcesses(env.databaseUrl)) killQuietly(p.pid);
    await (hosts as ChaosHosts | null)?.teardown();
    await env.teardown();
  }
}
