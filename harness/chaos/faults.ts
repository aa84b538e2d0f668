/**
 * The chaos run's faults (harness/chaos/run.ts plans and counts them): kill -9 of a worker, a
 * Temporal dev server restart, Postgres stopped, a worker partitioned (SIGSTOP past the
 * heartbeat timeout, then SIGCONT) and a slow database (row locks held on the drain_leases
 * rows of the runs being drained past the fence bound F). Each returns what it did.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import type { TestEnv } from '../env.js';
import type { ChaosHosts, ChaosWorker, HostKey } from './hosts.js';
import type { FaultKind, PlannedFault, ResolvedOptions } from './plan.js';
import type { AttemptRecord, PartitionRecord, SlowdbRecord, TryKey } from './invariants.js';

export interface FaultRecord {
  kind: FaultKind;
  /** Seconds since the sessions started. */
  at: number;
  /** How long the fault itself took (restart, outage, stop, lock). */
  seconds: number;
  what: string;
  /** kill, partition: the worker was running an executor. */
  hitExecutor?: boolean;
  /** kill, partition: the worker's host. */
  host?: HostKey;
  /** partition, slowdb: an executor was stretched first (and seen running). */
  stretched?: boolean;
  partition?: PartitionRecord & { stoppedSeconds: number; running: number; retriedElsewhere: number };
  slowdb?: SlowdbRecord;
}

export interface FaultContext {
  env: TestEnv;
  hosts: ChaosHosts;
  o: ResolvedOptions;
  /** The chaos executor reads it: see writeExecutor. */
  stretchFile: string;
  drainStart: number;
  print(line: string): void;
  stamp(): string;
  over(): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tryName = (r: TryKey) => `${r.session_id} ${r.run_id}/${r.phase_id} a${r.attempt}.t${r.try}`;

/** Running tries that started an executor, by their worker's identity. */
async function busyWorkers(env: TestEnv): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  try {
    const r = await env.pool.query<AttemptRecord>(
      "SELECT * FROM drain_attempts WHERE status = 'running' AND pid IS NOT NULL ORDER BY started_at",
    );
    for (const row of r.rows) if (row.worker_identity) m.set(row.worker_identity, tryName(row));
  } catch {
    /* unknown */
  }
  return m;
}

/**
 * A worker running an executor if there is one, else any worker that is up (a replacement
 * still starting is picked only when no other is left); `pick` chooses among them.
 */
async function pickWorker(
  ctx: FaultContext,
  pick: number,
): Promise<{ w: ChaosWorker; doing?: string } | null> {
  const busy = await busyWorkers(ctx.env);
  const up = ctx.hosts.live.filter((w) => w.up());
  const busyUp = up.filter((w) => busy.has(w.identity));
  const pool = busyUp.length > 0 ? busyUp : up.length > 0 ? up : [...ctx.hosts.live];
  const w = pool[Math.floor(pick * pool.length)];
  return w ? { w, doing: busy.get(w.identity) } : null;
}

const stretchedLog = (r: AttemptRecord) => {
  try {
    return r.stdout_path ? readFileSync(r.stdout_path, 'utf8').includes(': stretched: working ') : false;
  } catch {
    return false;
  }
};

/**
 * Makes the executors that start now work `seconds` before their phase (the stretch file),
 * until one of them is seen running (its log says so; at most 20 s), and returns its row.
 */
async function stretchOne(ctx: FaultContext, seconds: number): Promise<AttemptRecord | null> {
  const since = Date.now();
  writeFileSync(ctx.stretchFile, String(seconds));
  try {
    while (!ctx.over() && Date.now() - since < 20_000) {
      await sleep(300);
      const rows = await ctx.env.pool
        .query<AttemptRecord>(
          "SELECT * FROM drain_attempts WHERE status = 'running' AND pid IS NOT NULL AND started_at >= $1",
          [new Date(since - 1000)],
        )
        .then((r) => r.rows)
        .catch(() => [] as AttemptRecord[]);
      const found = rows.find(stretchedLog);
      if (found) return found;
    }
    return null;
  } finally {
    rmSync(ctx.stretchFile, { force: true });
  }
}

