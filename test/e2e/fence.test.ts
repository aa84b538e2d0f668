/**
 * Fenced tries (issue 17, "Done when"), on real processes: one executor per phase across
 * hosts, partitions and a slow database.
 *
 * "Hosts" are `drain worker` processes in PID, UTS and mount namespaces of their own (unshare;
 * we are root): each has its own host name and sees only its own processes, as on two
 * machines, while both reach this test's Postgres and Temporal dev server on 127.0.0.1 (the
 * network namespace is shared). The namespace's PID 1 is a shell that outlives its worker, so
 * a SIGKILL of the worker's node process kills only that process. /proc of this (the root)
 * namespace sees every executor of every host: a sampler (test/helpers/executors.ts) looks
 * every 200 ms for two executors of the phase (or run) alive at once.
 *
 * Fence parameters of the workers (src/domain/fence.ts): renewal every R = 1 s, a supervisor
 * ends its executor after F = 5 s without a renewal; S = F + 2R + 2 = 9 s.
 *
 * The partition runs twice: with one activity slot per worker (a busy worker holds no open
 * poll), and with the default 20, where the stopped worker's open polls are handed retries
 * (tries 2, 3, … time out there before B gets one) that it runs, late, once it wakes up: those
 * superseded tries must change nothing either.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import type pg from 'pg';
import { startTestEnv, eventually, heartbeatRecorded, type TestEnv } from '../helpers/env.js';
import {
  ExecutorSampler,
  childrenOf,
  cmdlineOf,
  describeSighting,
  drainProcessesOf,
  killAll,
  parentOf,
  pidNamespaceOf,
  type ExecutorSighting,
} from '../helpers/executors.js';
import { seedPhases } from '../../src/sim/seed.js';
import { projectRoot } from '../../src/runtime/paths.js';
import type { SessionResult } from '../../src/domain/messages.js';
import type { DrainWorker } from '../../src/worker.js';
import { OTHER_HOST_ARGS } from '../../harness/chaos/hosts.js';

const FENCE_ENV = { DRAIN_FENCE_RENEW_MS: '1000', DRAIN_FENCE_SECONDS: '5' };
const HEARTBEAT_TIMEOUT_SECONDS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (d: Date | number | null | undefined) =>
  d === null || d === undefined ? 'null' : new Date(d).toISOString();
const ms = (d: Date | null | undefined) => (d ? new Date(d).getTime() : null);
const rand = () => Math.random().toString(36).slice(2, 8);

/** A drain_attempts row with the columns of migration 009. */
interface TryRow {
  session_id: string;
  run_id: string;
  phase_id: string;
  attempt: number;
  try: number;
  status: string;
  final_state: string | null;
  pid: number | null;
  worker_identity: string | null;
  started_at: Date;
  finished_at: Date | null;
  error_message: string | null;
  return_code: number | null;
  stdout_path: string | null;
  stderr_path: string | null;
  outcome: unknown;
  host: string | null;
  fence_at: Date | null;
  process_ended_at: Date | null;
  process_exit_code: number | null;
  process_signal: string | null;
  supervisor_end: string | null;
}

async function triesOf(env: TestEnv, sessionId: string): Promise<TryRow[]> {
  return (
    await env.pool.query<TryRow>(
      'SELECT * FROM drain_attempts WHERE session_id = $1 ORDER BY attempt, try, id',
      [sessionId],
    )
  ).rows;
}

const rowLine = (r: TryRow) =>
  `${r.session_id} ${r.run_id}/${r.phase_id} a${r.attempt}.t${r.try} ${r.status}${r.final_state ? ` ${r.final_state}` : ''}` +
  ` host=${r.host ?? 'null'} worker=${r.worker_identity ?? 'null'} pid=${r.pid ?? '-'}` +
  ` started=${iso(r.started_at)} finished=${iso(r.finished_at)} fence=${iso(r.fence_at)}` +
  ` process_ended=${iso(r.process_ended_at)} exit=${r.process_exit_code ?? '-'}/${r.process_signal ?? '-'}` +
  ` supervisor_end=${r.supervisor_end ?? 'null'} error=${JSON.stringify((r.error_message ?? '').slice(0, 200))}`;

