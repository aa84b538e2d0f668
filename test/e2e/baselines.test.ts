/**
 * Honest T0 baselines with real sessions: a failing capture is recorded failed and tried
 * again by the next drain up to the bound, and executors are never told to skip theirs
 * without a good capture; a good capture is cached for its commit; two sessions started at
 * once capture once; a hanging baseline command is killed with its whole process group at
 * the timeout. Each test has a workspace (and so a commit) of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { eventually, startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { MAX_FAILED_CAPTURES } from '../../src/domain/baseline-decision.js';
import { formatSummary, type SessionJson } from '../../src/domain/report.js';
import { verifySession } from '../../src/cli/verify-session.js';
import { sessionJsonPath } from '../../activities/paths.js';
import { isProcessAlive } from '../../src/runtime/process-group.js';
import type { BaselineResult } from '../../activities/baseline.js';

/** Prints what the executor was told about the baseline, then exits 0 (the phase stays FAILED). */
const EXECUTOR =
  "sh -c 'echo baseline-env skip=[$AUTOPACK_SKIP_BASELINE] path=[$AUTOPACK_BASELINE_PATH] commit=[$AUTOPACK_BASELINE_COMMIT]' {run_id}";

interface CaptureRecord {
  id: string;
  commit_sha: string;
  session_id: string;
  attempt: number;
  status: string;
  exit_code: number | null;
  duration_seconds: number | null;
  artifact_path: string | null;
  error: string | null;
  finished_at: Date | null;
}

