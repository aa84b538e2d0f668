/**
 * The drain of a chaos run (run.ts sets it up and reports): both sessions started, watched
 * until they close (or the deadline), and the faults fired one at a time as the drain
 * progresses, while /proc is sampled.
 */
import type { TestEnv } from '../env.js';
import type { ChaosHosts } from './hosts.js';
import { fireFault, type FaultContext } from './faults.js';
import { stretchFileOf, type ChaosPlan, type ResolvedOptions } from './plan.js';
import { FINAL } from './invariants.js';
import type { ExecutorSampler } from './processes.js';
import type { ChaosStats } from './report.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the steps of one run share. */
export interface Run {
  o: ResolvedOptions;
  plan: ChaosPlan;
  env: TestEnv;
  hosts: ChaosHosts;
  stats: ChaosStats;
  sampler: ExecutorSampler;
  print(line: string): void;
  stamp(): string;
  t0: number;
  drainStart: number;
  ids: string[];
  closed: Map<string, ChaosStats['sessions'][number]>;
  over(): boolean;
}

/** Starts both sessions (no run filter, the whole backlog each). */
async function startSessions(run: Run, executor: string): Promise<void> {
  const total = run.plan.phases.length;
  const input = {
    batchSize: total,
    executor,
    phaseTimeoutSeconds: 120,
    heartbeatTimeoutSeconds: run.o.heartbeatTimeoutSeconds,
  };
  run.drainStart = Date.now();
  for (const id of run.ids) {
    await run.env.client.workflow.start('batchDrain', {
      taskQueue: run.env.taskQueue,
      workflowId: id,
      args: [input],
    });
  }
  run.print(`${run.stamp()} sessions ${run.ids.join(' and ')} started (batch ${total} each, no run filter)`);
}

/** The session's closing status (and result), or null while it runs. Throws while Temporal restarts. */
async function closedSession(run: Run, id: string): Promise<ChaosStats['sessions'][number] | null> {
  const h = run.env.client.workflow.getHandle(id);
  const d = await h.describe();
  if (d.status.name === 'RUNNING') return null;
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
  return s;
}

/** Polls the sessions every second until both closed (or the deadline, or Ctrl-C). */
async function watchSessions(run: Run): Promise<void> {
  while (!run.over()) {
    for (const id of run.ids) {
      if (run.closed.has(id)) continue;
      const s = await closedSession(run, id).catch(() => null); // Temporal is restarting: ask again
      if (!s) continue;
      run.closed.set(id, s);
      run.print(
        `${run.stamp()} session ${id}: ${s.status}` +
          (s.processed !== undefined
            ? ` (processed ${s.processed}, succeeded ${s.succeeded}, failed ${s.failed}; ${s.stopReason})`
            : ''),
      );
    }
    await sleep(1000);
  }
}

async function finalRecords(run: Run): Promise<number> {
  try {
    const r = await run.env.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM drain_attempts WHERE status = ANY($1)',
      [FINAL],
    );
    return r.rows[0].n;
  } catch {
    return -1; // the database is away
  }
}

/** The faults, one at a time, each once its progress threshold and delay have passed. */
async function runFaults(run: Run): Promise<void> {
  const ctx: FaultContext = {
    env: run.env,
    hosts: run.hosts,
    o: run.o,
    stretchFile: stretchFileOf(run.env.dir),
    drainStart: run.drainStart,
    print: run.print,
    stamp: run.stamp,
    over: run.over,
  };
  const faults = run.plan.faults;
  let progress = 0;
  for (let i = 0; i < faults.length && !run.over(); i++) {
    while (!run.over() && progress < faults[i].threshold) {
      progress = Math.max(progress, await finalRecords(run));
      if (progress < faults[i].threshold) await sleep(500);
    }
    if (run.over()) break;
    await sleep(faults[i].delayMs);
    if (run.over()) break;
    const f = await fireFault(ctx, faults[i], i + 1, faults.length);
    if (f) run.stats.faults.push(f);
  }
}

/** Both sessions drain while the faults fire and /proc is sampled every 300 ms, until both closed (or the deadline). */
export async function drainUnderFaults(run: Run, executor: string): Promise<void> {
  const timer = setInterval(() => run.sampler.sample(), 300);
  try {
    await startSessions(run, executor);
    const watching = watchSessions(run);
    await runFaults(run);
    await watching;
    run.stats.drainSeconds = (Date.now() - run.drainStart) / 1000;
  } finally {
    clearInterval(timer);
  }
}