/** The reference executor's lines (`[sim] …`) in a try's logs: it ran an executor. */
function simLines(r: TryRow): string[] {
  return [r.stdout_path, r.stderr_path].flatMap((f) => {
    try {
      return f
        ? readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l.includes('[sim] '))
        : [];
    } catch {
      return [];
    }
  });
}

/** Collects what is wrong, so that a failure names every broken promise at once. */
class Problems {
  readonly list: string[] = [];
  check(ok: unknown, what: string): void {
    if (!ok) this.list.push(what);
  }
  /** Fails naming every problem with the evidence; when there is none, the evidence goes to the report. */
  assertNone(t: TestContext, diagnostics: () => string[]): void {
    if (this.list.length === 0)
      for (const line of diagnostics()) if (!line.startsWith('---')) t.diagnostic(line);
    assert.deepEqual(
      this.list,
      [],
      `\n${this.list.map((p) => `✗ ${p}`).join('\n')}\n--- evidence\n${diagnostics().join('\n')}`,
    );
  }
}

/** The session's result, or null when it did not close within `ms` (it is terminated then). */
async function resultWithin(handle: WorkflowHandle, ms: number): Promise<SessionResult | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    const r = await Promise.race([handle.result().then((x) => x as SessionResult), timeout]);
    if (r === 'timeout') {
      await handle.terminate('fence test: deadline').catch(() => {});
      return `session ${handle.workflowId} did not close within ${ms / 1000} s (terminated)`;
    }
    return r;
  } catch (err) {
    return `session ${handle.workflowId} failed: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** A `drain worker` on its own "host": PID, UTS and mount namespaces; PID 1 a shell that outlives it. */
interface Host {
  name: string;
  /** setpriv → unshare (this namespace); its death takes the namespace with it. */
  proc: ChildProcess;
  /** The namespace's PID 1 (a shell), as this namespace numbers it. */
  shellPid: number;
  /** The worker's node process, as this namespace numbers it. */
  workerPid: number;
  pidNs: string;
  output(): string;
  stop(): Promise<void>;
}

const HOST_SCRIPT = 'hostname "$0" || exit 97; "$@" & while :; do sleep 1; done';

async function startHost(
  env: TestEnv,
  name: string,
  taskQueue: string,
  hosts: Host[],
  maxConcurrent: string | null = '1',
): Promise<Host> {
  const proc = spawn(
    'setpriv',
    [
      ...OTHER_HOST_ARGS, // this test process dies: the namespace goes with it
      'sh',
      '-c',
      HOST_SCRIPT,
      name,
      process.execPath,
      path.join(projectRoot(), 'bin', 'drain.js'),
      'worker',
      '--task-queue',
      taskQueue,
      // '1': one activity at a time, so a worker busy with its drain holds no open poll for
      // another task, and a retry cannot be handed to a stopped worker (null: the default, 20).
      ...(maxConcurrent === null ? [] : ['--max-concurrent', maxConcurrent]),
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        TEMPORAL_ADDRESS: env.temporal.address,
        DRAIN_EXECUTOR: env.executor,
        DRAIN_WORKSPACE: env.workspace,
        DRAIN_HEARTBEAT_MS: '1000',
        ...FENCE_ENV,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout?.on('data', (c) => (out += c));
  proc.stderr?.on('data', (c) => (out += c));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const host: Host = {
    name,
    proc,
    shellPid: 0,
    workerPid: 0,
    pidNs: '',
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
      if (host.shellPid) {
        await eventually(
          () => parentOf(host.shellPid) === null,
          10_000,
          `${name}: its namespace to end`,
        ).catch(() => killAll([host.shellPid]));
      }
    },
  };
  hosts.push(host); // cleaned up even when it never came up
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  host.shellPid = (await eventually(
    () => {
      if (gone()) throw new Error(`${name}: unshare ended: ${out}`);
      return childrenOf(proc.pid!)[0];
    },
    10_000,
    `${name}: the namespace's shell`,
  ))!;
  host.pidNs = pidNamespaceOf(host.shellPid) ?? '';
  host.workerPid = (await eventually(
    () =>
      childrenOf(host.shellPid).find((p) => {
        const cmd = cmdlineOf(p);
        return cmd.startsWith(`${process.execPath} `) && cmd.includes('drain.js worker');
      }),
    10_000,
    `${name}: its worker process`,
  ))!;
  await eventually(
    () => {
      if (gone()) throw new Error(`${name}: the namespace ended: ${out}`);
      return out.includes('worker running');
    },
    120_000,
    `${name}: its worker to run`,
  );
  assert.notEqual(host.pidNs, pidNamespaceOf(process.pid), `${name} has a PID namespace of its own`);
  return host;
}

