/**
 * The same scenarios on both kinds of backlog an operator has, each built from Autopack's own
 * schema: a PostgreSQL database (records beside it) and a SQLite file (records in PostgreSQL,
 * a schema of their own): drain, dry run, slots, crash recovery (a `drain worker` killed with
 * SIGKILL mid-phase), verify, report and failure memory. Then, on SQLite only, a Python writer
 * (Python's sqlite3, as Autopack's executor writes) hammers the file while two sessions drain
 * it: it never sees "database is locked", and neither do we.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestEnv, eventually, heartbeatRecorded, type TestEnv } from '../helpers/env.js';
import { BACKLOG_KINDS, backlogUnderTest, type BacklogUnderTest } from '../helpers/backlogs.js';
import { runCli } from '../helpers/cli.js';
import { startDrain } from '../../src/client.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { verifySession } from '../../src/cli/verify-session.js';
import type { PhaseSeed } from '../../src/sim/seed.js';
import { closeSimDb, insertEscalationEvent, insertEstimationEvent, openSimDb } from '../../src/sim/db.js';
import type { SessionResult } from '../../src/domain/messages.js';

const FAIL_REASON = 'pytest collection error: ImportError: cannot import name frobnicate';

/** A mixed backlog of two runs (ids with spaces and quotes included). */
function mixed(prefix: string): PhaseSeed[] {
  return [
    { runId: `${prefix}-a`, phaseId: 'ok', sim: { scenario: 'complete', events: 2, seconds: 0.2 } },
    {
      runId: `${prefix}-a`,
      phaseId: 'fails',
      lastFailureReason: 'old',
      sim: { scenario: 'fail', reason: 'patch apply failed: hunk #2 FAILED' },
    },
    { runId: `${prefix}-a`, phaseId: 'crash "odd" id', sim: { scenario: 'crash', exitCode: 3 } },
    { runId: `${prefix}-b`, phaseId: 'unicode', sim: { scenario: 'unicode', events: 1 } },
    { runId: `${prefix}-b`, phaseId: 'escalate', sim: { scenario: 'escalate', escalations: 1, events: 1 } },
  ];
}

