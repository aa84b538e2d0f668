/**
 * The chaos run's `drain worker` processes on two "hosts". Host A is this (the root) namespace;
 * host B ("chaos-b") is a PID, UTS and mount namespace of its own (unshare; we are root), whose
 * PID 1 is a shell that only waits, so that killing one of its workers never ends the
 * namespace. Every worker of host B is entered into that one namespace (nsenter), so host B's
 * workers see each other's processes and none of host A's, as on two machines, while the
 * network namespace is shared (127.0.0.1 reaches this run's Postgres and Temporal dev server).
 * /proc of this namespace sees the processes of both hosts.
 *
 * A worker of host A is the `node bin/drain.js worker` child itself; one of host B is that node
 * process under nsenter (which waits for it, mirrors its stops and exits the way it did): kills
 * and stops go to the node process, by its pid in this namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import type { TestEnv } from '../env.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { innermostPid as procInnermostPid, pidNamespace, taskChildren } from '../../src/runtime/proc.js';

export type HostKey = 'A' | 'B';
export const HOST_B = 'chaos-b';

export interface ChaosWorker {
  host: HostKey;
  /** The host name the worker sees (and records in drain_attempts.host). */
  hostname: string;
  /** node (host A) or nsenter (host B). */
  child: ChildProcess;
  /** The worker's node process, as this namespace numbers it. */
  pid: number;
  /** …and as its host numbers it (in its identity `drain-worker@<host>:<pid>`). */
  hostPid: number;
  identity: string;
  output(): string;
  gone(): boolean;
  exited: Promise<void>;
  /** It said `worker running`. */
  up(): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pids of a process's children (this namespace's numbers), or [] when it is gone. */
function childrenOf(pid: number): number[] {
  return taskChildren(pid);
}

/** A process's pid in the innermost PID namespace it is in (NSpid's last field), or null. */
function innermostPid(pid: number): number | null {
  return procInnermostPid(pid);
}

function pidNamespaceOf(pid: number | 'self'): string | null {
  return pidNamespace(pid);
}