/**
 * Waits until the server holds a heartbeat of the running drain (a retry reads its details):
 * one naming the executor's group (heartbeatRecorded), else, after 30 s, any heartbeat details.
 */
async function heartbeatSent(handle: WorkflowHandle): Promise<void> {
  await heartbeatRecorded(handle).catch(() =>
    eventually(
      async () =>
        ((await handle.describe()).raw.pendingActivities ?? []).some(
          (a) => (a.heartbeatDetails?.payloads ?? []).length > 0,
        ),
      30_000,
      'a recorded heartbeat of the running drain',
    ),
  );
}

function alive(pid: number): boolean {
  return parentOf(pid) !== null;
}

/** Polls a phase's state and reason; keeps every change with when it was seen. */
function watchPhase(env: TestEnv, runId: string, phaseId: string) {
  const changes: { at: number; state: string; reason: string | null }[] = [];
  let last = '';
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const r = await env.pool.query<{ state: string; last_failure_reason: string | null }>(
        'SELECT state, last_failure_reason FROM phases WHERE run_id = $1 AND phase_id = $2',
        [runId, phaseId],
      );
      const row = r.rows[0];
      const key = JSON.stringify(row ?? null);
      if (row && key !== last) {
        last = key;
        changes.push({ at: Date.now(), state: row.state, reason: row.last_failure_reason });
      }
    } catch {
      /* try again */
    } finally {
      busy = false;
    }
  }, 200);
  return { changes, stop: () => clearInterval(timer) };
}

async function phaseState(env: TestEnv, runId: string, phaseId: string): Promise<string | null> {
  const r = await env.pool.query<{ state: string }>(
    'SELECT state FROM phases WHERE run_id = $1 AND phase_id = $2',
    [runId, phaseId],
  );
  return r.rows[0]?.state ?? null;
}

/** Ends every drain process of this env left alive (workers, supervisors, executors). */
function killLeftovers(env: TestEnv): number[] {
  return killAll(drainProcessesOf([env.databaseUrl, env.dir]));
}

/**
 * Worker A SIGSTOPped past the heartbeat timeout while its executor runs, SIGCONT once B's
 * executor runs: never two executors at once, and nothing A does after it wakes changes
 * anything (no hand-back with --on-kill fail, its try stays interrupted, no other row of A).
 * With free activity slots (`maxConcurrent` null: the default 20), the stopped A keeps polls
 * open: Temporal hands it retries that it only runs, late, after SIGCONT.
 */
