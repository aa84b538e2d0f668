/**
 * Throughput with slots: the same backlog (R runs × K FAILED phases) drained by one session at
 * 1, 2, 4 and 8 slots with a 2 s executor (`sleep 2`: the phase stays FAILED, so every pick is
 * a new phase) on real services, printing per slot count the wall time, phases per minute,
 * the speed-up over one slot, the most attempts that ran at once, and how many times two
 * attempts of one run overlapped (from the drain_attempts rows; must be 0):
 *
 *   npx tsx bench/parallel.ts [--slots 1,2,4,8] [--phases 32] [--runs 16] [--executor 'sleep 2'] [--timeline] [--cpu]
 *
 * --timeline also prints each attempt's start and end (seconds after the session started) and
 * its duration, by start: where a wave of slots loses time. --cpu prints the CPU time each
 * session used per phase by process (this worker, the tries' supervisors and executors, the
 * Temporal server, PostgreSQL …): where the machine's cores went.
 *
 * Prints numbers only (no thresholds); exits 1 if any run overlapped. Services and the temp
 * directory are removed on exit.
 */
import { startTestEnv } from '../harness/env.js';
import { peakParallel, runOverlaps, spansOf } from '../src/domain/overlap.js';
import { arg, freshBacklog, timedSession } from './session-run.js';
import { cpuLine, readCpu } from './cpu-use.js';

const slots = arg('--slots', '1,2,4,8')
  .split(',')
  .map((s) => Number(s.trim()));
const phases = Number(arg('--phases', '32'));
const runs = Number(arg('--runs', '16'));
const executor = arg('--executor', 'sleep 2');
if ([...slots, phases, runs].some((n) => !Number.isInteger(n) || n < 1) || phases % runs !== 0) {
  console.error(
    "usage: npx tsx bench/parallel.ts [--slots 1,2,4,8] [--phases 32] [--runs 16] [--executor 'sleep 2'] (phases a multiple of runs)",
  );
  process.exit(2);
}

/** Each attempt's start and end after the session's start, by start (--timeline). */
function printTimeline(t: Awaited<ReturnType<typeof timedSession>>): void {
  const rows = [...t.rows].sort((a, b) => +a.started_at - +b.started_at);
  const zero = +t.startedAt;
  for (const r of rows) {
    const from = (+r.started_at - zero) / 1000;
    const to = r.finished_at ? (+r.finished_at - zero) / 1000 : NaN;
    console.log(
      `  ${r.run_id}/${r.phase_id}: ${from.toFixed(2)} → ${to.toFixed(2)} s (ran ${r.duration_seconds ?? '?'} s)`,
    );
  }
}

const env = await startTestEnv();
const stop = () => void env.teardown().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
let overlapsTotal = 0;
try {
  await env.startWorker();
  console.log(`${phases} phases (${runs} runs × ${phases / runs}), executor: ${executor}`);
  let base: number | null = null;
  for (const [i, n] of slots.entries()) {
    await freshBacklog(env, runs, phases / runs);
    const cpu0 = readCpu();
    const t = await timedSession(env, `parallel-${i}-${n}`, phases, { executor, concurrency: n });
    const cpu = cpuLine(cpu0, readCpu(), phases, 'phase');
    const spans = spansOf(t.rows, (r) => ({
      runId: r.run_id,
      from: r.started_at,
      to: r.finished_at,
      label: r.phase_id,
    }));
    if (process.argv.includes('--timeline')) printTimeline(t);
    const overlaps = runOverlaps(spans).length;
    overlapsTotal += overlaps;
    const perMinute = (phases / t.seconds) * 60;
    base ??= perMinute;
    console.log(
      `${String(n).padStart(2)} slots: ${t.seconds.toFixed(1).padStart(6)} s, ${perMinute.toFixed(1).padStart(6)} phases/min, ` +
        `×${(perMinute / base).toFixed(2)} of ${slots[0]} slot${slots[0] === 1 ? '' : 's'}, ` +
        `up to ${peakParallel(spans)} at once, ${overlaps} overlaps within a run`,
    );
    if (process.argv.includes('--cpu')) console.log(`  ${cpu}`);
  }
} finally {
  await env.teardown();
}
process.exit(overlapsTotal === 0 ? 0 : 1);
