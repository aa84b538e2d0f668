// The supervisor of one try (issue 17: fenced tries). Plain JavaScript. The worker keeps it
// ready before the try needs it (src/runtime/supervisor-pool.ts): started with nothing but a pipe
// on its stdin, it reads two JSON lines there. The first names the records database (and R): it
// loads `pg` and connects while it waits. The second is one try's (its key, the executor's argv,
// environment, working directory and log files, the fence bounds); it may never come, and an
// end of input before it ends this process quietly (its worker is gone or does not need it).
// From the second line on it is the leader of the try's process group and lives exactly as long
// as the executor, its child:
//   - it renews the try's fence (drain_attempts.fence_at, database clock) and its run's lease in
//     one statement every R ms, each bounded by a statement timeout;
//   - it ends the executor (SIGTERM to the group, SIGKILL after the grace) when the try is no
//     longer current (a retry marked its row), when the lease is no longer the session's, when
//     it could not renew for F seconds (its own monotonic clock, from the try's start: a
//     partition or a database that does not answer), or at its hard time limit (a backstop
//     behind the worker's clock);
//   - the executor gets SIGKILL if this process dies (setpriv --pdeathsig), and the try's
//     cgroup (which the worker moved this process into before sending the try) catches
//     anything that left the group;
//   - when the executor ends, it records the end, the exit code or signal and why it ended in
//     drain_attempts (an interrupted try's finished_at becomes that end), writes the same to
//     a status file beside the logs, and exits the way the executor did, so the worker sees
//     the executor's own exit. Orphaned (its worker gone) or fenced out, it ends the whole
//     group and cgroup, itself last.
// Nothing of this is loaded or connected per try: a try starts with one spawn (the executor's).
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const worker = process.ppid;
/** The records database ({ recordsUrl, searchPath, renewMs }), from the first line. */
let records = null;
/** The try ({ key, argv, env, cwd, stdoutPath, stderrPath, command, setpriv, … }), from the second. */
let cfg = null;
const ENDS = {
  superseded: 'the try is no longer current (a retry of the attempt took over)',
  'lease-lost': "the run's lease is no longer this session's",
  'fence-lost': () =>
    `the fence could not be renewed for ${cfg.fenceSeconds} s (records database unreachable or blocked)`,
  'hard-limit': () => `the hard time limit of ${cfg.hardLimitSeconds} s passed`,
};
const endReason = (e) => (typeof ENDS[e] === 'function' ? ENDS[e]() : ENDS[e]);

let ending = null;
let lastRenewed = performance.now();
let child = null;

// The group's SIGTERM (the worker's kill) is for the executor: this process outlives it to
// record its end. A SIGKILL of this process kills the executor through its parent-death signal.
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});

/** The executor could not start in `cwd`: Node would blame the command (`spawn setpriv ENOENT`). */
function cwdError(cwd) {
  try {
    return statSync(cwd).isDirectory() ? null : `working directory ${cwd} is not a directory`;
  } catch (err) {
    return `working directory ${cwd}: ${err.code ?? err.message}`;
  }
}

/**
 * Starts the executor as this process's child, in its group, with its output appended to the
 * try's log files: through setpriv when the worker found the command (cfg.command, its one PATH
 * search), so the executor dies with this process; otherwise as given, so a spawn error is
 * Node's own (ENOENT, EACCES).
 */
function startExecutor() {
  const argv = cfg.argv;
  const bad = cwdError(cfg.cwd);
  if (bad) return void finish({ spawnError: `spawn ${argv[0]}: ${bad}` });
  const resolved = cfg.command;
  const setpriv = cfg.setpriv && resolved ? cfg.setpriv : null;
  const [cmd, ...args] = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', resolved, ...argv.slice(1)] : argv;
  const out = openSync(cfg.stdoutPath, 'a');
  const err = openSync(cfg.stderrPath, 'a');
  try {
    child = spawn(cmd, args, { stdio: ['ignore', out, err], env: cfg.env, cwd: cfg.cwd });
  } catch (e) {
    return void finish({ spawnError: `spawn ${argv[0]} ${e.code ?? e.message}` });
  } finally {
    closeSync(out); // the executor has its own copies
    closeSync(err);
  }
  child.on('error', (e) => finish({ spawnError: `spawn ${argv[0]} ${e.code ?? e.message}` }));
  child.on('exit', (code, signal) => finish({ returnCode: code, signal }));
}

let client = null;
/** A connection to the records (a promise that is never left unhandled: a failure only clears it). */
function connect() {
  // pg asks whether it runs in a Cloudflare Worker by making a `Response`, which on Node 20 loads
  // Node's fetch (undici): ~30 ms of CPU at every supervisor's start (0.095 → 0.062 s for a Node
  // start that loads pg). This process never fetches: without the global, pg takes Node's sockets.
  delete globalThis.Response;
  const connected = import('pg').then(({ default: pg }) => {
    const c = new pg.Client({
      connectionString: records.recordsUrl,
      ...(records.searchPath ? { options: `-c search_path=${records.searchPath}` } : {}),
      connectionTimeoutMillis: records.renewMs,
      statement_timeout: records.renewMs,
      query_timeout: records.renewMs + 500,
    });
    c.on('error', () => {
      if (client === connected) client = null; // reconnect at the next query
    });
    return c.connect().then(() => c);
  });
  connected.catch(() => {
    if (client === connected) client = null; // reconnect at the next query
  });
  return connected;
}
async function query(text, values) {
  if (!client) client = connect();
  const c = client;
  try {
    return await (await c).query(text, values);
  } catch (err) {
    if (client === c) client = null;
    c.then((x) => x.end()).catch(() => {});
    throw err;
  }
}

const KEY =
  'session_id = $1 AND exec_run_id = $2 AND run_id = $3 AND phase_id = $4 AND attempt = $5 AND try = $6';
/** A later try of the same attempt exists: this one is superseded, whatever its row says. */
const LATER_TRY =
  'x.session_id = $1 AND x.exec_run_id = $2 AND x.run_id = $3 AND x.phase_id = $4 AND x.attempt = $5 AND x.try > $6';
let keyValues = null;

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
  if (renewer) clearInterval(renewer);
  if (hardLimit) clearTimeout(hardLimit);
  const status = { ...r, end: ending ?? 'exited', reason: ending ? endReason(ending) : null };
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

let renewer = null;
let hardLimit = null;

/** The try (the second line): from here on this process is the try's. */
function startTry(line) {
  cfg = JSON.parse(line);
  const k = cfg.key;
  keyValues = [k.sessionId, k.execRunId, k.runId, k.phaseId, k.attempt, k.tryNo];
  lastRenewed = performance.now();
  startExecutor();
  if (finishing) return;
  renewer = setInterval(() => void renew(), cfg.renewMs);
  void renew();
  hardLimit = setTimeout(() => end('hard-limit'), cfg.hardLimitSeconds * 1000 + cfg.killGraceMs + 5000);
}

/** Ends a supervisor that never got its try (its worker is gone, or had no use for it). */
function idleExit() {
  if (cfg) return;
  const c = client;
  client = null;
  void Promise.resolve(c)
    .then((x) => x?.end())
    .catch(() => {})
    .finally(() => process.exit(0));
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  if (!records) {
    records = JSON.parse(line);
    client = connect(); // ready before the try comes; a failure is retried at its first renewal
    return;
  }
  if (!cfg) startTry(line);
});
lines.on('close', idleExit);
