// The supervisor of one try (issue 17: fenced tries). Plain JavaScript, started by the worker
// for every executor (`node try-supervisor.mjs <executor argv…>`, configuration in the
// DRAIN_FENCE environment variable, which the executor does not inherit). It is the leader of
// the try's process group and lives exactly as long as the executor, its child:
//   - it renews the try's fence (drain_attempts.fence_at, database clock) and its run's lease in
//     one statement every R ms, each bounded by a statement timeout;
//   - it ends the executor (SIGTERM to the group, SIGKILL after the grace) when the try is no
//     longer current (a retry marked its row), when the lease is no longer the session's, when
//     it could not renew for F seconds (its own monotonic clock: a partition or a database
//     that does not answer), or at its hard time limit (a backstop behind the worker's clock);
//   - the executor gets SIGKILL if this process dies (setpriv --pdeathsig), and the try's
//     cgroup catches anything that left the group;
//   - when the executor ends, it records the end, the exit code or signal and why it ended in
//     drain_attempts (an interrupted try's finished_at becomes that end), writes the same to
//     a status file beside the logs, and exits the way the executor did, so the worker sees
//     the executor's own exit. Orphaned (its worker gone) or fenced out, it ends the whole
//     group and cgroup, itself last.
// Plain JavaScript and only `pg` (loaded once the executor runs), so it starts fast: no
// TypeScript loader per try, and the executor is spawned before anything else is loaded.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(process.env.DRAIN_FENCE ?? 'null');
if (!cfg) {
  process.stderr.write('try-supervisor: DRAIN_FENCE is not set (started by the worker only)\n');
  process.exit(2);
}
delete process.env.DRAIN_FENCE;
const argv = process.argv.slice(2);
const worker = process.ppid;
const ENDS = {
  superseded: 'the try is no longer current (a retry of the attempt took over)',
  'lease-lost': "the run's lease is no longer this session's",
  'fence-lost': `the fence could not be renewed for ${cfg.fenceSeconds} s (records database unreachable or blocked)`,
  'hard-limit': `the hard time limit of ${cfg.hardLimitSeconds} s passed`,
};

let ending = null;
let lastRenewed = performance.now();
let child = null;

// The group's SIGTERM (the worker's kill) is for the executor: this process outlives it to
// record its end. A SIGKILL of this process kills the executor through its parent-death signal.
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});

/**
 * Starts the executor as this process's child, in its group: through setpriv when the worker
 * found the command (cfg.command, its one PATH search), so the executor dies with this
 * process; otherwise as given, so a spawn error is Node's own (ENOENT, EACCES).
 */
function startExecutor() {
  const resolved = cfg.command;
  const setpriv = cfg.setpriv && resolved ? cfg.setpriv : null;
  const [cmd, ...args] = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', resolved, ...argv.slice(1)] : argv;
  child = spawn(cmd, args, { stdio: 'inherit' });
  child.on('error', (err) => finish({ spawnError: `spawn ${argv[0]} ${err.code ?? err.message}` }));
  child.on('exit', (code, signal) => finish({ returnCode: code, signal }));
}

