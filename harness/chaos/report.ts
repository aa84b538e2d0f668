/**
 * What a chaos run reports besides its invariants: timing, faults by kind, the two hosts, the
 * sessions, the drain_attempts rows by status, the interrupted and lost tries, retries across
 * hosts, what each partition and slow database did, and the /proc sampler.
 */
import type pg from 'pg';
import type { FaultRecord } from './faults.js';
import type { HostKey } from './hosts.js';
import type { ChaosFence, FaultKind } from './plan.js';
import { crossHostRetries, hostOfRow, rowName, tryKey, type AttemptRecord } from './invariants.js';

export interface ChaosStats {
  seed: number;
  phases: number;
  setsidPhases: number;
  setupSeconds: number;
  /** From starting the sessions to both being closed (or the deadline). */
  drainSeconds: number;
  totalSeconds: number;
  fence: ChaosFence;
  heartbeatTimeoutSeconds: number;
  planned: Record<FaultKind, number>;
  faults: FaultRecord[];
  workersSpawned: number;
  hosts: { A: string; B: string; pidNamespaceB: string; spawned: Record<HostKey, number> };
  rowsByStatus: Record<string, number>;
  triesByHost: Record<string, number>;
  processesReaped: number;
  phasesByState: Record<string, number>;
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
  /** The lost tries, with why. */
  lost: string[];
  /** The abandoned and cancelled tries, with why. */
  abandoned: string[];
  crossHost: { cross: number; of: number; lines: string[] };
  /** One line per partition and slow-database fault: what came of it. */
  faultOutcomes: string[];
  samples: number;
  sampledOverlaps: string[];
}

const countBy = (xs: string[]) =>
  xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});
const listed = (m: Record<string, number>) =>
  Object.entries(m)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** What each partition and slow database came to, from the final rows. */
function faultOutcomes(stats: ChaosStats, rows: AttemptRecord[]): string[] {
  const byKey = new Map(rows.map((r) => [tryKey(r), r]));
  const lines: string[] = [];
  let p = 0;
  let s = 0;
  for (const f of stats.faults) {
    if (f.partition) {
      lines.push(
        `partition ${++p}: ${f.partition.identity} stopped ${f.partition.stoppedSeconds.toFixed(1)}s` +
          `${f.hitExecutor ? ' while running an executor' : ' (idle)'}${f.stretched ? ' (stretched)' : ''}; ` +
          `of its ${f.partition.running} running tries ${f.partition.retriedElsewhere} retried on another worker meanwhile; ` +
          `its rows superseded when it was continued: ${f.partition.supersededAtResume.length}`,
      );
    }
    if (f.slowdb) {
      const ends = f.slowdb.tries.map((k) => {
        const r = byKey.get(tryKey(k));
        if (!r) return 'no row';
        const end = r.process_ended_at ?? r.finished_at;
        const after = end ? ((end.getTime() - f.slowdb!.lockedAt.getTime()) / 1000).toFixed(1) : '?';
        return `${r.status}${r.supervisor_end ? ` (${r.supervisor_end})` : ''} ${after}s after the lock`;
      });
      lines.push(
        `slow database ${++s}: ${f.slowdb.runs.length} lease row(s) locked ${f.seconds.toFixed(1)}s; ` +
          `tries running then: ${f.slowdb.tries.length}${ends.length ? ` → ${ends.join('; ')}` : ''}`,
      );
    } else if (f.kind === 'slowdb') {
      lines.push(`slow database ${++s}: ${f.what}`);
    }
  }
  return lines;
}