async function partitionCase(
  env: TestEnv,
  t: TestContext,
  o: { label: string; maxConcurrent: string | null; seconds: number },
): Promise<void> {
  const sessionId = `fence-partition-${o.label}-${rand()}`;
  const runId = `run-${sessionId}`;
  const phaseId = `p${o.seconds}`;
  const taskQueue = `fence-partition-${rand()}`;
  const hosts: Host[] = [];
  const problems = new Problems();
  let sampler: ExecutorSampler | null = null;
  let phase: ReturnType<typeof watchPhase> | null = null;
  let handle: WorkflowHandle | null = null;
  let stopAt = 0;
  let contAt = 0;
  let t1Before: TryRow | undefined;
  let rows: TryRow[] = [];
  let retriesHandedToA: number | null = null;
  const diagnostics = () => [
    `SIGSTOP of A's worker at ${iso(stopAt)}, SIGCONT at ${iso(contAt)}; retries handed to the stopped A: ${retriesHandedToA}`,
    `try 1 before SIGCONT: ${t1Before ? rowLine(t1Before) : 'none'}`,
    ...rows.map(rowLine),
    `executors seen (${sampler?.samples ?? 0} samples): A = ${hosts[0]?.pidNs}, B = ${hosts[1]?.pidNs}`,
    ...(sampler?.seen() ?? []).map(describeSighting),
    'phase changes:',
    ...(phase?.changes ?? []).map((c) => `  ${iso(c.at)} ${c.state} ${JSON.stringify(c.reason)}`),
    ...hosts.map((h) => `--- ${h.name} output (tail)\n${h.output().slice(-2500)}`),
  ];
  try {
    await seedPhases(env.pool, [
      { runId, phaseId, sim: { scenario: 'complete', seconds: o.seconds, events: 1 } },
    ]);
    sampler = new ExecutorSampler(env.databaseUrl, runId, phaseId);
    const a = await startHost(env, 'host-a', taskQueue, hosts, o.maxConcurrent);
    handle = await env.client.workflow.start('batchDrain', {
      taskQueue,
      workflowId: sessionId,
      args: [
        {
          batchSize: 1,
          runId,
          phaseTimeoutSeconds: 300,
          heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS,
          killGraceSeconds: 2,
          onKill: 'fail',
          maxDrainTries: 10,
        },
      ],
    });
    await eventually(() => sampler!.seen(a.pidNs).length > 0, 60_000, "A's executor to run");
    await heartbeatSent(handle);
    const b = await startHost(env, 'host-b', taskQueue, hosts, o.maxConcurrent);

    phase = watchPhase(env, runId, phaseId);
    process.kill(a.workerPid, 'SIGSTOP');
    stopAt = Date.now();
    // Temporal retries once A's heartbeats are overdue, on B (or first on A's open polls, with
    // free slots); B's executor runs after A's ended.
    const fromB = (r: TryRow) => /@host-b:/.test(r.worker_identity ?? '');
    const firstOfB = (await eventually(
      async () => (await triesOf(env, sessionId)).find((r) => r.try >= 2 && fromB(r)),
      120_000,
      'a retry on B',
    ))!;
    retriesHandedToA = firstOfB.try - 2;
    t.diagnostic(
      `retries handed to the stopped A's open polls before B got one: ${retriesHandedToA} (B's first try: ${firstOfB.try})`,
    );
    await eventually(() => sampler!.seen(b.pidNs).length > 0, 60_000, "B's executor to run").catch(() => {});
    await sleep(2000);
    problems.check(
      Date.now() - stopAt > HEARTBEAT_TIMEOUT_SECONDS * 1000,
      'A was stopped longer than the heartbeat timeout',
    );
    t1Before = (await triesOf(env, sessionId)).find((r) => r.attempt === 1 && r.try === 1);
    process.kill(a.workerPid, 'SIGCONT');
    contAt = Date.now();

    const result = await resultWithin(handle, 150_000);
    await sleep(5000); // A's late writes, if any, land by now (A woke up long ago)
    sampler.sample();
    sampler.stop();
    phase.stop();
    rows = await triesOf(env, sessionId);

    problems.check(
      sampler.overlaps.length === 0,
      `two executors at once:\n  ${sampler.overlaps.join('\n  ')}`,
    );
    problems.check(typeof result !== 'string', `the session completes: ${String(result)}`);
    const state = await phaseState(env, runId, phaseId);
    problems.check(state === 'COMPLETE', `the phase is COMPLETE (is ${state})`);
    // A's late writes change nothing: no hand-back as FAILED, its try stays interrupted, no other row of A.
    const handedBack = phase.changes.filter(
      (c) =>
        c.at > stopAt &&
        (c.state === 'FAILED' ||
          /stopped by autopack-drain|handed back|PHASE_(CANCELLED|TIMEOUT|STALLED)/.test(c.reason ?? '')),
    );
    problems.check(
      handedBack.length === 0,
      `the phase is not handed back FAILED after A was stopped (--on-kill fail): ` +
        handedBack.map((c) => `${iso(c.at)} ${c.state} ${JSON.stringify(c.reason)}`).join('; '),
    );
    const t1 = rows.find((r) => r.attempt === 1 && r.try === 1);
    problems.check(
      t1Before?.status === 'interrupted',
      `try 1 was interrupted before SIGCONT (was ${t1Before?.status})`,
    );
    problems.check(t1?.status === 'interrupted', `try 1 stays interrupted after SIGCONT (is ${t1?.status})`);
    const facts = (r: TryRow | undefined) =>
      r && {
        status: r.status,
        final_state: r.final_state,
        finished_at: iso(r.finished_at),
        error_message: r.error_message,
        return_code: r.return_code,
        outcome: r.outcome,
        process_ended_at: iso(r.process_ended_at),
        supervisor_end: r.supervisor_end,
      };
    problems.check(
      JSON.stringify(facts(t1)) === JSON.stringify(facts(t1Before)),
      `try 1's row is unchanged by A after SIGCONT:\n  before ${JSON.stringify(facts(t1Before))}\n  after  ${JSON.stringify(facts(t1))}`,
    );
    const fromA = rows.filter(
      (r) =>
        !(r.attempt === 1 && r.try === 1) &&
        (r.worker_identity === t1?.worker_identity || r.host === 'host-a'),
    );
    problems.check(fromA.length === 0, `no other row from A: ${fromA.map(rowLine).join('; ')}`);
    // A late try of A whose own log (not the earlier try's, as a reconciled row has) holds the
    // reference executor's output ran an executor while B's try was current.
    for (const r of fromA.filter((x) => x.status !== 'reconciled' && x.stdout_path !== t1?.stdout_path)) {
      const ran = simLines(r);
      problems.check(
        ran.length === 0,
        `try ${r.try} of A ran an executor after SIGCONT: ${ran.slice(0, 3).join(' / ')}`,
      );
    }
    problems.check(
      rows.every((r) => r.attempt === 1),
      'one attempt (no second attempt of the phase)',
    );
    const last = rows.filter((r) => r.try > 1).at(-1);
    problems.check(
      last?.status !== 'finished' || sampler.seen(hosts[1]?.pidNs).length > 0,
      "B's try finished: the sampler saw B's executor (it is not blind to B's namespace)",
    );
    problems.check(
      last && ['finished', 'reconciled'].includes(last.status) && last.final_state === 'COMPLETE',
      `B's try is finished or reconciled with the phase COMPLETE (is ${last ? `${last.status} ${last.final_state}` : 'none'})`,
    );
    problems.assertNone(t, diagnostics);
  } finally {
    sampler?.stop();
    phase?.stop();
    if (handle) await handle.terminate('fence test over').catch(() => {});
    for (const h of hosts) {
      if (h.workerPid) killAll([h.workerPid]); // a stopped worker ends with its namespace, but be sure
      await h.stop();
    }
    killLeftovers(env);
  }
}

