/**
 * The chaos run's processes as /proc shows them (this, the root, PID namespace holds every
 * host's): the processes of our tries (a containment tag and this run's DATABASE_URL in their
 * environment) and the sampler that looks for two tries' executors of one run alive at once.
 */
import { TAG_VAR } from '../../src/runtime/containment.js';
import { isProcessAlive, procCommandLine, procEnvEntries, procPids } from '../../src/runtime/proc.js';

export interface TaggedProcess {
  pid: number;
  tag: string;
  session: string;
  run: string;
  phase: string;
  tryNo: string;
  /** A try's supervisor (src/runtime/try-supervisor.mjs), not its executor. */
  supervisor: boolean;
  cmd: string;
}

/**
 * Live processes on this machine with DRAIN_ATTEMPT_TAG (any tag) whose DATABASE_URL is
 * `databaseUrl`. Read from this (the root) PID namespace's /proc, which holds every host's.
 */
export function ourTaggedProcesses(databaseUrl: string): TaggedProcess[] {
  const found: TaggedProcess[] = [];
  for (const pid of procPids()) {
    if (pid === process.pid) continue;
    const vars = procEnvEntries(pid);
    if (!vars) continue;
    const get = (k: string) => vars.find((v) => v.startsWith(`${k}=`))?.slice(k.length + 1);
    const tag = get(TAG_VAR);
    if (tag === undefined || get('DATABASE_URL') !== databaseUrl || !isProcessAlive(pid)) continue;
    const cmd = procCommandLine(pid); // '' when gone
    found.push({
      pid,
      tag,
      session: get('DRAIN_SESSION_ID') ?? '?',
      run: get('DRAIN_RUN_ID') ?? '?',
      phase: get('DRAIN_PHASE_ID') ?? '?',
      tryNo: get('DRAIN_TRY') ?? '?',
      supervisor: cmd.includes('try-supervisor.mjs'),
      cmd: cmd.slice(0, 160),
    });
  }
  return found;
}

export const describeProc = (p: TaggedProcess) =>
  `pid ${p.pid} tag ${p.tag} ${p.session} ${p.run}/${p.phase} try ${p.tryNo}: ${p.cmd}`;

/**
 * Samples /proc (every host's processes) for executor processes of two different tries of one
 * run alive at once. A try's processes are those carrying its tag (the executor, its children,
 * escapees), not its supervisor (which outlives its executor by the few ms it takes to record
 * the end). A sighting counts only when, after the scan, every process of it is re-checked and
 * still alive: each was alive at its scan and later, so both were alive at the first re-check.
 */
export class ExecutorSampler {
  samples = 0;
  readonly overlaps: string[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly databaseUrl: string,
    private readonly stamp: () => string,
  ) {}

  sample(): void {
    this.samples++;
    const byRun = new Map<string, Map<string, TaggedProcess>>();
    for (const p of ourTaggedProcesses(this.databaseUrl)) {
      if (p.supervisor) continue;
      const tags = byRun.get(p.run) ?? new Map<string, TaggedProcess>();
      tags.set(p.tag, p);
      byRun.set(p.run, tags);
    }
    for (const [run, tags] of byRun) {
      if (tags.size < 2) continue;
      const procs = [...tags.values()];
      if (!procs.every((p) => isProcessAlive(p.pid))) continue;
      const key = `${run} ${[...tags.keys()].sort().join(',')}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.overlaps.push(`${this.stamp()} ${run}: ${procs.map(describeProc).join(' | ')}`);
    }
  }
}