/** Fills the record counts of `stats` from the drain_attempts rows and the phases. */
export async function recordStats(stats: ChaosStats, rows: AttemptRecord[], pool: pg.Pool): Promise<void> {
  const why = (r: AttemptRecord) => `${rowName(r)}: ${(r.error_message ?? '').slice(0, 160)}`;
  stats.interrupted = rows.filter((r) => r.status === 'interrupted').map(why);
  stats.lost = rows.filter((r) => r.status === 'lost').map(why);
  stats.abandoned = rows.filter((r) => ['abandoned', 'cancelled'].includes(r.status)).map(why);
  stats.rowsByStatus = countBy(rows.map((r) => r.status));
  stats.triesByHost = countBy(rows.filter((r) => r.pid !== null).map(hostOfRow));
  stats.processesReaped = rows.reduce((n, r) => n + (r.processes_reaped ?? 0), 0);
  stats.crossHost = crossHostRetries(rows);
  stats.faultOutcomes = faultOutcomes(stats, rows);
  const states = await pool.query<{ state: string; n: number }>(
    'SELECT state::text AS state, count(*)::int AS n FROM phases GROUP BY 1',
  );
  stats.phasesByState = Object.fromEntries(states.rows.map((r) => [r.state, r.n]));
}

function faultsLine(s: ChaosStats): string {
  const of = (k: FaultKind) => s.faults.filter((f) => f.kind === k);
  const secs = (k: FaultKind) =>
    of(k)
      .map((f) => f.seconds.toFixed(1))
      .join(', ');
  const kills = of('kill');
  const parts = of('partition');
  return (
    `faults: kill -9 ${kills.length} of ${s.planned.kill} (${kills.filter((f) => f.hitExecutor).length} while running an executor, ` +
    `${kills.filter((f) => f.host === 'B').length} on ${s.hosts.B}), ` +
    `Temporal restarts ${of('temporal').length} of ${s.planned.temporal} (${secs('temporal')} s), ` +
    `Postgres stops ${of('postgres').length} of ${s.planned.postgres} (down ${secs('postgres')} s), ` +
    `partitions ${parts.length} of ${s.planned.partition} (SIGSTOP ${secs('partition')} s; ${parts.filter((f) => f.hitExecutor).length} while running an executor, ` +
    `${parts.filter((f) => f.host === 'B').length} on ${s.hosts.B}), ` +
    `slow database ${of('slowdb').length} of ${s.planned.slowdb} (lease rows locked ${secs('slowdb')} s); ` +
    `workers spawned ${s.workersSpawned} (${s.hosts.A} ${s.hosts.spawned.A}, ${s.hosts.B} ${s.hosts.spawned.B})`
  );
}

/** Timing, faults, hosts and records of a run, for the report. */
export function statsLines(s: ChaosStats): string[] {
  const sessions = s.sessions.map(
    (x) =>
      `${x.id} ${x.status}${x.processed !== undefined ? ` processed ${x.processed} succeeded ${x.succeeded} failed ${x.failed}` : ''}`,
  );
  return [
    `timing: setup ${s.setupSeconds.toFixed(1)}s, drain ${s.drainSeconds.toFixed(1)}s, total ${s.totalSeconds.toFixed(1)}s`,
    faultsLine(s),
    `hosts: ${s.hosts.A} (this PID namespace) and ${s.hosts.B} (${s.hosts.pidNamespaceB}); tries that ran an executor by host: ${listed(s.triesByHost)}; ` +
      `retries on the other host: ${s.crossHost.cross} of ${s.crossHost.of} interrupted tries with a retry`,
    `sessions: ${sessions.join('; ')}`,
    `backlog: ${s.phases} phases (${s.setsidPhases} forking a setsid grandchild) by state: ${listed(s.phasesByState)}; ` +
      `drain_attempts rows: ${listed(s.rowsByStatus)}; escaped processes reaped ${s.processesReaped}`,
    ...s.faultOutcomes,
    `interrupted tries: ${s.interrupted.length}`,
    ...s.interrupted.map((x) => `  ${x}`),
    `lost tries: ${s.lost.length}`,
    ...s.lost.map((x) => `  ${x}`),
    `abandoned or cancelled tries: ${s.abandoned.length}`,
    ...s.abandoned.map((x) => `  ${x}`),
    `sampled (/proc every 300 ms, ${s.samples} samples): runs with two tries' executors alive at once: ${s.sampledOverlaps.length}`,
    ...s.sampledOverlaps.map((x) => `  ${x}`),
  ];
}
