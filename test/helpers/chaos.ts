/**
 * The chaos engine behind `npm run chaos` (bench/chaos.ts, the long form) and
 * test/e2e/chaos.test.ts (the short form): real services, real `drain worker` subprocesses,
 * real faults, and invariants counted from the records afterwards.
 *
 * Scenario. One backlog of `runs × phasesPerRun` FAILED phases, each taking 1–3 s: most run
 * the reference executor (src/sim, scenario `complete`), `setsidPhases` of them a shell script
 * that forks a `setsid sleep 600` grandchild (it escapes the process group) and then sets the
 * phase COMPLETE itself (node + pg). Two sessions without a run filter drain it at once,
 * competing for its runs, on `workers` (3) `drain worker` processes with the default
 * `--max-concurrent`. Faults land at random points of the drain: `kill -9` of a worker (a
 * replacement is spawned at once, so 3 keep running; a worker that is running an executor is
 * preferred), a restart of the Temporal dev server, Postgres stopped for a while. They come one
 * at a time, in a random order; fault i fires a random 0–2.5 s after the i-th of a sorted
 * list of random progress thresholds (final attempt records, within the first 70% of the
 * backlog) is reached, so every fault hits a session in flight.
 *
 * A seeded RNG (printed; `CHAOS_SEED` replays it) decides the plan: phase durations, which
 * phases fork, fault order, thresholds, delays and which idle worker is killed. The timing of
 * real processes is not replayable, so a replay repeats the plan, not every interleaving.
 *
 * Invariants (each printed as `name: N (want 0)`):
 * - attempts without a final record: (session, exec_run_id, run, phase, attempt) groups in
 *   drain_attempts with no row finished | reconciled | cancelled | lost | abandoned.
 * - overlapping attempts on one run: two executors alive at once for one run, across both
 *   sessions. Tries that ran an executor are the rows with a pid (and interrupted rows whose
 *   own log has executor output after the header: their worker died before the pid landed).
 *   A try's executor is alive from its started_at until: finished_at for finished, cancelled
 *   and lost rows (the worker writes it after the group and its escapees are gone); for an
 *   interrupted row, the moment the next try of the same attempt began (its started_at; a
 *   reconciled next try copies the old start, so its finished_at): the retry marks the row
 *   interrupted, then kills the old group and its tagged escapees, and only then starts
 *   (or reconciles). An interrupted row without a later try ends at its own finished_at; a
 *   row still running ends now. Two such intervals of one run_id that intersect (strictly:
 *   a.start < b.end and b.start < a.end) are a violation; a retry starting exactly when its
 *   interrupted predecessor is closed is not.
 * - phases run again after they completed: a try that ran an executor and started after the
 *   phase's COMPLETE moment (the finished_at of its earliest finished/reconciled row with
 *   final_state COMPLETE, any session).
 * - processes left alive: live processes carrying DRAIN_ATTEMPT_TAG in /proc/<pid>/environ
 *   (any tag) whose DATABASE_URL is this chaos run's database (other suites on the machine
 *   have their own), once both sessions are over.
 * - missing or truncated logs: rows whose stdout_path or stderr_path is missing, does not
 *   exist or does not start with our header (`DATABASE_URL=`), and finished rows whose stdout
 *   log does not end with our trailer (`# --- … exit code …`).
 * - sessions completed: 2 of 2.
 * Also sampled while it runs (information, not asserted): /proc every 300 ms, runs with
 * processes of two different tries alive at once.
 */
import {
  chmodSync,
  closeSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  fstatSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startTestEnv, type TestEnv } from './env.js';
import { setPhaseCommand } from './autopack-writer.js';
import { seedPhases, type PhaseSeed } from '../../src/sim/seed.js';
import { TAG_VAR } from '../../src/runtime/containment.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import { projectRoot } from '../../src/runtime/paths.js';

