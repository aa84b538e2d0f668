/**
 * The chaos run's invariants (harness/chaos/run.ts lists their exact definitions), counted
 * from the drain_attempts rows, their log files, /proc (processes.ts) and what the faults
 * recorded; and the drain_attempts rows they are counted from.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type pg from 'pg';
import type { ChaosFence } from './plan.js';
import { afterHeader, EXIT_TRAILER_LINE } from '../../src/domain/attempt-log.js';
import type { AttemptRow } from '../../src/domain/rows.js';
import { describeProc, type TaggedProcess } from './processes.js';

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

/** The drain_attempts columns the invariants read (src/domain/rows.ts has the row). */
export type AttemptRecord = Required<
  Pick<
    AttemptRow,
    | 'session_id'
    | 'exec_run_id'
    | 'run_id'
    | 'phase_id'
    | 'attempt'
    | 'try'
    | 'status'
    | 'final_state'
    | 'success'
    | 'return_code'
    | 'pid'
    | 'started_at'
    | 'finished_at'
    | 'stdout_path'
    | 'stderr_path'
    | 'worker_identity'
    | 'tag'
    | 'processes_reaped'
    | 'host'
    | 'process_ended_at'
    | 'supervisor_end'
  >
> &
  Pick<AttemptRow, 'error_message'>;

/** One try, as drain_attempts keys it. */
export type TryKey = Pick<
  AttemptRecord,
  'session_id' | 'exec_run_id' | 'run_id' | 'phase_id' | 'attempt' | 'try'
>;

/** A partition fault, as the invariants need it. */
export interface PartitionRecord {
  identity: string;
  /** The worker's rows already marked interrupted (by a retry elsewhere) when it was continued. */
  supersededAtResume: AttemptRecord[];
}

/** A slow-database fault, as the invariants need it (database clock). */
export interface SlowdbRecord {
  lockedAt: Date;
  releasedAt: Date;
  runs: string[];
  /** The tries running on those runs when the locks were taken. */
  tries: TryKey[];
}

export const FINAL = ['finished', 'reconciled', 'cancelled', 'lost', 'abandoned'];
const HEADER = 'DATABASE_URL=';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : 'null');

export const rowName = (r: AttemptRecord) =>
  `${r.session_id} ${r.run_id}/${r.phase_id} a${r.attempt}.t${r.try} [${r.status}${r.final_state ? ` ${r.final_state}` : ''}` +
  ` pid ${r.pid ?? '-'} ${iso(r.started_at)}–${iso(r.finished_at)}${r.host ? ` on ${r.host}` : ''}]`;

const attemptKey = (r: TryKey) =>
  JSON.stringify([r.session_id, r.exec_run_id, r.run_id, r.phase_id, r.attempt]);
export const tryKey = (r: TryKey) => JSON.stringify([attemptKey(r), r.try]);

/** The host of a try: the row's host, else its worker identity's (`drain-worker@<host>:<pid>`). */
export const hostOfRow = (r: AttemptRecord) =>
  r.host ?? /@(.*):\d+$/.exec(r.worker_identity ?? '')?.[1] ?? '?';

/** Every drain_attempts row of the run, in start order. */
export async function readAttempts(pool: pg.Pool): Promise<AttemptRecord[]> {
  return (
    await pool.query<AttemptRecord>(
      `SELECT session_id, exec_run_id, run_id, phase_id, attempt, try, status, final_state, success, return_code,
              pid, started_at, finished_at, stdout_path, stderr_path, worker_identity, error_message, tag,
              processes_reaped, host, process_ended_at, supervisor_end
         FROM drain_attempts ORDER BY started_at, try`,
    )
  ).rows;
}

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
    const out = afterHeader(readFileSync(file, 'utf8'));
    return out !== null && out.trim().length > 0 && !/^\s*# --- not run/.test(out);
  } catch {
    return false;
  }
}

// --- invariants ----------------------------------------------------------------------------

