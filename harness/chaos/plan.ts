/**
 * The chaos run's options and its seeded plan (harness/chaos/run.ts runs it): the phases
 * (durations, which ones fork a setsid grandchild), the faults (kind, order, the progress
 * threshold each waits for, its delay, whether it stretches an executor first, which target it
 * picks) and the executor script both sessions run.
 */
import { writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { setPhaseCommand } from '../autopack-writer.js';
import { projectRoot } from '../../src/runtime/paths.js';

export type FaultKind = 'kill' | 'temporal' | 'postgres' | 'partition' | 'slowdb';
const FAULT_KINDS: readonly FaultKind[] = ['kill', 'temporal', 'postgres', 'partition', 'slowdb'];

/** The fence bounds of the chaos workers (DRAIN_FENCE_RENEW_MS, DRAIN_FENCE_SECONDS; src/domain/fence.ts). */
export interface ChaosFence {
  renewMs: number;
  fenceSeconds: number;
}

export interface ChaosOptions {
  /** Default: CHAOS_SEED, else random. */
  seed?: number;
  runs: number;
  phasesPerRun: number;
  /** Phases run by the setsid-forking shell executor (the rest by the reference executor). */
  setsidPhases: number;
  /** Workers, split over two hosts: floor(n/2) in this (the root) namespace, the others in "chaos-b". */
  workers?: number;
  kills: number;
  temporalRestarts: number;
  postgresStops: number;
  postgresDownSeconds: number;
  /**
   * SIGSTOP of a worker past the heartbeat timeout (+ 2 s) until its drain was retried on
   * another worker, at most `partitionSeconds` (default: 2 × heartbeat timeout + F + 4 s), then SIGCONT.
   */
  partitions: number;
  partitionSeconds?: number;
  /** Row locks on the drain_leases rows of the runs being drained for `slowdbSeconds` (default F + 2R + 2 s). */
  slowDatabases: number;
  slowdbSeconds?: number;
  /** Default: renewal every 1 s, F = 4 s. */
  fence?: ChaosFence;
  /**
   * The faults' progress thresholds lie within this fraction of the backlog (default 0.7): low
   * enough that the drain still runs when the last fault's turn comes.
   */
  faultReach?: number;
  /** Executor time per phase, uniform in [min, max] seconds. */
  minSeconds?: number;
  maxSeconds?: number;
  /** Session input (default 10: ten of the workers' 1 s heartbeats). */
  heartbeatTimeoutSeconds?: number;
  /** Give up waiting for the sessions this long after they started. */
  deadlineSeconds: number;
  /** Stop waiting early (Ctrl-C of the bench): faults stop, invariants are still counted. */
  signal?: AbortSignal;
  print?: (line: string) => void;
}

/** The options with every default filled in. */
export interface ResolvedOptions extends ChaosOptions {
  workers: number;
  fence: ChaosFence;
  heartbeatTimeoutSeconds: number;
  partitionSeconds: number;
  slowdbSeconds: number;
  /** How long a stretched executor works before its phase (it is meant to be stopped first). */
  stretchSeconds: Record<'partition' | 'slowdb', number>;
}

export function resolveOptions(o: ChaosOptions): ResolvedOptions {
  const fence = o.fence ?? { renewMs: 1000, fenceSeconds: 4 };
  const heartbeatTimeoutSeconds = o.heartbeatTimeoutSeconds ?? 10;
  const renew = fence.renewMs / 1000;
  const partitionSeconds = o.partitionSeconds ?? 2 * heartbeatTimeoutSeconds + fence.fenceSeconds + 4;
  const slowdbSeconds = o.slowdbSeconds ?? fence.fenceSeconds + 2 * renew + 2;
  return {
    ...o,
    workers: o.workers ?? 3,
    fence,
    heartbeatTimeoutSeconds,
    partitionSeconds,
    slowdbSeconds,
    stretchSeconds: { partition: partitionSeconds + 2, slowdb: slowdbSeconds + 5 },
  };
}

/** mulberry32: small, fast, seedable. */
function rngOf(seed: number): () => number {
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

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

interface PlannedPhase {
  runId: string;
  phaseId: string;
  seconds: number;
  setsid: boolean;
}

export interface PlannedFault {
  kind: FaultKind;
  /** Fires once this many attempt tries have a final record … */
  threshold: number;
  /** … and this many ms more have passed. */
  delayMs: number;
  /**
   * partition: first make the next executor to start a long one (the chaos executor reads the
   * stretch file), so the worker is stopped while its executor still has work: its supervisor
   * ends it when the retry supersedes the try. Without, the executor usually ends by itself
   * while its worker is stopped and the retry adopts its result. slowdb: always.
   */
  stretch: boolean;
  /** In [0, 1): which of the candidate targets (workers) it picks. */
  pick: number;
}

export interface ChaosPlan {
  seed: number;
  phases: PlannedPhase[];
  faults: PlannedFault[];
}

function planPhases(o: ChaosOptions, rnd: () => number): PlannedPhase[] {
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

/**
 * The plan: phase durations, which phases fork, the faults in a random order, each after a
 * sorted random progress threshold (final attempt records, within the first `faultReach`
 * (70%) of the backlog) plus a random 0–2.5 s, whether a partition stretches an executor first, and the
 * target picks.
 */
export function planChaos(o: ChaosOptions, seed: number): ChaosPlan {
  const rnd = rngOf(seed);
  const phases = planPhases(o, rnd);
  const counts = plannedCounts(o);
  const kinds = shuffle(
    FAULT_KINDS.flatMap((k) => Array<FaultKind>(counts[k]).fill(k)),
    rnd,
  );
  const reach = Math.max(1, Math.floor(phases.length * (o.faultReach ?? 0.7)));
  const thresholds = kinds.map(() => 1 + Math.floor(rnd() * reach)).sort((a, b) => a - b);
  const faults = kinds.map((kind, i): PlannedFault => ({
    kind,
    threshold: thresholds[i],
    delayMs: Math.round(rnd() * 2500),
    stretch: kind === 'slowdb' || (kind === 'partition' && rnd() < 0.5),
    pick: rnd(),
  }));
  return { seed, phases, faults };
}

export function plannedCounts(o: ChaosOptions): Record<FaultKind, number> {
  return {
    kill: o.kills,
    temporal: o.temporalRestarts,
    postgres: o.postgresStops,
    partition: o.partitions,
    slowdb: o.slowDatabases,
  };
}

export const describeFault = (f: PlannedFault) =>
  `${f.kind}${f.stretch && f.kind === 'partition' ? '+stretch' : ''}@${f.threshold}`;

/** The stretch file: while it holds a number, every executor that starts first works that many seconds. */
export const stretchFileOf = (dir: string) => path.join(dir, 'chaos-stretch');

/**
 * The executor of both sessions: the reference executor, or for *-setsid phases a shell that
 * forks an escapee. Either first works the stretch file's seconds when it has some (before
 * touching the phase, so a stretched executor that is stopped leaves its phase as it was).
 */
export function writeExecutor(dir: string, phases: PlannedPhase[]): string {
  const node = process.execPath;
  const arms = phases
    .filter((p) => p.setsid)
    .map((p) => `  ${p.phaseId}) secs=${p.seconds} ;;`)
    .join('\n');
  const sim = path.join(projectRoot(), 'bin', 'drain-sim.js');
  const file = path.join(dir, 'chaos-executor.sh');
  writeFileSync(
    file,
    `#!/bin/sh
# chaos executor: $1 = run id, $2 = phase id. *-setsid phases fork an escapee, then complete.
stretch=$(cat '${stretchFileOf(dir)}' 2>/dev/null)
if [ -n "$stretch" ]; then
  echo "[chaos] $1/$2: stretched: working $stretch s before the phase"
  sleep "$stretch"
fi
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