export interface ChaosOptions {
  /** Default: CHAOS_SEED, else random. */
  seed?: number;
  runs: number;
  phasesPerRun: number;
  /** Phases run by the setsid-forking shell executor (the rest by the reference executor). */
  setsidPhases: number;
  workers?: number;
  kills: number;
  temporalRestarts: number;
  postgresStops: number;
  postgresDownSeconds: number;
  /** Executor time per phase, uniform in [min, max] seconds. */
  minSeconds?: number;
  maxSeconds?: number;
  /** Session input (default: the product default, 20). */
  heartbeatTimeoutSeconds?: number;
  /** Give up waiting for the sessions this long after they started. */
  deadlineSeconds: number;
  /** Stop waiting early (Ctrl-C of the bench): faults stop, invariants are still counted. */
  signal?: AbortSignal;
  print?: (line: string) => void;
}

/** The short form (test/e2e/chaos.test.ts, part of `npm test`). */
export const SHORT_FORM: ChaosOptions = {
  runs: 4,
  phasesPerRun: 3,
  setsidPhases: 3,
  kills: 3,
  temporalRestarts: 1,
  postgresStops: 1,
  postgresDownSeconds: 8,
  heartbeatTimeoutSeconds: 10,
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
  deadlineSeconds: 900,
};

export interface Invariant {
  name: string;
  value: number;
  /** The value it must have. */
  want: number;
  /** For "N of M" invariants. */
  of?: number;
  ok: boolean;
  /** The printed line: `name: N (want 0)`. */
  line: string;
  /** The rows or processes behind a non-zero count. */
  evidence: string[];
}

export type FaultKind = 'kill' | 'temporal' | 'postgres';

export interface FaultRecord {
  kind: FaultKind;
  /** Seconds since the sessions started. */
  at: number;
  /** How long the fault itself took (restart, outage). */
  seconds: number;
  what: string;
  /** kill: the worker was running an executor. */
  hitExecutor?: boolean;
}

export interface ChaosStats {
  seed: number;
  phases: number;
  setsidPhases: number;
  setupSeconds: number;
  /** From starting the sessions to both being closed (or the deadline). */
  drainSeconds: number;
  totalSeconds: number;
  planned: Record<FaultKind, number>;
  faults: FaultRecord[];
  workersSpawned: number;
  rowsByStatus: Record<string, number>;
  processesReaped: number;
  phasesComplete: number;
  sessions: {
    id: string;
    status: string;
    processed?: number;
    succeeded?: number;
    failed?: number;
    stopReason?: string;
  }[];
  /** The interrupted tries, with why. */
  interrupted: string[];
  samples: number;
  sampledOverlaps: string[];
}

export interface ChaosResult {
  seed: number;
  ok: boolean;
  invariants: Invariant[];
  stats: ChaosStats;
  /** Every line printed, in order. */
  log: string[];
}

/** mulberry32: small, fast, seedable. */
export function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function chaosSeed(explicit?: number): number {
  if (explicit !== undefined) return explicit >>> 0;
  const env = process.env.CHAOS_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new Error(`CHAOS_SEED must be an integer 0…4294967295, got ${env}`);
    return n;
  }
  return Math.floor(Math.random() * 0x100000000) >>> 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : 'null');

export interface AttemptRecord {
  session_id: string;
  exec_run_id: string;
  run_id: string;
  phase_id: string;
  attempt: number;
  try: number;
  status: string;
  final_state: string | null;
  pid: number | null;
  started_at: Date;
  finished_at: Date | null;
  stdout_path: string | null;
  stderr_path: string | null;
  worker_identity: string | null;
  error_message?: string | null;
  tag: string | null;
  processes_reaped: number | null;
}

const FINAL = ['finished', 'reconciled', 'cancelled', 'lost', 'abandoned'];
const HEADER = 'DATABASE_URL=';
const TRAILER = /^# --- .*exit code .*$/;

const rowName = (r: AttemptRecord) =>
  `${r.session_id} ${r.run_id}/${r.phase_id} a${r.attempt}.t${r.try} [${r.status}${r.final_state ? ` ${r.final_state}` : ''}` +
  ` pid ${r.pid ?? '-'} ${iso(r.started_at)}–${iso(r.finished_at)}]`;

/** The first `n` bytes and the last `tail` bytes of a file, or null when it cannot be read. */
function headAndTail(
  file: string,
  n: number,
  tail: number,
): { head: string; tail: string; size: number } | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const h = Buffer.alloc(Math.min(n, size));
    readSync(fd, h, 0, h.length, 0);
    const t = Buffer.alloc(Math.min(tail, size));
    readSync(fd, t, 0, t.length, size - t.length);
    return { head: h.toString('utf8'), tail: t.toString('utf8'), size };
  } finally {
    closeSync(fd);
  }
}