for (const kind of BACKLOG_KINDS) {
  describe(`a ${kind} backlog made with Autopack's schema`, () => {
    let env: TestEnv;
    let b: BacklogUnderTest;
    const run = async (id: string, input: Record<string, unknown>) =>
      (await (await b.start({ killGraceSeconds: 1, ...input }, id)).result()) as SessionResult;

    before(async () => {
      env = await startTestEnv();
      b = await backlogUnderTest(env, kind);
      await b.startWorker();
    });
    after(async () => {
      await b?.close();
      await env?.teardown();
    });

    test('a dry run plans without running anything or changing the backlog', async () => {
      await b.seed(mixed('dry'));
      const before = await b.phases();
      const r = await run(`${kind}-dry`, { runId: 'dry-a', dryRun: true, batchSize: 10 });
      assert.ok(r.planned && r.planned.length === 3, JSON.stringify(r.planned));
      assert.deepEqual(await listSessionAttempts(b.records, `${kind}-dry`), []);
      assert.deepEqual(await b.phases(), before);
    });

    test('a drain runs each phase once, leaves its state, and records the evidence', async () => {
      await b.seed(mixed('mix'));
      const id = `${kind}-mixed`;
      const r = await run(id, {
        batchSize: 20,
        maxAttemptsPerPhase: 1,
        phaseTimeoutSeconds: 20,
        skipRunPrefixes: ['dry'],
      });
      assert.equal(r.processed, 5);
      assert.equal(r.succeeded, 2);
      const states = await b.phases();
      assert.equal(states.get('mix-a:ok')?.state, 'COMPLETE');
      assert.equal(states.get('mix-b:unicode')?.state, 'COMPLETE');
      assert.equal(states.get('mix-a:fails')?.state, 'FAILED');
      assert.match(states.get('mix-a:fails')?.reason ?? '', /hunk #2 FAILED/);
      const attempts = await listSessionAttempts(b.records, id);
      assert.equal(attempts.length, 5);
      const crash = attempts.find((a) => a.phase_id === 'crash "odd" id')!;
      assert.equal(crash.return_code, 3);
      const ok = attempts.find((a) => a.phase_id === 'ok')!;
      assert.equal(ok.telemetry_events, 2, 'telemetry rows counted in the backlog');
      const header = readFileSync(ok.stdout_path!, 'utf8').split('\n')[0];
      const want = kind === 'sqlite' ? `DATABASE_URL=sqlite:///${b.file}` : 'DATABASE_URL=postgres';
      assert.ok(header.startsWith(want), `log header ${header} (the executor's database, absolute)`);
      if (kind === 'sqlite') assert.equal(header, `DATABASE_URL=sqlite:///${b.file}`);
    });

    test("a try's one read of the backlog: the phase row, its run's states, telemetry and tokens", async () => {
      await b.seed([
        { runId: 'facts-r', phaseId: 'p1', lastFailureReason: 'patch apply failed' },
        { runId: 'facts-r', phaseId: 'p2', state: 'QUEUED' },
        { runId: 'facts-r', phaseId: 'p3', state: 'COMPLETE' },
      ]);
      const backlog = b.stores.backlog;
      const p1 = { runId: 'facts-r', phaseId: 'p1' };
      const before = await backlog.phaseFacts(p1.runId, p1.phaseId);
      const db = await openSimDb(b.databaseUrl, b.workspace);
      try {
        const call = { category: 'implementation', complexity: 'low', deliverableCount: 1, success: true };
        await insertEstimationEvent(db, p1, { ...call, predictedOutputTokens: 900, actualOutputTokens: 700 });
        await insertEstimationEvent(db, p1, { ...call, predictedOutputTokens: 900, actualOutputTokens: 50 });
        await insertEscalationEvent(db, p1, 2, 4096, 300);
        await insertEstimationEvent(
          db,
          { runId: 'facts-r', phaseId: 'p2' },
          { ...call, predictedOutputTokens: 9, actualOutputTokens: 9 },
        );
      } finally {
        await closeSimDb(db);
      }
      const f = await backlog.phaseFacts(p1.runId, p1.phaseId);
      assert.deepEqual([f.phase?.run_id, f.phase?.phase_id, f.phase?.state], ['facts-r', 'p1', 'FAILED']);
      assert.equal(f.phase?.last_failure_reason, 'patch apply failed');
      assert.deepEqual(f.phase?.updated_at, (await backlog.getPhase(p1.runId, p1.phaseId))?.updated_at);
      assert.deepEqual(f.runCounts, { FAILED: 1, QUEUED: 1, COMPLETE: 1 });
      assert.deepEqual(f.telemetry.byTable, {
        token_estimation_v2_events: 2,
        token_budget_escalation_events: 1,
      });
      assert.equal(f.telemetry.phase, 3);
      assert.equal(f.telemetry.global - before.telemetry.global, 4, 'both tables counted whole');
      assert.deepEqual(f.tokens, await backlog.tokensOf(p1.runId, p1.phaseId));
      assert.equal(
        (f.tokens.phase ?? 0) - (before.tokens.phase ?? 0),
        1050,
        'output tokens of the three calls',
      );
      const missing = await backlog.phaseFacts('facts-r', 'no such phase');
      assert.equal(missing.phase, null);
      assert.deepEqual(missing.runCounts, f.runCounts);
      assert.deepEqual([missing.telemetry.phase, missing.tokens.phase], [0, null]);
    });

    test('verify gives its six criteria, and report writes the HTML report', async () => {
      const v = await verifySession(b.stores.backlog.sql(), `${kind}-mixed`);
      assert.equal(v.verdict, 'PASS', JSON.stringify(v, null, 1));
      assert.equal(v.criteria.length, 6);
      const env2 = {
        DATABASE_URL: b.databaseUrl,
        DRAIN_RECORDS_URL: env.databaseUrl,
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      };
      const verify = await runCli(['verify', `${kind}-mixed`], { env: env2, cwd: b.workspace });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /Verdict: PASS \(6\/6 criteria\)/);
      const html = path.join(env.dir, `${kind}-report.html`);
      const report = await runCli(['report', `${kind}-mixed`, '--html', html], {
        env: env2,
        cwd: b.workspace,
      });
      assert.equal(report.code, 0, report.stdout + report.stderr);
      assert.match(report.stdout, /wrote .*\(5 tries; Verdict: PASS/);
      assert.match(readFileSync(html, 'utf8'), /mix-a/);
    });

    test('two slots drain two runs at once, never two phases of one run', async () => {
      const seeds: PhaseSeed[] = [];
      for (const r of ['s1', 's2'])
        for (const p of ['p0', 'p1'])
          seeds.push({ runId: `slots-${r}`, phaseId: p, sim: { scenario: 'complete', seconds: 1.5 } });
      await b.seed(seeds);
      const id = `${kind}-slots`;
      const r = await run(id, { skipRunPrefixes: ['dry', 'mix'], concurrency: 2, batchSize: 10 });
      assert.equal(r.succeeded, 4);
      const attempts = await listSessionAttempts(b.records, id);
      const overlapSameRun = attempts.some((x) =>
        attempts.some(
          (y) =>
            x !== y &&
            x.run_id === y.run_id &&
            x.started_at < y.finished_at! &&
            y.started_at < x.finished_at!,
        ),
      );
      assert.equal(overlapSameRun, false);
      const overlapAny = attempts.some((x) =>
        attempts.some((y) => x !== y && x.started_at < y.finished_at! && y.started_at < x.finished_at!),
      );
      assert.equal(overlapAny, true, 'the two runs did run side by side');
    });

    test('failure memory: a fingerprint stopped by one session is passed over by the next', async () => {
      await b.seed(
        [0, 1, 2].map((i) => ({
          runId: 'mem',
          phaseId: `m${i}`,
          lastFailureReason: FAIL_REASON,
          sim: { scenario: 'fail', reason: FAIL_REASON },
        })),
      );
      const input = { runId: 'mem', maxFingerprintRepeats: 2, maxAttemptsPerPhase: 1, batchSize: 10 };
      await run(`${kind}-mem-1`, input);
      const stops = await b.records.query('SELECT session_id FROM drain_memory_stops');
      assert.deepEqual(
        stops.rows.map((s) => s.session_id),
        [`${kind}-mem-1`],
      );
      const second = await run(`${kind}-mem-2`, input);
      assert.equal(second.processed, 0);
      assert.ok(
        second.skipped.some((s) => /stopped by session .*-mem-1/.test(s.reason)),
        JSON.stringify(second.skipped),
      );
    });

    test('a worker killed with SIGKILL mid-phase: the next worker finishes the session, the phase runs to COMPLETE', async () => {
      await b.seed([
        { runId: 'crash-run', phaseId: 'slow', sim: { scenario: 'complete', seconds: 6, events: 1 } },
      ]);
      const id = `${kind}-crash`;
      const first = b.spawnWorker({}, ['--task-queue', `${b.taskQueue}-crash`]);
      const handle = await startDrain(
        env.client,
        { runId: 'crash-run', batchSize: 1, workspace: b.workspace, killGraceSeconds: 1 },
        { sessionId: id, taskQueue: `${b.taskQueue}-crash` },
      );
      await heartbeatRecorded(handle);
      first.kill('SIGKILL');
      const second = b.spawnWorker({}, ['--task-queue', `${b.taskQueue}-crash`]);
      const r = (await handle.result()) as SessionResult;
      second.kill('SIGTERM');
      assert.equal(r.succeeded, 1, JSON.stringify(r));
      assert.equal((await b.phases()).get('crash-run:slow')?.state, 'COMPLETE');
      const tries = await listSessionAttempts(b.records, id);
      assert.ok(
        tries.some((t) => t.status === 'interrupted'),
        JSON.stringify(tries.map((t) => t.status)),
      );
    });

    if (kind === 'sqlite') {
      test("a Python writer hammering the file while two sessions drain never sees 'database is locked'", async () => {
        const seeds: PhaseSeed[] = [];
        for (let r = 0; r < 4; r++)
          for (let p = 0; p < 3; p++)
            seeds.push({
              runId: `ham-${r}`,
              phaseId: `p${p}`,
              sim: { scenario: 'complete', seconds: 0.3, events: 2 },
            });
        await b.seed(seeds);
        const writer = spawn('python3', ['-c', PY_WRITER, b.file!], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        writer.stdout.on('data', (c) => (out += c));
        writer.stderr.on('data', (c) => (out += c));
        const input = {
          skipRunPrefixes: ['dry', 'mix', 'slots', 'mem', 'crash'],
          batchSize: 6,
          concurrency: 2,
        };
        const [r1, r2] = await Promise.all([run('ham-1', input), run('ham-2', input)]);
        writer.kill('SIGTERM');
        await eventually(
          () => writer.exitCode !== null || writer.signalCode !== null,
          10_000,
          'the writer to stop',
        );
        assert.equal(r1.succeeded + r2.succeeded, 12, `${JSON.stringify(r1)} ${JSON.stringify(r2)}`);
        const writes = Number(/writes=(\d+)/.exec(out)?.[1] ?? 0);
        assert.ok(writes > 20, `the writer wrote while the sessions drained (${out})`);
        assert.doesNotMatch(out, /locked/i);
        const attempts = [
          ...(await listSessionAttempts(b.records, 'ham-1')),
          ...(await listSessionAttempts(b.records, 'ham-2')),
        ];
        for (const a of attempts) assert.doesNotMatch(a.error_message ?? '', /locked/i);
      });
    }
  });
}

/**
 * Autopack's way of writing: Python's sqlite3 with its defaults (5 s lock wait, journal mode
 * untouched), a transaction per write that touches a row of another run, as fast as it can.
 * Prints writes=N and every error; exits on SIGTERM.
 */
const PY_WRITER = `
import signal, sqlite3, sys, time
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
con = sqlite3.connect(sys.argv[1])
n = 0
while not stop:
    try:
        with con:
            con.execute("UPDATE runs SET tokens_used = tokens_used + 1, updated_at = ? WHERE id = 'mix-a'", (time.strftime('%Y-%m-%d %H:%M:%S.000000', time.gmtime()),))
            con.execute("SELECT count(*) FROM phases").fetchone()
        n += 1
    except Exception as e:
        print("error:", e, flush=True)
    time.sleep(0.005)
print("writes=%d" % n, flush=True)
`;
