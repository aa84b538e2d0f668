/**
 * Executors as /proc of this (the root) PID namespace shows them, sampled while a test runs:
 * for the fence tests (test/e2e/fence.test.ts), which run workers in PID namespaces of their
 * own, so no worker can see another's executors, but this scan sees them all.
 *
 * An executor is a live process found by the chaos engine's scan (ourTaggedProcesses in
 * harness/chaos/processes.ts: a containment tag and this test's DATABASE_URL in its
 * environment) whose DRAIN_RUN_ID (and DRAIN_PHASE_ID) are the ones asked for and whose
 * command line is the reference executor (`drain-sim`), not the try's supervisor
 * (`try-supervisor`) that may carry the same environment and the executor's argv.
 */
import {
  childrenByParent,
  pidNamespace,
  procCommandLine,
  procEnviron,
  procPids,
  procStat,
} from '../../src/runtime/proc.js';
import { ourTaggedProcesses, type TaggedProcess } from '../../harness/chaos/processes.js';

export interface ExecutorProcess extends TaggedProcess {
  /** The whole command line (TaggedProcess.cmd is cut at 160 characters). */
  cmdline: string;
  /** The PID namespace it runs in (`pid:[4026531836]`), or null when it is gone. */
  pidNs: string | null;
}

export function cmdlineOf(pid: number): string {
  return procCommandLine(pid);
}

/** The PID namespace of a process (`pid:[…]`), or null when it is gone. */
export function pidNamespaceOf(pid: number): string | null {
  return pidNamespace(pid);
}

export const isReferenceExecutor = (cmdline: string): boolean =>
  /drain-sim/.test(cmdline) && !/try-supervisor/.test(cmdline);

/** Live reference executors of `runId` (and `phaseId` when given) started for this test's database. */
export function executorsOf(databaseUrl: string, runId: string, phaseId?: string): ExecutorProcess[] {
  const found: ExecutorProcess[] = [];
  for (const p of ourTaggedProcesses(databaseUrl)) {
    if (p.run !== runId || (phaseId !== undefined && p.phase !== phaseId)) continue;
    const cmdline = cmdlineOf(p.pid);
    if (!isReferenceExecutor(cmdline)) continue;
    found.push({ ...p, cmdline, pidNs: pidNamespaceOf(p.pid) });
  }
  return found;
}

/** One executor process as the sampler saw it (times: Date.now()). */
export interface ExecutorSighting {
  pid: number;
  pidNs: string | null;
  session: string;
  phase: string;
  tryNo: string;
  firstSeen: number;
  lastSeen: number;
  /** The first sample that no longer found it (null: alive at the last sample). */
  goneAt: number | null;
}

const iso = (ms: number | null) => (ms === null ? 'null' : new Date(ms).toISOString());

export const describeSighting = (s: ExecutorSighting) =>
  `pid ${s.pid} (${s.pidNs ?? '?'}) ${s.session} ${s.phase} try ${s.tryNo}: seen ${iso(s.firstSeen)}–${iso(s.lastSeen)}, gone ${iso(s.goneAt)}`;

/**
 * Samples the executors of one run (or one phase) every `everyMs` until stopped: every executor
 * seen with when it was first and last seen and when it was found gone, and every sample that
 * found two or more alive at once.
 */
export class ExecutorSampler {
  readonly sightings = new Map<number, ExecutorSighting>();
  /** Samples that found more than one executor alive at once (one line per distinct set of pids). */
  readonly overlaps: string[] = [];
  samples = 0;
  private readonly overlapSets = new Set<string>();
  private timer: NodeJS.Timeout | null;

  constructor(
    private readonly databaseUrl: string,
    private readonly runId: string,
    private readonly phaseId?: string,
    everyMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** One sample now (also taken by the timer); returns the executors alive. */
  sample(): ExecutorProcess[] {
    const now = Date.now();
    const alive = executorsOf(this.databaseUrl, this.runId, this.phaseId);
    this.samples++;
    const pids = new Set(alive.map((p) => p.pid));
    for (const p of alive) {
      const s = this.sightings.get(p.pid);
      if (s && s.goneAt === null) s.lastSeen = now;
      else
        this.sightings.set(p.pid, {
          pid: p.pid,
          pidNs: p.pidNs,
          session: p.session,
          phase: p.phase,
          tryNo: p.tryNo,
          firstSeen: now,
          lastSeen: now,
          goneAt: null,
        });
    }
    for (const s of this.sightings.values()) if (s.goneAt === null && !pids.has(s.pid)) s.goneAt = now;
    if (alive.length > 1) {
      const key = [...pids].sort((a, b) => a - b).join(',');
      if (!this.overlapSets.has(key)) {
        this.overlapSets.add(key);
        this.overlaps.push(
          `${iso(now)}: ${alive.length} executors of ${this.runId}${this.phaseId ? `/${this.phaseId}` : ''} alive at once: ` +
            alive
              .map((p) => `pid ${p.pid} (${p.pidNs ?? '?'}) ${p.session} ${p.phase} try ${p.tryNo}`)
              .join(' | '),
        );
      }
    }
    return alive;
  }

  /** Sightings in `pidNs` (all when omitted), first seen first. */
  seen(pidNs?: string | null): ExecutorSighting[] {
    return [...this.sightings.values()]
      .filter((s) => pidNs === undefined || s.pidNs === pidNs)
      .sort((a, b) => a.firstSeen - b.firstSeen);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The parent pid of a process (null when it is gone). */
export function parentOf(pid: number): number | null {
  return procStat(pid)?.ppid ?? null;
}

/** Live children of `pid` (from /proc/<pid>/stat of every process). */
export function childrenOf(pid: number): number[] {
  return childrenByParent(pid);
}

/**
 * Processes of this test's drains, for the cleanup after a test: workers, supervisors and
 * executors (command line with drain.js, drain-sim or try-supervisor, or a containment tag)
 * whose environment or command line names `mark` (the test's database URL or its temp
 * directory). Never this process, never the test's Postgres or Temporal server.
 */
export function drainProcessesOf(marks: string[]): number[] {
  const found: number[] = [];
  for (const pid of procPids()) {
    if (pid === process.pid) continue;
    const environ = procEnviron(pid)?.toString('utf8');
    if (environ === undefined) continue;
    const cmdline = cmdlineOf(pid);
    const ours = /drain\.js|drain-sim|try-supervisor/.test(cmdline) || environ.includes('DRAIN_ATTEMPT_TAG=');
    if (ours && marks.some((m) => environ.includes(m) || cmdline.includes(m))) found.push(pid);
  }
  return found;
}

/** SIGKILLs `pids` (each ignored when gone); returns those signalled. */
export function killAll(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  });
}
