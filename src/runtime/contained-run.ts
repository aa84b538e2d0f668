/**
 * The one run of a contained process (an executor, a baseline capture): start it in its own
 * group (and cgroup: containment.ts), let the caller watch it (timers, cancellation, output) and
 * kill its group through one GroupKill, then once it exited wait for that kill, for its move into
 * the cgroup, and end everything of it that is left (endTry: group, cgroup, tagged escapees).
 */
import { endTry, type ContainedExit } from './containment.js';
import { terminateGroup } from './process-group.js';

/** A started contained process (spawnContained's result). */
interface ContainedStart {
  pid: number | null;
  exited: Promise<ContainedExit>;
  joined: Promise<boolean>;
}

/** The kill of a contained process's group: SIGTERM, SIGKILL after the grace; only the first call kills. */
export class GroupKill {
  killing: Promise<void> | null = null;

  constructor(
    readonly pid: number | null,
    private readonly graceMs: number,
  ) {}

  kill(grace = this.graceMs): void {
    if (this.pid && !this.killing) this.killing = terminateGroup(this.pid, grace);
  }
}

/** What the caller watches while the process runs. */
interface RunWatch {
  /** The process exited (its group may still be ending). */
  exited(): void;
  /** Everything is over (also when ending it failed). */
  stop(): void;
}

interface ContainedRun<K extends GroupKill> {
  pid: number | null;
  exit: ContainedExit;
  /** Why it could not be started (the spawn's error), else null. */
  spawnError: string | null;
  /** Processes that outlived its group and had to be reaped (setsid, double forks). */
  processesReaped: number;
  /** performance.now() just before the start: durations count from here. */
  started: number;
  group: K;
}

/** Calls `fn` when `signal` aborts (at once when it already has); returns the removal. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) fn();
  else signal.addEventListener('abort', fn);
  return () => signal.removeEventListener('abort', fn);
}

/**
 * Starts the process (`start`), has `watch` watch it with the group's kill (`group`), and
 * returns once it exited and nothing of it (group, cgroup, anything carrying `tag`) is left.
 */
export async function runContained<K extends GroupKill>(o: {
  start: () => ContainedStart;
  tag: string;
  cgroup: string | null;
  graceMs: number;
  group: (pid: number | null) => K;
  watch: (run: { pid: number | null; group: K; started: number }) => RunWatch;
}): Promise<ContainedRun<K>> {
  const started = performance.now();
  const startedMs = Date.now();
  const sub = o.start();
  const pid = sub.pid;
  const group = o.group(pid);
  const watching = o.watch({ pid, group, started });
  let exit: ContainedExit;
  let processesReaped = 0;
  try {
    exit = await sub.exited;
    watching.exited();
    // The main process is gone; nothing it started may outlive it (its group, its cgroup,
    // anything carrying its tag: setsid and double forks included).
    if (pid) await group.killing;
    await sub.joined; // a move into the cgroup still under way would miss cgroup.kill
    processesReaped = await endTry({ pgid: pid, tag: o.tag, cgroup: o.cgroup, startedMs }, o.graceMs);
  } finally {
    watching.stop();
  }
  const spawnError =
    pid === null || (exit.error && exit.exitCode === null && !exit.signal)
      ? (exit.error?.message ?? 'unknown spawn error')
      : null;
  return { pid, exit, spawnError, processesReaped, started, group };
}