async function until<T>(fn: () => T | null | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`chaos hosts: timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Host B: the namespace and its waiting PID 1. */
interface Namespace {
  proc: ChildProcess;
  shellPid: number;
  pidNs: string;
}

/**
 * `setpriv` arguments that run a command as another "host": its own PID, UTS (hostname) and
 * mount namespaces (with its own /proc). The namespace dies with the process that started it:
 * setpriv's parent-death signal ends unshare, whose --kill-child ends everything inside.
 */
export const OTHER_HOST_ARGS = [
  '--pdeathsig',
  'KILL',
  'unshare',
  '--pid',
  '--fork',
  '--kill-child=SIGKILL',
  '--uts',
  '--mount',
  '--mount-proc',
];

async function startNamespace(): Promise<Namespace> {
  const proc = spawn(
    'setpriv',
    [
      ...OTHER_HOST_ARGS,
      'sh',
      '-c',
      // PID 1 only waits (and reaps the orphans it adopts): its workers are entered by nsenter.
      'hostname "$0" || exit 97; while :; do sleep 1; done',
      HOST_B,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr?.on('data', (c) => (err += c));
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const shellPid = await until(
    () => {
      if (gone()) throw new Error(`chaos hosts: unshare ended (${proc.exitCode ?? proc.signalCode}): ${err}`);
      const sh = childrenOf(proc.pid!)[0];
      // The shell has set its host name once `sleep` runs under it.
      return sh && childrenOf(sh).length > 0 ? sh : null;
    },
    10_000,
    "host B's namespace",
  );
  const pidNs = pidNamespaceOf(shellPid) ?? '?';
  if (pidNs === pidNamespaceOf('self'))
    throw new Error('chaos hosts: host B has no PID namespace of its own');
  return { proc, shellPid, pidNs };
}

/** What every worker gets: environment, and per host the arguments after `--task-queue Q`. */
interface WorkerSetup {
  env: Record<string, string>;
  args: Record<HostKey, string[]>;
}

export class ChaosHosts {
  readonly live: ChaosWorker[] = [];
  readonly spawned: Record<HostKey, number> = { A: 0, B: 0 };
  readonly hostA = hostname();
  /** Torn down (or being): no more workers. */
  closing = false;

  private constructor(
    private readonly env: TestEnv,
    private readonly worker: WorkerSetup,
    private readonly ns: Namespace,
  ) {}

  /** Host B's namespace; workers get `worker.env` and `drain worker --task-queue Q ${worker.args[host]}`. */
  static async start(env: TestEnv, worker: WorkerSetup): Promise<ChaosHosts> {
    return new ChaosHosts(env, worker, await startNamespace());
  }

  get pidNamespaceB(): string {
    return this.ns.pidNs;
  }

  nameOf(host: HostKey): string {
    return host === 'A' ? this.hostA : HOST_B;
  }

  /** Starts a worker on `host` (host B: entered into its namespace). */
  async spawn(host: HostKey): Promise<ChaosWorker> {
    if (this.closing) throw new Error('chaos hosts: torn down');
    const argv = [
      path.join(projectRoot(), 'bin', 'drain.js'),
      'worker',
      '--task-queue',
      this.env.taskQueue,
      ...this.worker.args[host],
    ];
    const [cmd, args] =
      host === 'A'
        ? [process.execPath, argv]
        : [
            'nsenter',
            [
              '--target',
              String(this.ns.shellPid),
              '--pid',
              '--uts',
              '--mount',
              '--',
              process.execPath,
              ...argv,
            ],
          ];
    const child = spawn(cmd, args, {
      env: {
        ...process.env,
        DATABASE_URL: this.env.databaseUrl,
        TEMPORAL_ADDRESS: this.env.temporal.address,
        DRAIN_EXECUTOR: this.env.executor,
        DRAIN_WORKSPACE: this.env.workspace,
        DRAIN_HEARTBEAT_MS: '1000',
        ...this.worker.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (c) => (out += c));
    child.stderr?.on('data', (c) => (out += c));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    const pid =
      host === 'A'
        ? child.pid!
        : await until(() => gone() || childrenOf(child.pid!)[0], 10_000, 'a host B worker').then((p) =>
            p === true ? child.pid! : p,
          );
    const hostPid = innermostPid(pid) ?? pid;
    const w: ChaosWorker = {
      host,
      hostname: this.nameOf(host),
      child,
      pid,
      hostPid,
      identity: `drain-worker@${this.nameOf(host)}:${hostPid}`,
      output: () => out,
      gone,
      exited,
      up: () => out.includes('worker running'),
    };
    this.spawned[host]++;
    this.live.push(w);
    void exited.then(() => {
      const i = this.live.indexOf(w);
      if (i >= 0) this.live.splice(i, 1);
    });
    return w;
  }

  /** Waits until the worker says `worker running`; false when it ended or `ms` passed. */
  async ready(w: ChaosWorker, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (w.up()) return true;
      if (w.gone()) return false;
      await sleep(200);
    }
    return false;
  }

  byIdentity(identity: string | null): ChaosWorker | undefined {
    return this.live.find((w) => w.identity === identity);
  }

  /** kill -9 of the worker's node process (only it: its executors' supervisors live on). */
  async kill(w: ChaosWorker): Promise<void> {
    signal(w.pid, 'SIGKILL');
    await w.exited;
  }

  /** SIGSTOP of the worker's node process. */
  pause(w: ChaosWorker): void {
    signal(w.pid, 'SIGSTOP');
  }

  /** SIGCONT of the worker (and of nsenter, which stopped itself when its child stopped). */
  resume(w: ChaosWorker): void {
    signal(w.pid, 'SIGCONT');
    if (w.child.pid !== w.pid) signal(w.child.pid!, 'SIGCONT');
  }

  /** Ends every worker, then host B's namespace (whatever is left in it goes with its PID 1). */
  async teardown(): Promise<void> {
    this.closing = true;
    const all = [...this.live];
    for (const w of all) {
      signal(w.pid, 'SIGKILL');
      if (w.child.pid !== w.pid) signal(w.child.pid!, 'SIGKILL');
    }
    await Promise.race([Promise.all(all.map((w) => w.exited)), sleep(5000)]);
    if (this.ns.proc.exitCode === null && this.ns.proc.signalCode === null) {
      const ended = new Promise((r) => this.ns.proc.once('exit', r));
      signal(this.ns.proc.pid!, 'SIGKILL');
      await Promise.race([ended, sleep(5000)]);
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}