describe('honest T0 baselines', () => {
  let env: TestEnv;

  /** A git workspace with one commit of its own. */
  async function repo(name: string): Promise<{ ws: string; sha: string }> {
    const ws = path.join(env.dir, `ws-${name}`);
    await mkdir(ws, { recursive: true });
    const git = (...a: string[]) =>
      execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd: ws, stdio: 'pipe' });
    git('init', '-q');
    await writeFile(path.join(ws, 'README'), name);
    git('add', 'README');
    git('commit', '-qm', name);
    return { ws, sha: git('rev-parse', 'HEAD').toString().trim() };
  }

  async function start(id: string, input: object) {
    return env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: id,
      args: [{ executor: EXECUTOR, maxAttemptsPerPhase: 1, phaseTimeoutSeconds: 30, ...input }],
    });
  }
  const drain = async (id: string, input: object) => (await start(id, input)).result();

  const captures = async (sha: string): Promise<CaptureRecord[]> =>
    (
      await env.pool.query<CaptureRecord>(
        `SELECT id::text AS id, commit_sha, session_id, attempt, status, exit_code, duration_seconds,
                artifact_path, error, finished_at
         FROM drain_baseline_captures WHERE commit_sha = $1 ORDER BY id`,
        [sha],
      )
    ).rows;

  /** What each executor of the session printed about the baseline, in attempt order. */
  async function toldExecutors(sessionId: string): Promise<string[]> {
    const rows = await listSessionAttempts(env.pool, sessionId);
    return rows.map((a) => {
      const line = readFileSync(a.stdout_path!, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('baseline-env '));
      assert.ok(line, `no baseline-env line in ${a.stdout_path}`);
      return line.replace(/^baseline-env /, '');
    });
  }

  /** The ensureBaseline results in the session's history, in order, with when each started. */
  async function baselineResults(sessionId: string): Promise<Array<BaselineResult & { startedMs: number }>> {
    const history = await env.client.workflow.getHandle(sessionId).fetchHistory();
    const scheduled = new Set<string>();
    const started = new Map<string, number>();
    const out: Array<BaselineResult & { startedMs: number }> = [];
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'ensureBaseline') scheduled.add(String(e.eventId));
      const st = e.activityTaskStartedEventAttributes;
      if (st && scheduled.has(String(st.scheduledEventId))) {
        started.set(
          String(st.scheduledEventId),
          Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6,
        );
      }
      const c = e.activityTaskCompletedEventAttributes;
      if (c && scheduled.has(String(c.scheduledEventId))) {
        const result = defaultPayloadConverter.fromPayload(c.result!.payloads![0]) as BaselineResult;
        out.push({ ...result, startedMs: started.get(String(c.scheduledEventId)) ?? NaN });
      }
    }
    return out;
  }

  const sessionJson = (ws: string, id: string) =>
    JSON.parse(readFileSync(sessionJsonPath(ws, id), 'utf8')) as SessionJson;

  before(async () => {
    env = await startTestEnv();
    await env.startWorker();
  });
  after(() => env?.teardown());

  test(`a failing capture is recorded failed, retried by the next drain up to ${MAX_FAILED_CAPTURES} times, executors told nothing`, async () => {
    const { ws, sha } = await repo('failing');
    await seedPhases(
      env.pool,
      [0, 1, 2, 3, 4].map((i) => ({ runId: 'bl-fail', phaseId: `p${i}`, phaseIndex: i })),
    );
    const input = { workspace: ws, runId: 'bl-fail', baselineCommand: 'sh -c "exit 3"' };
    await drain('baseline-fail-1', input);

    const rows = await captures(sha);
    assert.deepEqual(
      rows.map((r) => [r.attempt, r.status, r.exit_code, r.session_id]),
      [1, 2, 3].map((n) => [n, 'failed', 3, 'baseline-fail-1']),
      'one failed capture per drain until the bound, then none',
    );
    for (const r of rows) {
      assert.match(r.error!, /^baseline command exited 3 after [\d.]+s; output: .*\.failed\.txt$/);
      assert.ok(r.artifact_path!.endsWith(`${sha}.c${r.id}.failed.txt`), r.artifact_path!);
      assert.ok(existsSync(r.artifact_path!), 'the failed capture keeps its output');
      assert.ok(r.finished_at && r.duration_seconds !== null);
    }
    const told = await toldExecutors('baseline-fail-1');
    assert.equal(told.length, 5);
    for (const t of told) assert.equal(t, `skip=[] path=[] commit=[${sha}]`);
    assert.equal(
      (await env.pool.query('SELECT 1 FROM drain_baselines WHERE commit_sha = $1', [sha])).rowCount,
      0,
      'a failed capture is never cached as a baseline',
    );

    const results = await baselineResults('baseline-fail-1');
    assert.deepEqual(
      results.map((r) => [r.status, r.artifactPath, r.captured]),
      [
        ['failed', null, false],
        ['failed', null, false],
        ['failed', null, false],
        ['exhausted', null, false],
        ['exhausted', null, false],
      ],
    );
    assert.match(results[0].error!, /baseline command exited 3/);
    assert.match(
      results[3].error!,
      new RegExp(`^3 baseline captures of ${sha} failed \\(last: baseline command exited 3`),
    );

    // The next session on the same commit: the bound holds, nothing is captured again.
    await seedPhases(env.pool, [{ runId: 'bl-fail-2', phaseId: 'q', phaseIndex: 0 }]);
    await drain('baseline-fail-2', { ...input, runId: 'bl-fail-2' });
    assert.equal((await captures(sha)).length, 3);
    assert.deepEqual(await toldExecutors('baseline-fail-2'), [`skip=[] path=[] commit=[${sha}]`]);
    assert.deepEqual(
      (await baselineResults('baseline-fail-2')).map((r) => r.status),
      ['exhausted'],
    );

    // Reported: the session summary and drain verify's criterion 5.
    const json = sessionJson(ws, 'baseline-fail-1');
    assert.deepEqual(
      json.baseline_captures!.map((c) => [c.commit, c.attempt, c.status, c.exit_code]),
      [1, 2, 3].map((n) => [sha, n, 'failed', 3]),
    );
    const summary = formatSummary(json).split('\n');
    const at = summary.indexOf('Baseline captures:');
    assert.ok(at > 0, summary.join('\n'));
    for (const n of [1, 2, 3]) {
      assert.match(
        summary[at + n],
        new RegExp(`^  ${sha.slice(0, 12)} #${n}: failed, \\d+\\.\\d\\ds, exit 3$`),
      );
    }
    const c5 = (await verifySession(env.pool, 'baseline-fail-1')).criteria[4];
    assert.equal(c5.status, 'PASS', c5.problems.join('\n'));
    const [ev] = c5.evidence.baseline_captures as Array<Record<string, unknown>>;
    assert.equal(ev.commit, sha);
    assert.deepEqual(ev.by_status, { failed: 3 });
    assert.equal(ev.told_to_skip, 0);
    assert.match(c5.summary, new RegExp(`baseline captures: ${sha.slice(0, 12)}×3 \\(3 failed\\)`));
  });

  test('a good capture is cached for its commit: captured once, executors told to skip with its artifact', async () => {
    const { ws, sha } = await repo('good');
    await seedPhases(env.pool, [
      { runId: 'bl-good', phaseId: 'a', phaseIndex: 0 },
      { runId: 'bl-good', phaseId: 'b', phaseIndex: 1 },
      { runId: 'bl-good-2', phaseId: 'c', phaseIndex: 0 },
    ]);
    const input = {
      workspace: ws,
      baselineCommand: "sh -c 'echo captured >> capture-count.txt; echo T0 baseline of {commit}'",
    };
    await drain('baseline-good-1', { ...input, runId: 'bl-good' });
    await drain('baseline-good-2', { ...input, runId: 'bl-good-2' });

    assert.equal(readFileSync(path.join(ws, 'capture-count.txt'), 'utf8'), 'captured\n');
    const rows = await captures(sha);
    assert.deepEqual(
      rows.map((r) => [r.attempt, r.status, r.exit_code, r.session_id, r.error]),
      [[1, 'ok', 0, 'baseline-good-1', null]],
    );
    const artifact = rows[0].artifact_path!;
    assert.equal(artifact, path.join(ws, '.autonomous_runs', 'baselines', `${sha}.c${rows[0].id}.txt`));
    assert.equal(readFileSync(artifact, 'utf8'), `T0 baseline of ${sha}\n`);
    assert.deepEqual(
      readdirSync(path.dirname(artifact)),
      [path.basename(artifact)],
      'no temporary file left',
    );
    const cached = (await env.pool.query('SELECT * FROM drain_baselines WHERE commit_sha = $1', [sha])).rows;
    assert.deepEqual(
      cached.map((b) => [b.artifact_path, b.exit_code, String(b.capture_id)]),
      [[artifact, 0, rows[0].id]],
    );
    const told = [...(await toldExecutors('baseline-good-1')), ...(await toldExecutors('baseline-good-2'))];
    assert.deepEqual(
      told,
      [1, 2, 3].map(() => `skip=[1] path=[${artifact}] commit=[${sha}]`),
    );
    // Ensured once per session: the second phase of session 1 used the session's good capture
    // (the drain checked the workspace was still on its commit); its row says so.
    assert.deepEqual(
      (await baselineResults('baseline-good-1')).map((r) => [r.status, r.captured, r.captureId]),
      [['ok', true, rows[0].id]],
    );
    assert.deepEqual(
      (await baselineResults('baseline-good-2')).map((r) => [r.status, r.captured, r.captureId]),
      [['ok', false, rows[0].id]],
    );
    const attemptBaselines = await env.pool.query(
      `SELECT baseline_status, baseline_capture_id::text AS id, baseline_skip FROM drain_attempts
        WHERE session_id IN ('baseline-good-1', 'baseline-good-2') ORDER BY id`,
    );
    assert.deepEqual(
      attemptBaselines.rows.map((r) => [r.baseline_status, r.id, r.baseline_skip]),
      [1, 2, 3].map(() => ['ok', rows[0].id, true]),
    );

    const c5 = (await verifySession(env.pool, 'baseline-good-2')).criteria[4];
    assert.equal(c5.status, 'PASS', c5.problems.join('\n'));
    const [ev] = c5.evidence.baseline_captures as Array<Record<string, unknown>>;
    assert.equal(ev.good_capture, rows[0].id);
    assert.equal(ev.captured_by_this_session, 0);
    const lines = formatSummary(sessionJson(ws, 'baseline-good-2')).split('\n');
    const at = lines.indexOf('Baseline captures:');
    assert.match(
      lines[at + 1],
      new RegExp(`^  ${sha.slice(0, 12)} #1: ok, \\d+\\.\\d\\ds \\(session baseline-good-1\\)$`),
    );
  });

  test('two sessions started at once on one commit capture once; the other waits and reuses it', async () => {
    const { ws, sha } = await repo('concurrent');
    await seedPhases(env.pool, [
      { runId: 'bl-con-a', phaseId: 'a', phaseIndex: 0 },
      { runId: 'bl-con-b', phaseId: 'b', phaseIndex: 0 },
    ]);
    const input = {
      workspace: ws,
      baselineCommand: "sh -c 'echo captured >> capture-count.txt; sleep 2; echo T0 baseline'",
    };
    const [a, b] = await Promise.all([
      start('baseline-concurrent-a', { ...input, runId: 'bl-con-a' }),
      start('baseline-concurrent-b', { ...input, runId: 'bl-con-b' }),
    ]);
    await Promise.all([a.result(), b.result()]);

    const rows = await captures(sha);
    assert.deepEqual(
      rows.map((r) => [r.attempt, r.status]),
      [[1, 'ok']],
      'one capture for two sessions',
    );
    assert.equal(readFileSync(path.join(ws, 'capture-count.txt'), 'utf8'), 'captured\n');
    const told = [
      ...(await toldExecutors('baseline-concurrent-a')),
      ...(await toldExecutors('baseline-concurrent-b')),
    ];
    assert.deepEqual(
      told,
      [1, 2].map(() => `skip=[1] path=[${rows[0].artifact_path}] commit=[${sha}]`),
    );
    const results = [
      ...(await baselineResults('baseline-concurrent-a')),
      ...(await baselineResults('baseline-concurrent-b')),
    ];
    assert.deepEqual(results.map((r) => r.captured).sort(), [false, true], 'one captured, one reused');
    const finishedMs = rows[0].finished_at!.getTime();
    for (const r of results) {
      assert.ok(r.startedMs < finishedMs, 'both sessions asked for the baseline while it was being captured');
    }
  });

  test('a hanging baseline command is killed with its process group (grandchild too) at the timeout', async () => {
    const { ws, sha } = await repo('hanging');
    await seedPhases(env.pool, [{ runId: 'bl-hang', phaseId: 'a', phaseIndex: 0 }]);
    const pidFile = path.join(ws, 'grandchild.pid');
    await drain('baseline-hang', {
      workspace: ws,
      runId: 'bl-hang',
      phaseTimeoutSeconds: 3,
      baselineCommand: `sh -c 'sleep 300 & echo $! > ${pidFile}; wait'`,
    });
    const rows = await captures(sha);
    assert.deepEqual(
      rows.map((r) => [r.status, r.exit_code]),
      [['timeout', null]],
    );
    assert.match(
      rows[0].error!,
      /^baseline command timed out after 3s; its process group was killed; output: /,
    );
    assert.ok(
      rows[0].duration_seconds! >= 3 && rows[0].duration_seconds! < 15,
      String(rows[0].duration_seconds),
    );
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(grandchild > 0);
    await eventually(() => !isProcessAlive(grandchild), 5_000, 'the grandchild is gone');
    assert.deepEqual(await toldExecutors('baseline-hang'), [`skip=[] path=[] commit=[${sha}]`]);
    assert.deepEqual(
      (await baselineResults('baseline-hang')).map((r) => [r.status, r.artifactPath]),
      [['timeout', null]],
    );
  });
  test('a cached capture is used only on its commit: when the workspace moves, the next phase is not told to skip and the one after gets a capture of the new commit', async () => {
    const { ws, sha } = await repo('moving');
    await seedPhases(
      env.pool,
      ['a', 'b', 'c'].map((p, i) => ({ runId: 'bl-moving', phaseId: p, phaseIndex: i })),
    );
    // The executor of phase a commits to the workspace after printing what it was told.
    const executor =
      "sh -c 'echo baseline-env skip=[$AUTOPACK_SKIP_BASELINE] path=[$AUTOPACK_BASELINE_PATH] commit=[$AUTOPACK_BASELINE_COMMIT]; " +
      "if [ $0 = a ]; then git -c user.email=t@t -c user.name=t commit -q --allow-empty -m moved; fi' {phase_id}";
    await drain('baseline-moving', {
      workspace: ws,
      runId: 'bl-moving',
      executor,
      baselineCommand: "sh -c 'echo T0 of {commit}'",
    });
    const moved = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ws }).toString().trim();
    assert.notEqual(moved, sha);
    const [first] = await captures(sha);
    const [second] = await captures(moved);
    assert.ok(first && second, 'one capture per commit');
    const told = await toldExecutors('baseline-moving');
    assert.deepEqual(told, [
      `skip=[1] path=[${first.artifact_path}] commit=[${sha}]`,
      `skip=[] path=[] commit=[${moved}]`, // the cached capture is of the old commit: not used
      `skip=[1] path=[${second.artifact_path}] commit=[${moved}]`,
    ]);
    const statuses = await env.pool.query(
      `SELECT baseline_status, baseline_commit FROM drain_attempts WHERE session_id = 'baseline-moving' ORDER BY id`,
    );
    assert.deepEqual(
      statuses.rows.map((r) => [r.baseline_status, r.baseline_commit]),
      [
        ['ok', sha],
        ['pending', moved],
        ['ok', moved],
      ],
    );
  });
});