/** Does the try's own stdout log hold executor output after our header? */
function hasExecutorOutput(file: string | null): boolean {
  if (!file) return false;
  try {
    const text = readFileSync(file, 'utf8');
    const end = text.indexOf('\n# ---\n');
    return (
      end >= 0 && text.slice(end + 7).trim().length > 0 && !/^\s*# --- not run/.test(text.slice(end + 7))
    );
  } catch {
    return false;
  }
}

function environ(pid: string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

export interface TaggedProcess {
  pid: number;
  tag: string;
  session: string;
  run: string;
  phase: string;
  tryNo: string;
  cmd: string;
}

/** Live processes on this machine with DRAIN_ATTEMPT_TAG (any tag) whose DATABASE_URL is `databaseUrl`. */
export function ourTaggedProcesses(databaseUrl: string): TaggedProcess[] {
  const found: TaggedProcess[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  for (const name of names) {
    if (Number(name) === process.pid) continue;
    const vars = environ(name);
    if (!vars) continue;
    const get = (k: string) => vars.find((v) => v.startsWith(`${k}=`))?.slice(k.length + 1);
    const tag = get(TAG_VAR);
    if (tag === undefined || get('DATABASE_URL') !== databaseUrl || !isProcessAlive(Number(name))) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      /* gone */
    }
    found.push({
      pid: Number(name),
      tag,
      session: get('DRAIN_SESSION_ID') ?? '?',
      run: get('DRAIN_RUN_ID') ?? '?',
      phase: get('DRAIN_PHASE_ID') ?? '?',
      tryNo: get('DRAIN_TRY') ?? '?',
      cmd: cmd.slice(0, 160),
    });
  }
  return found;
}

const describeProc = (p: TaggedProcess) =>
  `pid ${p.pid} tag ${p.tag} ${p.session} ${p.run}/${p.phase} try ${p.tryNo}: ${p.cmd}`;

interface PlannedPhase {
  runId: string;
  phaseId: string;
  seconds: number;
  setsid: boolean;
}

function plan(o: ChaosOptions, rnd: () => number): PlannedPhase[] {
  const min = o.minSeconds ?? 1;
  const max = o.maxSeconds ?? 3;
  const all: PlannedPhase[] = [];
  for (let r = 1; r <= o.runs; r++)
    for (let p = 1; p <= o.phasesPerRun; p++)
      all.push({
        runId: `chaos-run-${r}`,
        phaseId: `r${r}-p${p}`,
        seconds: Math.round((min + rnd() * (max - min)) * 10) / 10,
        setsid: false,
      });
  const order = shuffle(
    all.map((_, i) => i),
    rnd,
  );
  for (const i of order.slice(0, Math.min(o.setsidPhases, all.length))) {
    all[i].setsid = true;
    all[i].phaseId += '-setsid';
  }
  return all;
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** The executor of both sessions: the reference executor, or for *-setsid phases a shell that forks an escapee. */
function writeExecutor(env: TestEnv, phases: PlannedPhase[]): string {
  const node = process.execPath;
  const arms = phases
    .filter((p) => p.setsid)
    .map((p) => `  ${p.phaseId}) secs=${p.seconds} ;;`)
    .join('\n');
  const sim = path.join(projectRoot(), 'bin', 'drain-sim.js');
  const file = path.join(env.dir, 'chaos-executor.sh');
  writeFileSync(
    file,
    `#!/bin/sh
# chaos executor: $1 = run id, $2 = phase id. *-setsid phases fork an escapee, then complete.
secs=
case "$2" in
${arms}
esac
if [ -z "$secs" ]; then exec '${node}' '${sim}' --run-id "$1" --phase-id "$2" --force; fi
setsid sleep 600 </dev/null >/dev/null 2>&1 &
echo "[chaos] $1/$2: forked a setsid grandchild (pid $!), working $secs s"
${setPhaseCommand('EXECUTING')} || exit 1
sleep "$secs"
${setPhaseCommand('COMPLETE')} || exit 1
echo "[chaos] $1/$2: done"
`,
  );
  chmodSync(file, 0o755);
  return `${file} {run_id} {phase_id}`;
}

const outputOf = (c: ChildProcess) => (c as ChildProcess & { output?: string }).output ?? '';

/** Runs the chaos scenario and counts the invariants. Never throws for a failed invariant. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const log: string[] = [];
  const print = (line: string) => {
    log.push(line);
    (opts.print ?? console.log)(line);
  };
  const seed = chaosSeed(opts.seed);
  const rnd = rngOf(seed);
  let drainStart = 0;
  const stamp = () => `[+${((Date.now() - (drainStart || t0)) / 1000).toFixed(1).padStart(6)}s]`;
  const nWorkers = opts.workers ?? 3;
  print(`chaos seed: ${seed} (replay: CHAOS_SEED=${seed})`);

  const phases = plan(opts, rnd);
  const kinds = shuffle<FaultKind>(
    [
      ...Array<FaultKind>(opts.kills).fill('kill'),
      ...Array<FaultKind>(opts.temporalRestarts).fill('temporal'),
      ...Array<FaultKind>(opts.postgresStops).fill('postgres'),
    ],
    rnd,
  );
  const reach = Math.max(1, Math.floor(phases.length * 0.7));
  const thresholds = kinds.map(() => 1 + Math.floor(rnd() * reach)).sort((a, b) => a - b);
  const delays = kinds.map(() => Math.round(rnd() * 2500));
  print(
    `plan: ${phases.length} phases (${opts.runs} runs × ${opts.phasesPerRun}, ${phases.filter((p) => p.setsid).length} forking a setsid grandchild), ` +
      `2 sessions, ${nWorkers} workers; faults: ${kinds.map((k, i) => `${k}@${thresholds[i]}`).join(' ')}`,
  );

  const env = await startTestEnv();
  const stats: ChaosStats = {
    seed,
    phases: phases.length,
    setsidPhases: phases.filter((p) => p.setsid).length,
    setupSeconds: 0,
    drainSeconds: 0,
    totalSeconds: 0,
    planned: { kill: opts.kills, temporal: opts.temporalRestarts, postgres: opts.postgresStops },
    faults: [],
    workersSpawned: 0,
    rowsByStatus: {},
    processesReaped: 0,
    phasesComplete: 0,
    sessions: [],
    interrupted: [],
    samples: 0,
    sampledOverlaps: [],
  };
  let sampler: NodeJS.Timeout | null = null;
  try {
    await seedPhases(
      env.pool,
      phases.map((p): PhaseSeed => ({
        runId: p.runId,
        phaseId: p.phaseId,
        sim: { scenario: 'complete', events: 1, seconds: p.seconds },
      })),
    );
    const executor = writeExecutor(env, phases);

    // --- workers -----------------------------------------------------------------------------
    const live: ChildProcess[] = [];
    const spawn = () => {
      const w = env.spawnWorker();
      stats.workersSpawned++;
      live.push(w);
      w.once('exit', () => {
        const i = live.indexOf(w);
        if (i >= 0) live.splice(i, 1);
      });
      return w;
    };
    const ready = async (w: ChildProcess, ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        if (outputOf(w).includes('worker running')) return true;
        if (w.exitCode !== null || w.signalCode !== null) return false;
        await sleep(200);
      }
      return false;
    };
    const first = Array.from({ length: nWorkers }, spawn);
    const up = await Promise.all(first.map((w) => ready(w, 120_000)));
    if (!up.every(Boolean)) {
      throw new Error(
        `workers did not start:\n${first.map((w) => outputOf(w).slice(-2000)).join('\n---\n')}`,
      );
    }
    stats.setupSeconds = (Date.now() - t0) / 1000;
    print(
      `setup: Postgres, Temporal dev server and ${nWorkers} workers up in ${stats.setupSeconds.toFixed(1)}s`,
    );

    // --- the sampler: processes of two tries of one run alive at once ------------------------
    const seenOverlap = new Set<string>();
    sampler = setInterval(() => {
      stats.samples++;
      const byRun = new Map<string, Map<string, TaggedProcess>>();
      for (const p of ourTaggedProcesses(env.databaseUrl)) {
        const tags = byRun.get(p.run) ?? new Map<string, TaggedProcess>();
        tags.set(p.tag, p);
        byRun.set(p.run, tags);
      }
      for (const [run, tags] of byRun) {
        if (tags.size < 2) continue;
        const key = `${run} ${[...tags.keys()].sort().join(',')}`;
        if (seenOverlap.has(key)) continue;
        seenOverlap.add(key);
        stats.sampledOverlaps.push(`${stamp()} ${run}: ${[...tags.values()].map(describeProc).join(' | ')}`);
      }
    }, 300);

    // --- sessions ----------------------------------------------------------------------------
    const total = phases.length;
    const input = {
      batchSize: total,
      executor,
      phaseTimeoutSeconds: 120,
      ...(opts.heartbeatTimeoutSeconds ? { heartbeatTimeoutSeconds: opts.heartbeatTimeoutSeconds } : {}),
    };
    const ids = [`chaos-${seed}-a`, `chaos-${seed}-b`];
    drainStart = Date.now();
    for (const id of ids) {
      await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: id,
        args: [input],
      });
    }
    print(`${stamp()} sessions ${ids.join(' and ')} started (batch ${total} each, no run filter)`);
    const closed = new Map<string, ChaosStats['sessions'][number]>();
    const deadline = drainStart + opts.deadlineSeconds * 1000;
    const over = () => closed.size === ids.length || Date.now() > deadline || opts.signal?.aborted === true;
    const watchSessions = (async () => {
      while (!over()) {
        for (const id of ids) {
          if (closed.has(id)) continue;
          try {
            const h = env.client.workflow.getHandle(id);
            const d = await h.describe();
            if (d.status.name === 'RUNNING') continue;
            const s: ChaosStats['sessions'][number] = { id, status: d.status.name };
            if (d.status.name === 'COMPLETED') {
              const r = (await h.result()) as {
                processed: number;
                succeeded: number;
                failed: number;
                stopReason: string | null;
              };
              Object.assign(s, {
                processed: r.processed,
                succeeded: r.succeeded,
                failed: r.failed,
                stopReason: r.stopReason ?? '',
              });
            }
            closed.set(id, s);
            print(
              `${stamp()} session ${id}: ${s.status}` +
                (s.processed !== undefined
                  ? ` (processed ${s.processed}, succeeded ${s.succeeded}, failed ${s.failed}; ${s.stopReason})`
                  : ''),
            );
          } catch {
            /* Temporal is restarting: ask again */
          }
        }
        await sleep(1000);
      }
    })();

    // --- faults ------------------------------------------------------------------------------
    let progress = 0;
    const readProgress = async () => {
      try {
        const r = await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM drain_attempts WHERE status = ANY($1)`,
          [FINAL],
        );
        progress = r.rows[0].n;
      } catch {
        /* the database is away */
      }
      return progress;
    };
    const busyWorkers = async (): Promise<Map<number, string>> => {
      const m = new Map<number, string>();
      try {
        const r = await env.pool.query<AttemptRecord>(
          "SELECT * FROM drain_attempts WHERE status = 'running' AND pid IS NOT NULL",
        );
        for (const row of r.rows) {
          const pid = Number(/:(\d+)$/.exec(row.worker_identity ?? '')?.[1]);
          if (pid) m.set(pid, `${row.session_id} ${row.run_id}/${row.phase_id} a${row.attempt}.t${row.try}`);
        }
      } catch {
        /* unknown */
      }
      return m;
    };
    const fire = async (kind: FaultKind, n: number) => {
      const at = (Date.now() - drainStart) / 1000;
      const f0 = Date.now();
      const head = `${stamp()} fault ${n}/${kinds.length}:`;
      if (kind === 'kill') {
        const busy = await busyWorkers();
        // A worker running an executor if there is one, else any worker that is up (a
        // replacement still starting is killed only when no other is left).
        const up = live.filter((w) => outputOf(w).includes('worker running'));
        const busyUp = up.filter((w) => busy.has(w.pid!));
        const pool = busyUp.length > 0 ? busyUp : up.length > 0 ? up : [...live];
        const target = pool[Math.floor(rnd() * pool.length)];
        if (!target) {
          print(`${head} kill -9: no live worker`);
          return;
        }
        const doing = busy.get(target.pid!);
        const exited = new Promise((r) => target.once('exit', r));
        target.kill('SIGKILL');
        await exited;
        const replacement = spawn();
        const what = `kill -9 worker ${target.pid}${doing ? ` (running ${doing})` : ' (idle)'}; replacement ${replacement.pid}`;
        stats.faults.push({ kind, at, seconds: (Date.now() - f0) / 1000, what, hitExecutor: !!doing });
        print(`${head} ${what}`);
        void ready(replacement, 120_000).then((ok) =>
          print(
            `${stamp()} replacement worker ${replacement.pid} ${ok ? 'ready' : replacement.exitCode !== null || replacement.signalCode !== null ? 'ended before it was ready' : 'not ready'} after ${((Date.now() - f0) / 1000).toFixed(1)}s`,
          ),
        );
      } else if (kind === 'temporal') {
        print(`${head} restarting the Temporal dev server…`);
        await env.restartTemporal();
        const seconds = (Date.now() - f0) / 1000;
        stats.faults.push({
          kind,
          at,
          seconds,
          what: `Temporal dev server restarted in ${seconds.toFixed(1)}s`,
        });
        print(`${stamp()} Temporal dev server back after ${seconds.toFixed(1)}s`);
      } else {
        print(`${head} stopping Postgres for ${opts.postgresDownSeconds}s…`);
        await env.postgres.stop();
        await sleep(opts.postgresDownSeconds * 1000);
        await env.postgres.start();
        const seconds = (Date.now() - f0) / 1000;
        stats.faults.push({ kind, at, seconds, what: `Postgres down for ${seconds.toFixed(1)}s` });
        print(`${stamp()} Postgres back after ${seconds.toFixed(1)}s`);
      }
    };
    for (let i = 0; i < kinds.length && !over(); i++) {
      while (!over() && (await readProgress()) < thresholds[i]) await sleep(500);
      if (over()) break;
      await sleep(delays[i]);
      if (over()) break;
      await fire(kinds[i], i + 1);
    }
    await watchSessions;
    stats.drainSeconds = (Date.now() - drainStart) / 1000;
    clearInterval(sampler);
    sampler = null;
    for (const id of ids) if (!closed.has(id)) stats.sessions.push({ id, status: 'RUNNING (deadline)' });
    stats.sessions.unshift(...ids.filter((id) => closed.has(id)).map((id) => closed.get(id)!));

    // --- invariants --------------------------------------------------------------------------
    const leftAlive = ourTaggedProcesses(env.databaseUrl);
    const invariants = countInvariants(await readRecords(env, stats), leftAlive, stats.sessions);
    for (const p of leftAlive) {
      try {
        process.kill(p.pid, 'SIGKILL'); // ours: this run's database is in its environment
      } catch {
        /* gone */
      }
    }
    if (!closed.size || closed.size < ids.length) {
      for (const id of ids.filter((x) => !closed.has(x))) {
        await env.client.workflow
          .getHandle(id)
          .terminate('chaos: deadline')
          .catch(() => {});
      }
    }
    stats.totalSeconds = (Date.now() - t0) / 1000;
    for (const line of statsLines(stats)) print(line);
    for (const inv of invariants) print(inv.line);
    for (const inv of invariants) {
      if (inv.ok) continue;
      print(`${inv.name}: evidence`);
      for (const e of inv.evidence.slice(0, 40)) print(`  ${e}`);
      if (inv.evidence.length > 40) print(`  … ${inv.evidence.length - 40} more`);
    }
    if (invariants.some((i) => !i.ok)) {
      for (const w of live) print(`worker ${w.pid} output (tail):\n${outputOf(w).slice(-1500)}`);
    }
    return { seed, ok: invariants.every((i) => i.ok), invariants, stats, log };
  } finally {
    if (sampler) clearInterval(sampler);
    for (const p of ourTaggedProcesses(env.databaseUrl)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await env.teardown();
  }
}

/** The drain_attempts rows and counts the invariants are counted from (and the stats' record counts). */
async function readRecords(env: TestEnv, stats: ChaosStats): Promise<AttemptRecord[]> {
  const rows = (
    await env.pool.query<AttemptRecord>(
      `SELECT session_id, exec_run_id, run_id, phase_id, attempt, try, status, final_state, pid, started_at,
              finished_at, stdout_path, stderr_path, worker_identity, error_message, tag, processes_reaped
         FROM drain_attempts ORDER BY started_at, try`,
    )
  ).rows;
  stats.interrupted = rows
    .filter((r) => r.status === 'interrupted')
    .map((r) => `${rowName(r)}: ${(r.error_message ?? '').slice(0, 110)}`);
  for (const r of rows) stats.rowsByStatus[r.status] = (stats.rowsByStatus[r.status] ?? 0) + 1;
  stats.processesReaped = rows.reduce((s, r) => s + (r.processes_reaped ?? 0), 0);
  stats.phasesComplete = (
    await env.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM phases WHERE state = 'COMPLETE'")
  ).rows[0].n;
  return rows;
}

/**
 * The invariants (see the top of this file), from the drain_attempts rows, their log files,
 * the processes left alive and how the sessions ended.
 */
export function countInvariants(
  rows: AttemptRecord[],
  leftAlive: TaggedProcess[],
  sessions: { id: string; status: string }[],
  now = new Date(),
): Invariant[] {
  const attemptKey = (r: AttemptRecord) =>
    JSON.stringify([r.session_id, r.exec_run_id, r.run_id, r.phase_id, r.attempt]);
  const byAttempt = new Map<string, AttemptRecord[]>();
  for (const r of rows) byAttempt.set(attemptKey(r), [...(byAttempt.get(attemptKey(r)) ?? []), r]);
  for (const tries of byAttempt.values()) tries.sort((a, b) => a.try - b.try);

  // 1. attempts without a final record
  const noFinal: string[] = [];
  for (const tries of byAttempt.values()) {
    if (!tries.some((t) => FINAL.includes(t.status))) noFinal.push(tries.map(rowName).join(' ; '));
  }

  // 2. overlapping attempts on one run
  const ranExecutor = (r: AttemptRecord) =>
    r.pid !== null || (r.status === 'interrupted' && hasExecutorOutput(r.stdout_path));
  const endOf = (r: AttemptRecord): Date => {
    if (r.status === 'running' || !r.finished_at) return now;
    if (r.status !== 'interrupted') return r.finished_at;
    const next = byAttempt.get(attemptKey(r))!.find((t) => t.try > r.try);
    if (!next) return r.finished_at;
    const moment = next.status === 'reconciled' ? (next.finished_at ?? now) : next.started_at;
    return moment > r.finished_at ? moment : r.finished_at;
  };
  const intervals = rows.filter(ranExecutor).map((r) => ({ r, start: r.started_at, end: endOf(r) }));
  const overlaps: string[] = [];
  const byRun = new Map<string, typeof intervals>();
  for (const iv of intervals) byRun.set(iv.r.run_id, [...(byRun.get(iv.r.run_id) ?? []), iv]);
  for (const [run, ivs] of byRun) {
    ivs.sort((a, b) => a.start.getTime() - b.start.getTime());
    for (let i = 0; i < ivs.length; i++)
      for (let j = i + 1; j < ivs.length; j++) {
        const a = ivs[i];
        const b = ivs[j];
        if (a.start < b.end && b.start < a.end) {
          overlaps.push(
            `${run}: ${rowName(a.r)} alive until ${iso(a.end)} overlaps ${rowName(b.r)} alive until ${iso(b.end)}`,
          );
        }
      }
  }

  // 3. phases run again after they completed
  const completeAt = new Map<string, AttemptRecord>();
  for (const r of rows) {
    if (!['finished', 'reconciled'].includes(r.status) || r.final_state !== 'COMPLETE' || !r.finished_at)
      continue;
    const k = `${r.run_id}/${r.phase_id}`;
    const prev = completeAt.get(k);
    if (!prev || r.finished_at < prev.finished_at!) completeAt.set(k, r);
  }
  const reruns: string[] = [];
  for (const r of rows) {
    const done = completeAt.get(`${r.run_id}/${r.phase_id}`);
    if (done && ranExecutor(r) && r.started_at > done.finished_at!) {
      reruns.push(`${rowName(r)} started after ${rowName(done)} completed the phase`);
    }
  }

  // 5. missing or truncated logs
  const badLogs: string[] = [];
  for (const r of rows) {
    const problems: string[] = [];
    for (const [which, p] of [
      ['stdout', r.stdout_path],
      ['stderr', r.stderr_path],
    ] as const) {
      if (!p) {
        problems.push(`${which}_path is null`);
        continue;
      }
      const f = headAndTail(p, HEADER.length, 4096);
      if (!f) problems.push(`${which} log missing: ${p}`);
      else if (f.head !== HEADER)
        problems.push(`${which} log does not start with ${HEADER} (starts ${JSON.stringify(f.head)}): ${p}`);
      else if (which === 'stdout' && r.status === 'finished') {
        const last = f.tail.trimEnd().split('\n').pop() ?? '';
        if (!TRAILER.test(last))
          problems.push(
            `stdout log ends without the exit trailer (last line ${JSON.stringify(last.slice(0, 120))}): ${p}`,
          );
      }
    }
    if (problems.length) badLogs.push(`${rowName(r)}: ${problems.join('; ')}`);
  }

  const completed = sessions.filter((s) => s.status === 'COMPLETED').length;
  const zero = (name: string, evidence: string[]): Invariant => ({
    name,
    value: evidence.length,
    want: 0,
    ok: evidence.length === 0,
    line: `${name}: ${evidence.length} (want 0)`,
    evidence,
  });
  return [
    zero('attempts without a final record', noFinal),
    zero('overlapping attempts on one run', overlaps),
    zero('phases run again after they completed', reruns),
    zero('processes left alive', leftAlive.map(describeProc)),
    zero('missing or truncated logs', badLogs),
    {
      name: 'sessions completed',
      value: completed,
      want: 2,
      of: 2,
      ok: completed === 2,
      line: `sessions completed: ${completed} of 2 (want 2 of 2)`,
      evidence: sessions.filter((s) => s.status !== 'COMPLETED').map((s) => `${s.id}: ${s.status}`),
    },
  ];
}

/** Timing, faults and records of a run, for the long form's report. */
export function statsLines(s: ChaosStats): string[] {
  const count = (k: FaultKind) => s.faults.filter((f) => f.kind === k).length;
  const secs = (k: FaultKind) =>
    s.faults
      .filter((f) => f.kind === k)
      .map((f) => f.seconds.toFixed(1))
      .join(', ');
  const kills = s.faults.filter((f) => f.kind === 'kill');
  return [
    `timing: setup ${s.setupSeconds.toFixed(1)}s, drain ${s.drainSeconds.toFixed(1)}s, total ${s.totalSeconds.toFixed(1)}s`,
    `faults: kill -9 ${count('kill')} of ${s.planned.kill} (${kills.filter((f) => f.hitExecutor).length} while running an executor), ` +
      `Temporal restarts ${count('temporal')} of ${s.planned.temporal} (${secs('temporal')} s), ` +
      `Postgres stops ${count('postgres')} of ${s.planned.postgres} (down ${secs('postgres')} s); workers spawned ${s.workersSpawned}`,
    `sessions: ${s.sessions
      .map(
        (x) =>
          `${x.id} ${x.status}${x.processed !== undefined ? ` processed ${x.processed} succeeded ${x.succeeded} failed ${x.failed}` : ''}`,
      )
      .join('; ')}`,
    `backlog: ${s.phasesComplete} of ${s.phases} phases COMPLETE (${s.setsidPhases} forking a setsid grandchild); ` +
      `drain_attempts rows: ${Object.entries(s.rowsByStatus)
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; escaped processes reaped ${s.processesReaped}`,
    `interrupted tries: ${s.interrupted.length}`,
    ...s.interrupted.map((x) => `  ${x}`),
    `sampled (/proc every 300 ms, ${s.samples} samples): runs with two tries' processes alive at once: ${s.sampledOverlaps.length}`,
    ...s.sampledOverlaps.map((x) => `  ${x}`),
  ];
}
