/**
 * Controller time per phase: one sequential session (concurrency 1) drains N phases with a
 * no-op executor (`true`: exits at once, the phase stays FAILED, so every pick is a new phase)
 * on real services, then prints what the controller spent per phase (wall time minus the
 * executor's own run time) and where it went (each activity from scheduled to completed, and
 * the workflow tasks), from the session's history, with the statements the worker sent per phase
 * (the most sent first); then the server's own floor (bench/floor: a workflow looping over
 * no-op activities on the same server):
 *
 *   npx tsx bench/overhead.ts [--phases 100]
 *
 * Prints numbers only (no thresholds). Services and the temp directory are removed on exit.
 */
import { startTestEnv } from '../harness/env.js';
import { arg, freshBacklog, timedSession } from './session-run.js';
import { measureFloor } from './floor/run.js';
import { countPgStatements } from '../harness/pg-counts.js';

const phases = Number(arg('--phases', '100'));
if (!Number.isInteger(phases) || phases < 2) {
  console.error('usage: npx tsx bench/overhead.ts [--phases 100]');
  process.exit(2);
}

interface Ev {
  eventId?: unknown;
  eventType?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
  workflowTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
}
const ms = (e: Ev) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** Mean ms from scheduled to completed per activity type, and per workflow task. */
function breakdown(events: Ev[]): Map<string, { n: number; total: number }> {
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const out = new Map<string, { n: number; total: number }>();
  const add = (k: string, v: number) => {
    const cur = out.get(k) ?? { n: 0, total: 0 };
    out.set(k, { n: cur.n + 1, total: cur.total + v });
  };
  for (const e of events) {
    const act = e.activityTaskCompletedEventAttributes;
    const wft = e.workflowTaskCompletedEventAttributes;
    const sched = byId.get(Number(act?.scheduledEventId ?? wft?.scheduledEventId ?? -1));
    if (!sched) continue;
    const name = act
      ? (sched.activityTaskScheduledEventAttributes?.activityType?.name ?? '?')
      : '(workflow task)';
    add(name, ms(e) - ms(sched));
  }
  return out;
}

const env = await startTestEnv();
const stop = () => void env.teardown().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  await env.startWorker();
  await freshBacklog(env, 10, Math.ceil(phases / 10));
  const id = `overhead-${phases}`;
  // Every statement the in-process worker sends (try supervisors, other processes, not counted).
  const counted = countPgStatements();
  const t = await timedSession(env, id, phases, { executor: 'true', concurrency: 1 }).finally(() =>
    counted.stop(),
  );
  const executorSeconds = t.rows.reduce((s, r) => s + (r.duration_seconds ?? 0), 0);
  const perPhase = ((t.seconds - executorSeconds) / phases) * 1000;
  console.log(
    `${phases} phases, sequential, no-op executor: ${t.seconds.toFixed(1)} s wall, ` +
      `executor ${((executorSeconds / phases) * 1000).toFixed(0)} ms/phase, ` +
      `controller ${perPhase.toFixed(0)} ms/phase`,
  );
  console.log(`  statements: ${(counted.statements / phases).toFixed(1)} per phase; the most sent:`);
  const byCount = [...counted.byText].sort((a, b) => b[1].statements - a[1].statements).slice(0, 30);
  for (const [text, c] of byCount) {
    console.log(`    ${(c.statements / phases).toFixed(2).padStart(6)}/phase  ${text.slice(0, 90)}`);
  }
  const history = await env.client.workflow.getHandle(id).fetchHistory();
  const parts = [...breakdown((history.events ?? []) as Ev[])].sort((a, b) => b[1].total - a[1].total);
  for (const [name, { n, total }] of parts) {
    console.log(
      `  ${name.padEnd(24)} ${String(n).padStart(5)}× ${(total / n).toFixed(1).padStart(7)} ms each, ${(total / phases).toFixed(1).padStart(7)} ms/phase`,
    );
  }
  // The same server's own cost of a round, without any of this project's code.
  const floor = await measureFloor(env.temporal.address, env.client, phases);
  console.log(
    `Temporal floor on this server (bench/floor, no database, files or processes): ` +
      `${floor.activityMs.toFixed(0)} ms per round of one no-op activity, ` +
      `${floor.activityAndTwoLocalsMs.toFixed(0)} ms with two no-op local activities after it`,
  );
  // Issue 19's target: the controller within 1.25× the floor of the same three round trips.
  console.log(
    `controller / floor: ×${(perPhase / floor.activityAndTwoLocalsMs).toFixed(2)} ` +
      `(${perPhase.toFixed(0)} ms / ${floor.activityAndTwoLocalsMs.toFixed(0)} ms)`,
  );
} finally {
  await env.teardown();
}