interface InvariantInput {
  rows: AttemptRecord[];
  leftAlive: TaggedProcess[];
  sessions: { id: string; status: string }[];
  sampledOverlaps: string[];
  partitions: PartitionRecord[];
  slowdbs: SlowdbRecord[];
  fence: ChaosFence;
  now?: Date;
}

type ByAttempt = Map<string, AttemptRecord[]>;

function groupByAttempt(rows: AttemptRecord[]): ByAttempt {
  const byAttempt: ByAttempt = new Map();
  for (const r of rows) byAttempt.set(attemptKey(r), [...(byAttempt.get(attemptKey(r)) ?? []), r]);
  for (const tries of byAttempt.values()) tries.sort((a, b) => a.try - b.try);
  return byAttempt;
}

/** 1. Attempts with no row finished | reconciled | cancelled | lost | abandoned. */
function withoutFinalRecord(byAttempt: ByAttempt): string[] {
  const noFinal: string[] = [];
  for (const tries of byAttempt.values()) {
    if (!tries.some((t) => FINAL.includes(t.status))) noFinal.push(tries.map(rowName).join(' ; '));
  }
  return noFinal;
}

const ranExecutor = (r: AttemptRecord) =>
  r.pid !== null || (r.status === 'interrupted' && hasExecutorOutput(r.stdout_path));

/** 2. Two tries' executors alive at once on one run, by the records. */
function overlappingAttempts(rows: AttemptRecord[], byAttempt: ByAttempt, now: Date): string[] {
  const endOf = (r: AttemptRecord): Date => {
    if (r.status === 'running' || !r.finished_at) return now;
    if (r.status !== 'interrupted') return r.finished_at;
    const next = byAttempt.get(attemptKey(r))!.find((t) => t.try > r.try);
    if (!next) return r.finished_at;
    const moment = next.status === 'reconciled' ? (next.finished_at ?? now) : next.started_at;
    return moment > r.finished_at ? moment : r.finished_at;
  };
  const byRun = new Map<string, { r: AttemptRecord; start: Date; end: Date }[]>();
  for (const r of rows.filter(ranExecutor)) {
    byRun.set(r.run_id, [...(byRun.get(r.run_id) ?? []), { r, start: r.started_at, end: endOf(r) }]);
  }
  const overlaps: string[] = [];
  for (const [run, ivs] of byRun) {
    ivs.sort((a, b) => a.start.getTime() - b.start.getTime());
    for (let i = 0; i < ivs.length; i++)
      for (let j = i + 1; j < ivs.length; j++) {
        const [a, b] = [ivs[i], ivs[j]];
        if (a.start < b.end && b.start < a.end) {
          overlaps.push(
            `${run}: ${rowName(a.r)} alive until ${iso(a.end)} overlaps ${rowName(b.r)} alive until ${iso(b.end)}`,
          );
        }
      }
  }
  return overlaps;
}

/** 4. Tries that ran an executor after their phase's first COMPLETE record. */
function rerunsAfterComplete(rows: AttemptRecord[]): string[] {
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
  return reruns;
}

/** 6. Logs missing, without our header, or (finished tries) without the exit trailer. */
function badLogs(rows: AttemptRecord[]): string[] {
  const bad: string[] = [];
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
        if (!EXIT_TRAILER_LINE.test(last))
          problems.push(
            `stdout log ends without the exit trailer (last line ${JSON.stringify(last.slice(0, 120))}): ${p}`,
          );
      }
    }
    if (problems.length) bad.push(`${rowName(r)}: ${problems.join('; ')}`);
  }
  return bad;
}

/** What a late write of a superseded try would change (its true end may still be recorded). */
const judged = (r: AttemptRecord) =>
  JSON.stringify([r.status, r.final_state, r.success, r.return_code, r.error_message ?? null]);

/** 7. Rows of a partitioned worker, superseded while it was stopped, that changed after SIGCONT. */
function lateWrites(rows: AttemptRecord[], partitions: PartitionRecord[]): string[] {
  const now = new Map(rows.map((r) => [tryKey(r), r]));
  const changed: string[] = [];
  for (const p of partitions) {
    for (const before of p.supersededAtResume) {
      const after = now.get(tryKey(before));
      if (!after || judged(after) !== judged(before)) {
        changed.push(
          `${p.identity}: ${rowName(before)} ${judged(before)} became ${after ? `${rowName(after)} ${judged(after)}` : 'no row'}`,
        );
      }
    }
  }
  return changed;
}