/**
 * Waits for a replacement worker to be up; one that ends before (a worker cannot start while
 * Postgres is down) is replaced again after 3 s, as a service manager would, at most 10 times.
 */
async function untilReplaced(ctx: FaultContext, first: ChaosWorker, f0: number): Promise<void> {
  let w = first;
  for (let i = 1; ; i++) {
    const ok = await ctx.hosts.ready(w, 120_000);
    const after = `after ${((Date.now() - f0) / 1000).toFixed(1)}s`;
    if (ok || !w.gone() || i >= 10 || ctx.over()) {
      ctx.print(
        `${ctx.stamp()} replacement worker ${w.identity} ${ok ? 'ready' : w.gone() ? 'ended before it was ready' : 'not ready'} ${after}`,
      );
      return;
    }
    await sleep(3000);
    if (ctx.over() || ctx.hosts.closing) return;
    const next = await ctx.hosts.spawn(w.host);
    ctx.print(
      `${ctx.stamp()} replacement worker ${w.identity} ended before it was ready ${after}; another: ${next.identity} (pid ${next.pid})`,
    );
    w = next;
  }
}

async function fireKill(
  ctx: FaultContext,
  f: PlannedFault,
  head: () => string,
  at: number,
): Promise<FaultRecord | null> {
  const f0 = Date.now();
  const picked = await pickWorker(ctx, f.pick);
  if (!picked) {
    ctx.print(`${head()} kill -9: no live worker`);
    return null;
  }
  const { w, doing } = picked;
  await ctx.hosts.kill(w);
  const replacement = await ctx.hosts.spawn(w.host);
  const what =
    `kill -9 worker ${w.identity} (pid ${w.pid})${doing ? ` (running ${doing})` : ' (idle)'}; ` +
    `replacement ${replacement.identity} (pid ${replacement.pid})`;
  ctx.print(`${head()} ${what}`);
  void untilReplaced(ctx, replacement, f0).catch(() => {});
  return { kind: 'kill', at, seconds: (Date.now() - f0) / 1000, what, hitExecutor: !!doing, host: w.host };
}

async function fireTemporal(ctx: FaultContext, head: () => string, at: number): Promise<FaultRecord> {
  const f0 = Date.now();
  ctx.print(`${head()} restarting the Temporal dev server…`);
  await ctx.env.restartTemporal();
  const seconds = (Date.now() - f0) / 1000;
  ctx.print(`${ctx.stamp()} Temporal dev server back after ${seconds.toFixed(1)}s`);
  return { kind: 'temporal', at, seconds, what: `Temporal dev server restarted in ${seconds.toFixed(1)}s` };
}

async function firePostgres(ctx: FaultContext, head: () => string, at: number): Promise<FaultRecord> {
  const f0 = Date.now();
  ctx.print(`${head()} stopping Postgres for ${ctx.o.postgresDownSeconds}s…`);
  await ctx.env.postgres.stop();
  await sleep(ctx.o.postgresDownSeconds * 1000);
  await ctx.env.postgres.start();
  const seconds = (Date.now() - f0) / 1000;
  ctx.print(`${ctx.stamp()} Postgres back after ${seconds.toFixed(1)}s`);
  return { kind: 'postgres', at, seconds, what: `Postgres down for ${seconds.toFixed(1)}s` };
}

/** The worker's rows a retry elsewhere has marked interrupted (read before it is continued). */
async function supersededRows(env: TestEnv, identity: string): Promise<AttemptRecord[]> {
  return env.pool
    .query<AttemptRecord>(
      `SELECT session_id, exec_run_id, run_id, phase_id, attempt, try, status, final_state, success, return_code,
              pid, started_at, finished_at, stdout_path, stderr_path, worker_identity, error_message, tag,
              processes_reaped, host, process_ended_at, supervisor_end
         FROM drain_attempts WHERE worker_identity = $1 AND status = 'interrupted'`,
      [identity],
    )
    .then((r) => r.rows)
    .catch(() => []);
}