describe('fenced tries: one executor per phase across hosts, partitions and a slow database', () => {
  let env: TestEnv;
  before(async () => {
    Object.assign(process.env, FENCE_ENV); // the in-process worker of the slow-database test
    env = await startTestEnv();
  });
  after(async () => {
    if (env) killLeftovers(env);
    await env?.teardown();
  });

  test(
    'two hosts: worker A SIGKILLed mid-drain, B retries: never two executors, the true end of A’s try recorded',
    { timeout: 240_000 },
    async (t) => {
      const sessionId = `fence-hosts-${rand()}`;
      const runId = `run-${sessionId}`;
      const phaseId = 'p60';
      const taskQueue = `fence-hosts-${rand()}`;
      const hosts: Host[] = [];
      const problems = new Problems();
      let sampler: ExecutorSampler | null = null;
      let handle: WorkflowHandle | null = null;
      let killAt = 0;
      let rows: TryRow[] = [];
      let aSeen: ExecutorSighting[] = [];
      let aAliveAfterKill: boolean | null = null;
      const diagnostics = () => [
        `killed A's worker at ${iso(killAt)}`,
        ...rows.map(rowLine),
        `executors seen (${sampler?.samples ?? 0} samples): A = ${hosts[0]?.pidNs}, B = ${hosts[1]?.pidNs}`,
        ...(sampler?.seen() ?? []).map(describeSighting),
        `A's executor alive right after the kill: ${aAliveAfterKill}`,
        ...hosts.map((h) => `--- ${h.name} output (tail)\n${h.output().slice(-2500)}`),
      ];
      try {
        await seedPhases(env.pool, [
          { runId, phaseId, sim: { scenario: 'complete', seconds: 60, events: 1 } },
        ]);
        sampler = new ExecutorSampler(env.databaseUrl, runId, phaseId);
        const a = await startHost(env, 'host-a', taskQueue, hosts);
        handle = await env.client.workflow.start('batchDrain', {
          taskQueue,
          workflowId: sessionId,
          args: [
            {
              batchSize: 1,
              runId,
              phaseTimeoutSeconds: 300,
              heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS,
              killGraceSeconds: 2,
            },
          ],
        });
        await eventually(() => sampler!.seen(a.pidNs).length > 0, 60_000, "A's executor to run");
        await heartbeatSent(handle);
        const b = await startHost(env, 'host-b', taskQueue, hosts);
        assert.notEqual(a.pidNs, b.pidNs);
        aSeen = sampler.seen(a.pidNs);
        assert.equal(aSeen.length, 1, 'one executor of A before the kill');
        assert.ok(alive(aSeen[0].pid), "A's executor runs when its worker is killed");

        process.kill(a.workerPid, 'SIGKILL');
        killAt = Date.now();
        await eventually(() => !alive(a.workerPid), 10_000, "A's worker to die");
        aAliveAfterKill = alive(aSeen[0].pid);
        assert.ok(alive(a.shellPid), "A's namespace outlives its worker");

        const result = await resultWithin(handle, 150_000);
        await sleep(1000); // a last sample after the session closed
        sampler.sample();
        sampler.stop();
        rows = await triesOf(env, sessionId);
        aSeen = sampler.seen(a.pidNs);
        const bSeen = sampler.seen(b.pidNs);

        // Never two executors of the phase at once.
        problems.check(
          sampler.overlaps.length === 0,
          `two executors at once:\n  ${sampler.overlaps.join('\n  ')}`,
        );
        problems.check(
          sampler.seen().every((s) => s.goneAt !== null),
          'an executor of the phase is still alive after the session closed',
        );
        // The session completes; the phase was drained, not twice at once.
        problems.check(typeof result !== 'string', `the session completes: ${String(result)}`);
        if (typeof result !== 'string') {
          problems.check(
            result.processed === 1 && result.succeeded === 1,
            `the session drained the phase (processed ${result.processed}, succeeded ${result.succeeded})`,
          );
        }
        const state = await phaseState(env, runId, phaseId);
        problems.check(state === 'COMPLETE', `the phase is COMPLETE (is ${state})`);
        const t1 = rows.find((r) => r.attempt === 1 && r.try === 1);
        const later = rows.filter((r) => r.attempt === 1 && r.try > 1);
        const last = later.at(-1);
        problems.check(t1?.status === 'interrupted', `try 1 is interrupted (is ${t1?.status})`);
        problems.check(
          last && ['finished', 'reconciled'].includes(last.status),
          `a later try is finished or reconciled (last: ${last ? `try ${last.try} ${last.status}` : 'none'})`,
        );
        problems.check(
          rows.every((r) => r.attempt === 1),
          'one attempt (no second attempt of the phase)',
        );
        const t1End = ms(t1?.process_ended_at);
        problems.check(t1End !== null, "try 1's process_ended_at is recorded (its executor's true end)");
        for (const r of later) {
          const ranExecutor = r.status === 'finished' || r.pid !== null;
          if (!ranExecutor) continue;
          problems.check(
            t1End !== null && ms(r.started_at)! > t1End,
            `try ${r.try} ran an executor: its started_at ${iso(r.started_at)} is after try 1's process_ended_at ${iso(t1End)}`,
          );
        }
        // The evidence shows the true end of A's try.
        const t1Finished = ms(t1?.finished_at);
        problems.check(
          t1Finished !== null && t1End !== null && Math.abs(t1Finished - t1End) <= 1000,
          `try 1's finished_at ${iso(t1Finished)} is its process_ended_at ${iso(t1End)} (within 1 s)`,
        );
        problems.check(
          t1Finished !== null && t1Finished > killAt + 3000,
          `try 1's finished_at ${iso(t1Finished)} is after the kill (${iso(killAt)}) + 3 s, when its supervisor ended the executor`,
        );
        const aExec = aSeen[0];
        if (aExec) {
          const lo = aExec.lastSeen - 1000;
          const hi = (aExec.goneAt ?? Date.now()) + 1000;
          problems.check(
            t1Finished !== null && t1Finished >= lo && t1Finished <= hi,
            `try 1's finished_at ${iso(t1Finished)} is when A's executor ended as /proc saw it ` +
              `(last seen ${iso(aExec.lastSeen)}, gone ${iso(aExec.goneAt)}; ±1 s)`,
          );
          problems.check(
            !later.some((r) => r.status === 'finished') || bSeen.length > 0,
            "a later try finished: the sampler saw B's executor (it is not blind to B's namespace)",
          );
          const bFirst = bSeen[0]?.firstSeen ?? null;
          problems.check(
            bFirst === null || (aExec.goneAt !== null && bFirst >= aExec.goneAt),
            `B's executor started (seen ${iso(bFirst)}) after A's was gone (${iso(aExec.goneAt)})`,
          );
        }
        problems.check(t1?.host === 'host-a', `try 1's host is host-a (is ${t1?.host})`);
        problems.check(last?.host === 'host-b', `the later try's host is host-b (is ${last?.host})`);
        problems.assertNone(t, diagnostics);
      } finally {
        sampler?.stop();
        if (handle) await handle.terminate('fence test over').catch(() => {});
        for (const h of hosts) await h.stop();
        killLeftovers(env);
      }
    },
  );

  test(
    'partition: worker A SIGSTOPped past the heartbeat timeout, then SIGCONT: never two executors, A’s late writes change nothing',
    { timeout: 240_000 },
    (t) => partitionCase(env, t, { label: 'one-slot', maxConcurrent: '1', seconds: 30 }),
  );

  test(
    'partition with free slots (default --max-concurrent): retries handed to the stopped A, run late after SIGCONT, change nothing',
    { timeout: 240_000 },
    (t) => partitionCase(env, t, { label: 'free-slots', maxConcurrent: null, seconds: 60 }),
  );

  test(
    'slow database: lease renewals blocked past the TTL stop the executor (lost); another session then takes the run, never beside it',
    { timeout: 240_000 },
    async (t) => {
      const first = `fence-slowdb-1-${rand()}`;
      const second = `fence-slowdb-2-${rand()}`;
      const runId = `run-${first}`;
      const taskQueue = `fence-slowdb-${rand()}`;
      const problems = new Problems();
      let worker: DrainWorker | null = null;
      let sampler: ExecutorSampler | null = null;
      const handles: WorkflowHandle[] = [];
      let lock: pg.PoolClient | null = null;
      let lockAt = 0;
      let lostAt = 0;
      let commitAt = 0;
      let rows: TryRow[] = [];
      const diagnostics = () => [
        `lease row locked at ${iso(lockAt)}, try seen lost at ${iso(lostAt || null)}, lock committed at ${iso(commitAt || null)}`,
        ...rows.map(rowLine),
        `executors of the run seen (${sampler?.samples ?? 0} samples):`,
        ...(sampler?.seen() ?? []).map(describeSighting),
      ];
      try {
        // The worker's own lease TTL is short (10 s): the lease TTL is then heartbeat timeout + S.
        worker = await env.startWorker({ taskQueue, leaseTtlSeconds: 10 });
        await seedPhases(env.pool, [{ runId, phaseId: 'p1-hang', sim: { scenario: 'hang' } }]);
        sampler = new ExecutorSampler(env.databaseUrl, runId);
        const input = {
          batchSize: 1,
          runId,
          phaseTimeoutSeconds: 300,
          heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS,
          killGraceSeconds: 2,
        };
        const h1 = await env.client.workflow.start('batchDrain', {
          taskQueue,
          workflowId: first,
          args: [input],
        });
        handles.push(h1);
        await eventually(() => sampler!.seen().length > 0, 60_000, 'the first session’s executor to run');
        await eventually(
          async () => (await triesOf(env, first)).some((r) => r.status === 'running'),
          30_000,
          'the first session’s running try',
        );
        // A second phase of the run, for the second session (the first one drains one phase).
        await seedPhases(env.pool, [
          { runId, phaseId: 'p2-short', phaseIndex: 1, sim: { scenario: 'complete', seconds: 3, events: 1 } },
        ]);

        lock = await env.pool.connect();
        await lock.query('BEGIN');
        const locked = await lock.query('SELECT 1 FROM drain_leases WHERE run_id = $1 FOR UPDATE', [runId]);
        lockAt = Date.now();
        assert.equal(locked.rowCount, 1, 'the run’s lease row is locked');
        const h2 = await env.client.workflow.start('batchDrain', {
          taskQueue,
          workflowId: second,
          args: [input],
        });
        handles.push(h2);

        // Renewals blocked: the executor is stopped and the try recorded lost.
        const lost = await eventually(
          async () => (await triesOf(env, first)).find((r) => r.status === 'lost'),
          45_000,
          'the first session’s try to be recorded lost',
        ).catch(() => null);
        lostAt = lost ? Date.now() : 0;
        problems.check(
          lost,
          `the first session's try is recorded lost while its lease cannot be renewed (waited 45 s)`,
        );
        if (lost) {
          const text = `${lost.error_message ?? ''} ${JSON.stringify(lost.outcome ?? '')}`;
          problems.check(
            /fence|lease/i.test(text) && /renew/i.test(text),
            `the lost try says its fence/lease could not be renewed: ${JSON.stringify(text.slice(0, 300))}`,
          );
          const stopped = await eventually(() => sampler!.sample().length === 0, 5000, 'no executor').catch(
            () => false,
          );
          problems.check(stopped, 'the first session’s executor is stopped once its try is lost');
        }
        await lock.query('COMMIT');
        commitAt = Date.now();
        lock.release();
        lock = null;

        const [r1, r2] = await Promise.all([resultWithin(h1, 45_000), resultWithin(h2, 60_000)]);
        await sleep(500);
        sampler.sample();
        sampler.stop();
        rows = [...(await triesOf(env, first)), ...(await triesOf(env, second))];

        problems.check(typeof r1 !== 'string', `the first session closes: ${String(r1)}`);
        problems.check(typeof r2 !== 'string', `the second session completes: ${String(r2)}`);
        if (typeof r2 !== 'string') {
          problems.check(
            r2.processed === 1 && r2.succeeded === 1,
            `the second session drained the run's other phase (processed ${r2.processed}, succeeded ${r2.succeeded})`,
          );
        }
        problems.check(
          (await phaseState(env, runId, 'p2-short')) === 'COMPLETE',
          'the second session completed the run’s other phase',
        );
        const s1 = rows.find((r) => r.session_id === first);
        const s2 = rows.filter((r) => r.session_id === second);
        problems.check(s1?.status === 'lost', `the first session's try is lost (is ${s1?.status})`);
        const s1End = ms(s1?.process_ended_at);
        problems.check(
          s1End !== null,
          "the first session's try records its executor's end (process_ended_at)",
        );
        for (const r of s2) {
          problems.check(
            s1End !== null && ms(r.started_at)! > s1End,
            `the second session's try (${r.phase_id}) started ${iso(r.started_at)} after the first one's executor ended (${iso(s1End)})`,
          );
        }
        problems.check(
          s2.some((r) => r.status === 'finished'),
          'the second session ran its executor (a finished try)',
        );
        problems.check(
          sampler.overlaps.length === 0,
          `two executors of the run at once:\n  ${sampler.overlaps.join('\n  ')}`,
        );
        const p1 = sampler.seen().filter((s) => s.phase === 'p1-hang');
        const p2 = sampler.seen().filter((s) => s.phase === 'p2-short');
        problems.check(
          !s2.some((r) => r.status === 'finished') || p2.length > 0,
          'the second session’s try finished: the sampler saw its executor',
        );
        problems.check(
          p2.every((b) => p1.every((a) => a.goneAt !== null && b.firstSeen >= a.goneAt)),
          'the second session’s executor started after the first one’s was gone (/proc)',
        );
        problems.assertNone(t, diagnostics);
      } finally {
        sampler?.stop();
        if (lock) {
          await lock.query('ROLLBACK').catch(() => {});
          lock.release();
        }
        for (const h of handles) await h.terminate('fence test over').catch(() => {});
        killLeftovers(env);
        await worker?.shutdown().catch(() => {});
      }
    },
  );
});