/**
 * 8. Tries running when a slow-database fault locked their runs' lease rows whose executor
 * was still running after the locks were released: their supervisors could not renew for the
 * whole hold (longer than F + 2R), so each must have ended its executor before. The end is the
 * supervisor's process_ended_at (else finished_at; a row still running: now), with R + 1 s of
 * slack for recording it.
 */
function notStoppedUnderLock(
  rows: AttemptRecord[],
  slowdbs: SlowdbRecord[],
  fence: ChaosFence,
  now: Date,
): string[] {
  const byKey = new Map(rows.map((r) => [tryKey(r), r]));
  const slackMs = fence.renewMs + 1000;
  const late: string[] = [];
  for (const s of slowdbs) {
    for (const k of s.tries) {
      const r = byKey.get(tryKey(k));
      if (!r) continue;
      const end = r.process_ended_at ?? (r.status === 'running' ? now : (r.finished_at ?? now));
      if (end.getTime() > s.releasedAt.getTime() + slackMs) {
        late.push(
          `${rowName(r)}: locks held ${iso(s.lockedAt)}–${iso(s.releasedAt)} on ${s.runs.join(', ')}; ` +
            `its executor ended ${iso(end)} (supervisor_end ${r.supervisor_end ?? 'null'})`,
        );
      }
    }
  }
  return late;
}

const zero = (name: string, evidence: string[]): Invariant => ({
  name,
  value: evidence.length,
  want: 0,
  ok: evidence.length === 0,
  line: `${name}: ${evidence.length} (want 0)`,
  evidence,
});

/** The invariants (see the top of harness/chaos/run.ts), in the order they are printed. */
export function countInvariants(i: InvariantInput): Invariant[] {
  const now = i.now ?? new Date();
  const byAttempt = groupByAttempt(i.rows);
  const completed = i.sessions.filter((s) => s.status === 'COMPLETED').length;
  return [
    zero('attempts without a final record', withoutFinalRecord(byAttempt)),
    zero('overlapping attempts on one run', overlappingAttempts(i.rows, byAttempt, now)),
    zero('executors of two tries alive at once on one run (sampled /proc, both hosts)', i.sampledOverlaps),
    zero('phases run again after they completed', rerunsAfterComplete(i.rows)),
    zero('processes left alive', i.leftAlive.map(describeProc)),
    zero('missing or truncated logs', badLogs(i.rows)),
    zero('late writes of partitioned workers', lateWrites(i.rows, i.partitions)),
    zero(
      'executors not stopped under a held lease lock',
      notStoppedUnderLock(i.rows, i.slowdbs, i.fence, now),
    ),
    {
      name: 'sessions completed',
      value: completed,
      want: 2,
      of: 2,
      ok: completed === 2,
      line: `sessions completed: ${completed} of 2 (want 2 of 2)`,
      evidence: i.sessions.filter((s) => s.status !== 'COMPLETED').map((s) => `${s.id}: ${s.status}`),
    },
  ];
}

/** Interrupted tries whose next try ran on the other host, of all interrupted tries with a next try. */
export function crossHostRetries(rows: AttemptRecord[]): { cross: number; of: number; lines: string[] } {
  const byAttempt = groupByAttempt(rows);
  let cross = 0;
  let of = 0;
  const lines: string[] = [];
  for (const tries of byAttempt.values()) {
    for (const r of tries) {
      if (r.status !== 'interrupted') continue;
      const next = tries.find((t) => t.try > r.try);
      if (!next) continue;
      of++;
      if (hostOfRow(next) !== hostOfRow(r)) {
        cross++;
        lines.push(`${rowName(r)} → try ${next.try} ${next.status} on ${hostOfRow(next)}`);
      }
    }
  }
  return { cross, of, lines };
}