/** The worker's running tries (read when it is stopped). */
async function runningOf(env: TestEnv, identity: string): Promise<TryKey[]> {
  return env.pool
    .query<TryKey>(
      `SELECT session_id, exec_run_id, run_id, phase_id, attempt, try FROM drain_attempts
        WHERE worker_identity = $1 AND status = 'running'`,
      [identity],
    )
    .then((r) => r.rows)
    .catch(() => []);
}

/** How many of `tries` have a later try of their attempt on another worker (started). */
async function retriedElsewhere(env: TestEnv, tries: TryKey[], identity: string): Promise<number> {
  let n = 0;
  for (const t of tries) {
    const r = await env.pool
      .query(
        `SELECT 1 FROM drain_attempts
          WHERE session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5
            AND try > $6 AND worker_identity IS DISTINCT FROM $7 LIMIT 1`,
        [t.session_id, t.exec_run_id, t.run_id, t.phase_id, t.attempt, t.try, identity],
      )
      .catch(() => ({ rowCount: 0 }));
    if (r.rowCount) n++;
  }
  return n;
}

/**
 * Keeps the worker stopped for longer than the heartbeat timeout (+ 2 s), then until each try
 * it was running has a later try on another worker (the retry has superseded it and started,
 * so SIGCONT lands while the retry works), at most the partition time. Returns the tries
 * retried elsewhere meanwhile.
 */
async function stayStopped(ctx: FaultContext, w: ChaosWorker, running: TryKey[]): Promise<number> {
  const f0 = Date.now();
  const minMs = (ctx.o.heartbeatTimeoutSeconds + 2) * 1000;
  for (;;) {
    await sleep(500);
    const elapsed = Date.now() - f0;
    if (elapsed < minMs) continue;
    const retried = running.length ? await retriedElsewhere(ctx.env, running, w.identity) : 0;
    if (retried === running.length || elapsed >= ctx.o.partitionSeconds * 1000) return retried;
  }
}

/**
 * SIGSTOP of a worker (the one running the stretched executor, else one running an executor)
 * past the heartbeat timeout: Temporal retries its drain on another worker meanwhile (see
 * stayStopped). Its rows marked interrupted by then are kept: after SIGCONT its late writes
 * must change none of them.
 */
async function firePartition(
  ctx: FaultContext,
  f: PlannedFault,
  head: () => string,
  at: number,
): Promise<FaultRecord | null> {
  const stretched = f.stretch ? await stretchOne(ctx, ctx.o.stretchSeconds.partition) : null;
  const own = stretched ? ctx.hosts.byIdentity(stretched.worker_identity) : undefined;
  const picked = own ? { w: own, doing: tryName(stretched!) } : await pickWorker(ctx, f.pick);
  if (!picked) {
    ctx.print(`${head()} partition: no live worker`);
    return null;
  }
  const { w, doing } = picked;
  const f0 = Date.now();
  ctx.hosts.pause(w);
  const running = await runningOf(ctx.env, w.identity);
  ctx.print(
    `${head()} SIGSTOP worker ${w.identity} (pid ${w.pid})${doing ? ` (running ${doing}${own ? ', stretched' : ''})` : ' (idle)'}…`,
  );
  const retried = await stayStopped(ctx, w, running);
  const superseded = await supersededRows(ctx.env, w.identity);
  ctx.hosts.resume(w);
  const seconds = (Date.now() - f0) / 1000;
  const what =
    `SIGCONT worker ${w.identity} after ${seconds.toFixed(1)}s; of its ${running.length} running tries ` +
    `${retried} retried on another worker meanwhile`;
  ctx.print(`${ctx.stamp()} ${what}`);
  return {
    kind: 'partition',
    at,
    seconds,
    what,
    hitExecutor: !!doing,
    host: w.host,
    stretched: !!own,
    partition: {
      identity: w.identity,
      supersededAtResume: superseded,
      stoppedSeconds: seconds,
      running: running.length,
      retriedElsewhere: retried,
    },
  };
}