let client = null;
/** `pg` is loaded after the executor has started: the executor never waits for it. */
async function connect() {
  const { default: pg } = await import('pg');
  const c = new pg.Client({
    connectionString: cfg.recordsUrl,
    ...(cfg.searchPath ? { options: `-c search_path=${cfg.searchPath}` } : {}),
    connectionTimeoutMillis: cfg.renewMs,
    statement_timeout: cfg.renewMs,
    query_timeout: cfg.renewMs + 500,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}
async function query(text, values) {
  if (!client) client = connect();
  try {
    return await (await client).query(text, values);
  } catch (err) {
    const c = client;
    client = null;
    c.then((x) => x.end()).catch(() => {});
    throw err;
  }
}

const KEY =
  'session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5 AND try = $6';
/** A later try of the same attempt exists: this one is superseded, whatever its row says. */
const LATER_TRY =
  'x.session_id = $1 AND x.exec_run_id = $2 AND x.run_id = $3 AND x.phase_id = $4 AND x.attempt = $5 AND x.try > $6';
const k = cfg.key;
const keyValues = [k.sessionId, k.execRunId, k.runId, k.phaseId, k.attempt, k.tryNo];

async function renew() {
  if (ending) return;
  try {
    const r = await query(
      `WITH f AS (UPDATE drain_attempts SET fence_at = now() WHERE ${KEY} AND status = 'running'
                    AND NOT EXISTS (SELECT 1 FROM drain_attempts x WHERE ${LATER_TRY}) RETURNING 1),
            l AS (UPDATE drain_leases SET expires_at = now() + make_interval(secs => $7::double precision)
                   WHERE run_id = $3 AND session_id = $1 AND EXISTS (SELECT 1 FROM f) RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM f) AS current, EXISTS (SELECT 1 FROM l) AS leased`,
      [...keyValues, cfg.leaseTtlSeconds],
    );
    lastRenewed = performance.now();
    if (!r.rows[0].current) end('superseded');
    else if (!r.rows[0].leased) end('lease-lost');
  } catch {
    if (performance.now() - lastRenewed > cfg.fenceSeconds * 1000) end('fence-lost');
  }
}

const groupKill = (sig) => {
  try {
    process.kill(-process.pid, sig);
  } catch {
    /* gone */
  }
};

/** Ends the executor: SIGTERM to the group (this process ignores it), SIGKILL after the grace. */
function end(reason) {
  if (ending) return;
  ending = reason;
  groupKill('SIGTERM');
  setTimeout(() => child?.pid && groupKill('SIGKILL'), cfg.killGraceMs).unref();
}

/** The end of the executor, recorded where every host can read it (bounded retries). */
async function recordEnd(r) {
  const values = [...keyValues, r.returnCode ?? null, r.signal ?? null, ending ?? 'exited'];
  for (let i = 0; i < 3; i++) {
    try {
      await query(
        `UPDATE drain_attempts SET process_ended_at = now(), process_exit_code = $7, process_signal = $8,
           supervisor_end = $9,
           finished_at = CASE WHEN status = 'interrupted' THEN now() ELSE finished_at END,
           duration_seconds = CASE WHEN status = 'interrupted'
                                   THEN EXTRACT(EPOCH FROM (now() - started_at)) ELSE duration_seconds END
         WHERE ${KEY}`,
        values,
      );
      return;
    } catch {
      await new Promise((res) => setTimeout(res, 200));
    }
  }
}

let finishing = false;
async function finish(r) {
  if (finishing) return;
  finishing = true;
  clearInterval(renewer);
  clearTimeout(hardLimit);
  const status = { ...r, end: ending ?? 'exited', reason: ending ? ENDS[ending] : null };
  try {
    writeFileSync(cfg.statusFile, JSON.stringify(status));
  } catch {
    /* the worker then judges by the exit alone */
  }
  if (!r.spawnError) await recordEnd(r);
  if (client) await client.then((c) => c.end()).catch(() => {});
  const orphaned = process.ppid !== worker;
  if (orphaned || ending) {
    // Nobody else will reap what is left of the try: the cgroup, then the group (this process too).
    if (cfg.cgroup) {
      try {
        writeFileSync(path.join(cfg.cgroup, 'cgroup.kill'), '1');
      } catch {
        /* no cgroup */
      }
    }
    groupKill('SIGKILL');
  }
  if (r.spawnError) process.exit(127);
  if (r.signal) {
    process.removeAllListeners(r.signal);
    process.kill(process.pid, r.signal);
    return;
  }
  process.exit(r.returnCode ?? 1);
}

startExecutor();
const renewer = setInterval(() => void renew(), cfg.renewMs);
void renew();
const hardLimit = setTimeout(() => end('hard-limit'), cfg.hardLimitSeconds * 1000 + cfg.killGraceMs + 5000);