/** BEGIN; SELECT … FOR UPDATE on the lease rows of the runs with running tries; the tries; the moment. */
async function lockLeases(client: pg.Client): Promise<{ runs: string[]; tries: TryKey[]; lockedAt: Date }> {
  await client.query('BEGIN');
  await client.query("SET LOCAL lock_timeout = '5s'");
  const locked = await client.query<{ run_id: string }>(
    `SELECT l.run_id FROM drain_leases l
      WHERE l.run_id IN (SELECT run_id FROM drain_attempts WHERE status = 'running')
      ORDER BY l.run_id FOR UPDATE OF l`,
  );
  const runs = locked.rows.map((r) => r.run_id);
  const { lockedAt } = (await client.query<{ lockedAt: Date }>('SELECT clock_timestamp() AS "lockedAt"'))
    .rows[0];
  const tries = (
    await client.query<TryKey>(
      `SELECT session_id, exec_run_id, run_id, phase_id, attempt, try FROM drain_attempts
        WHERE status = 'running' AND run_id = ANY($1) ORDER BY started_at`,
      [runs],
    )
  ).rows;
  return { runs, tries, lockedAt };
}

/**
 * Holds row locks on the drain_leases rows of the runs being drained (a stretched executor
 * among them) for the slow-database time, longer than F + 2R: their supervisors cannot renew
 * the fence (renewal and lease are one statement, bounded by a statement timeout of R), so
 * each ends its executor after F and the try is recorded lost; no session can take the runs.
 */
async function fireSlowdb(
  ctx: FaultContext,
  f: PlannedFault,
  head: () => string,
  at: number,
): Promise<FaultRecord> {
  const stretched = await stretchOne(ctx, ctx.o.stretchSeconds.slowdb);
  const f0 = Date.now();
  const client = new pg.Client({ connectionString: ctx.env.databaseUrl });
  client.on('error', () => {});
  try {
    await client.connect();
    const { runs, tries, lockedAt } = await lockLeases(client);
    ctx.print(
      `${head()} slow database: row locks on the drain_leases rows of ${runs.length} run(s) (${runs.join(', ') || 'none being drained'}) ` +
        `for ${ctx.o.slowdbSeconds}s; tries running: ${tries.map(tryName).join(', ') || 'none'}` +
        (stretched ? ` (stretched: ${tryName(stretched)})` : ' (no stretched executor seen)'),
    );
    await sleep(ctx.o.slowdbSeconds * 1000);
    const { releasedAt } = (
      await client.query<{ releasedAt: Date }>('SELECT clock_timestamp() AS "releasedAt"')
    ).rows[0];
    await client.query('COMMIT');
    const seconds = (Date.now() - f0) / 1000;
    const what = `lease rows of ${runs.length} run(s) locked ${seconds.toFixed(1)}s, ${tries.length} tries running`;
    ctx.print(`${ctx.stamp()} slow database over: locks released after ${seconds.toFixed(1)}s`);
    return {
      kind: 'slowdb',
      at,
      seconds,
      what,
      stretched: !!stretched,
      slowdb: { lockedAt, releasedAt, runs, tries },
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    const what = `slow database failed: ${(err as Error).message}`;
    ctx.print(`${ctx.stamp()} ${what}`);
    return { kind: 'slowdb', at, seconds: (Date.now() - f0) / 1000, what };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Fires fault `n` of `total`; null when it found nothing to hit (no live worker). */
export async function fireFault(
  ctx: FaultContext,
  f: PlannedFault,
  n: number,
  total: number,
): Promise<FaultRecord | null> {
  const at = (Date.now() - ctx.drainStart) / 1000;
  const head = () => `${ctx.stamp()} fault ${n}/${total}:`;
  switch (f.kind) {
    case 'kill':
      return fireKill(ctx, f, head, at);
    case 'temporal':
      return fireTemporal(ctx, head, at);
    case 'postgres':
      return firePostgres(ctx, head, at);
    case 'partition':
      return firePartition(ctx, f, head, at);
    case 'slowdb':
      return fireSlowdb(ctx, f, head, at);
  }
}
