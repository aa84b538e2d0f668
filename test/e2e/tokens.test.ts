/**
 * Tokens (issue 18): the spend of every attempt, read from Autopack's own counters
 * (phases.tokens_used, runs.tokens_used) on a PostgreSQL and a SQLite backlog made with
 * Autopack's schema, equals what the reference executor added; a backlog without the column
 * reports n/a, never 0.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { BACKLOG_KINDS, backlogUnderTest, type BacklogUnderTest } from '../helpers/backlogs.js';
import { listSessionAttempts } from '../../src/db/attempts.js';
import { tokensOf } from '../../src/db/phases.js';
import { analyzeTotals, tokensByRun, topFingerprints } from '../../src/db/history.js';
import { phasesStoppedByMemory } from '../../src/db/memory.js';
import { buildAnalysis, formatAnalysis } from '../../src/domain/analyze.js';
import { sessionJsonPath } from '../../activities/paths.js';
import { eventLines } from '../../src/domain/progress-log.js';
import { progressQuery, type SessionResult } from '../../src/domain/messages.js';
import type { SessionJson } from '../../src/domain/report-json.js';

for (const kind of BACKLOG_KINDS) {
  describe(`tokens on a ${kind} backlog made with Autopack's schema`, () => {
    let env: TestEnv;
    let b: BacklogUnderTest;
    const handles = new Map<string, WorkflowHandle>();
    const run = async (id: string, input: Record<string, unknown>) => {
      const h = await b.start({ killGraceSeconds: 1, ...input }, id);
      handles.set(id, h);
      return (await h.result()) as SessionResult;
    };

    before(async () => {
      env = await startTestEnv();
      b = await backlogUnderTest(env, kind);
      await b.startWorker();
    });
    after(async () => {
      await b?.close();
      await env?.teardown();
    });

    test('each attempt records the tokens the executor added to its phase and run', async () => {
      await b.seed([
        { runId: 'tok', phaseId: 'ok', sim: { scenario: 'complete', events: 3, tokens: 1000, seconds: 0.3 } },
        {
          runId: 'tok',
          phaseId: 'esc',
          sim: { scenario: 'escalate', events: 1, escalations: 2, tokens: 700, seconds: 0.2 },
        },
        { runId: 'tok', phaseId: 'none', sim: { scenario: 'fail', reason: 'ImportError: nope' } },
      ]);
      const before = {
        ok: await b.stores.backlog.tokensOf('tok', 'ok'),
        esc: await b.stores.backlog.tokensOf('tok', 'esc'),
      };
      assert.equal(typeof before.ok.phase, 'number', 'the column exists in Autopack schema');
      const id = `${kind}-tok-1`;
      const r = await run(id, { runId: 'tok', batchSize: 10, maxAttemptsPerPhase: 1 });
      assert.equal(r.processed, 3);
      const rows = await listSessionAttempts(b.records, id);
      const by = (p: string) => rows.find((x) => x.phase_id === p)!;
      // What the reference executor added: 3 calls × 1000; 1 call + 2 truncated calls × 700; nothing.
      const afterOk = await b.stores.backlog.tokensOf('tok', 'ok');
      const afterEsc = await b.stores.backlog.tokensOf('tok', 'esc');
      assert.equal(afterOk.phase! - before.ok.phase!, 3000);
      assert.equal(afterEsc.phase! - before.esc.phase!, 2100);
      assert.equal(Number(by('ok').tokens_spent), 3000);
      assert.equal(Number(by('ok').phase_tokens_before), before.ok.phase);
      assert.equal(Number(by('ok').phase_tokens_after), afterOk.phase);
      assert.equal(Number(by('esc').tokens_spent), 2100);
      assert.equal(Number(by('none').tokens_spent), 0);
      assert.equal(by('ok').outcome?.tokens?.phase, 3000);
      // The run's counter moved by the sum (the phases ran one after the other).
      const runSpent = rows.reduce((s, x) => s + Number(x.run_tokens_spent), 0);
      assert.equal(runSpent, 5100);
      // The progress line, the session JSON and its summary figures.
      const progress = await handles.get(id)!.query(progressQuery);
      const lines = progress.log.events.flatMap(eventLines);
      assert.ok(lines.includes('    [TOKENS] +3,000'), lines.join('\n'));
      assert.ok(lines.includes('    [TOKENS] +0'), lines.join('\n'));
      const json = JSON.parse(readFileSync(sessionJsonPath(b.workspace, id), 'utf8')) as SessionJson;
      assert.equal(json.tokens?.spent, 5100);
      assert.equal(json.tokens?.per_success, 5100, 'all the tokens, per success');
      assert.equal(json.tokens?.wasted, 0);
      assert.equal(json.results.find((x) => x.phase_id === 'esc')?.tokens_spent, 2100);
    });

    test('a second attempt counts from where the counter was (no reset on --force)', async () => {
      await b.seed([
        { runId: 'tok2', phaseId: 'p', sim: { scenario: 'fail', events: 2, tokens: 250, reason: 'boom' } },
      ]);
      const id = `${kind}-tok-2`;
      await run(id, { runId: 'tok2', batchSize: 2, maxAttemptsPerPhase: 2, maxFingerprintRepeats: 5 });
      const rows = (await listSessionAttempts(b.records, id)).filter((x) => x.status === 'finished');
      assert.equal(rows.length, 2);
      assert.deepEqual(
        rows.map((x) => Number(x.tokens_spent)),
        [500, 500],
      );
      assert.equal(Number(rows[1].phase_tokens_before), Number(rows[0].phase_tokens_after));
      assert.ok(Number(rows[1].phase_tokens_before) >= 500);
    });

    if (kind === 'postgres') {
      test('--max-tokens: with two slots, no phase starts once the session has spent the budget', async () => {
        const seeds = [];
        for (const r of ['a', 'b', 'c', 'd'])
          for (const p of ['p0', 'p1'])
            seeds.push({
              runId: `bud-${r}`,
              phaseId: p,
              sim: { scenario: 'complete' as const, events: 3, tokens: 1000, seconds: 1.5 },
            });
        await b.seed(seeds);
        const id = `${kind}-budget`;
        const r = await run(id, {
          skipRunPrefixes: ['tok'],
          concurrency: 2,
          batchSize: 20,
          maxTokens: 5000,
        });
        assert.match(r.stopReason ?? '', /token budget reached: [\d,]+ tokens spent \(--max-tokens 5,000\)/);
        const rows = (await listSessionAttempts(b.records, id)).filter((x) => x.status === 'finished');
        assert.ok(rows.length >= 2 && rows.length < 8, `stopped early: ${rows.length} attempts`);
        const spent = rows.reduce((n, x) => n + Number(x.tokens_spent), 0);
        assert.ok(spent >= 5000, `spent ${spent}`);
        // No attempt started after the attempts finished before it had spent the budget.
        for (const x of rows) {
          const before = rows
            .filter((y) => y.finished_at! <= x.started_at)
            .reduce((n, y) => n + Number(y.tokens_spent), 0);
          assert.ok(before < 5000, `${x.run_id}/${x.phase_id} started with ${before} spent`);
        }
        const overlap = rows.some((x) =>
          rows.some((y) => x !== y && x.started_at < y.finished_at! && y.started_at < x.finished_at!),
        );
        assert.equal(overlap, true, 'both slots drained');
      });

      test('--max-tokens-per-phase stops a running executor within a few seconds of the cap', async () => {
        // 2,000 tokens a second for 30 s; the cap is passed after ~2.5 s.
        await b.seed([
          {
            runId: 'cap',
            phaseId: 'spender',
            sim: { scenario: 'complete', events: 60, tokens: 1000, seconds: 30 },
          },
        ]);
        const id = `${kind}-cap`;
        const r = await run(id, { runId: 'cap', batchSize: 1, maxTokensPerPhase: 5000 });
        assert.equal(r.succeeded, 0);
        const [row] = (await listSessionAttempts(b.records, id)).filter((x) => x.status === 'finished');
        assert.equal(row.outcome?.tokenCapped, true, JSON.stringify(row.outcome));
        assert.equal(row.timed_out, false);
        const spent = Number(row.tokens_spent);
        assert.ok(
          spent > 5000 && spent <= 5000 + 2000 * 4,
          `stopped within a few seconds of the cap: ${spent}`,
        );
        assert.ok(Number(row.duration_seconds) < 10, `duration ${row.duration_seconds}`);
        assert.match(row.fingerprint ?? '', /^TOKEN_CAP\|token-cap/);
        assert.match(row.error_message ?? '', /token cap/);
        const lines = (await handles.get(id)!.query(progressQuery)).log.events.flatMap(eventLines);
        assert.ok(
          lines.some((l) => l.startsWith('  [TOKEN CAP] Failed')),
          lines.join('\n'),
        );
      });
    }

    test('--max-tokens counts what another slot’s running phase has spent: the free slot stops picking', async () => {
      // 1,000 tokens a second for 12 s: the budget is spent while it runs, not when it ends.
      await b.seed([
        {
          runId: 'live-big',
          phaseId: 'big',
          sim: { scenario: 'complete', events: 12, tokens: 1000, seconds: 12 },
        },
        ...Array.from({ length: 30 }, (_, i) => ({
          runId: 'live-q',
          phaseId: `q${String(i).padStart(2, '0')}`,
          phaseIndex: i,
          sim: { scenario: 'complete' as const, events: 1, tokens: 10, seconds: 0.2 },
        })),
      ]);
      const id = `${kind}-budget-live`;
      const h = await b.start(
        {
          killGraceSeconds: 1,
          skipRunPrefixes: ['tok', 'bud', 'cap'],
          concurrency: 2,
          batchSize: 40,
          maxTokens: 5000,
        },
        id,
      );
      handles.set(id, h);
      let stopReason: string | null = null;
      while (stopReason === null) {
        const p = await h.query(progressQuery);
        stopReason = p.stopReason;
        if (stopReason === null && p.status === 'completed') break;
        if (stopReason === null) await delay(150);
      }
      const big = (await listSessionAttempts(b.records, id)).find((x) => x.phase_id === 'big');
      assert.match(stopReason ?? '', /token budget reached/);
      assert.equal(big?.status, 'running', 'the session stopped picking while the spending phase still ran');
      const r = (await h.result()) as SessionResult;
      assert.match(r.stopReason ?? '', /token budget reached: [\d,]+ tokens spent \(--max-tokens 5,000\)/);
      const rows = await listSessionAttempts(b.records, id);
      const quick = rows.filter((x) => x.run_id === 'live-q');
      assert.ok(quick.length < 30, `the free slot stopped: ${quick.length} quick phases`);
      assert.equal(
        rows.find((x) => x.phase_id === 'big')?.success,
        true,
        'a running phase is not stopped by the budget',
      );
    });

    test('drain analyze: tokens per fingerprint and per run, tokens with no telemetry, tokens not spent again', async () => {
      const reason = 'deliverable missing: docs/TOKENS.md was not produced';
      await b.seed(
        [0, 1].map((i) => ({
          runId: 'ana',
          phaseId: `f${i}`,
          lastFailureReason: reason,
          sim: { scenario: 'fail', reason, events: 2, tokens: 400 },
        })),
      );
      const input = { runId: 'ana', batchSize: 5, maxAttemptsPerPhase: 1, maxFingerprintRepeats: 2 };
      await run(`${kind}-ana-1`, input);
      const scope = { sessionId: `${kind}-ana-1`, sinceMs: null };
      const db = b.stores.backlog.sql();
      const stopped = await phasesStoppedByMemory(db, { commit: null, sessionId: '', runId: null });
      const a = buildAnalysis({
        scope,
        since: null,
        commit: null,
        totals: await analyzeTotals(b.records, scope),
        fingerprints: await topFingerprints(b.records, scope, 10),
        stops: [],
        openRuns: [],
        runTokens: await tokensByRun(b.records, scope, 10),
        stoppedPhases: stopped,
      });
      assert.equal(a.tokens?.spent, 1600);
      assert.equal(a.tokens?.noTelemetry, 0, 'both wrote telemetry');
      assert.equal(a.topFingerprints[0]?.tokens, 1600);
      assert.deepEqual(
        a.tokens?.byRun.map((r) => [r.runId, r.tokens, r.tries]),
        [['ana', 1600, 2]],
      );
      const mine = stopped.filter((s) => s.runId === 'ana');
      assert.equal(mine.length, 2, JSON.stringify(stopped));
      assert.ok(mine.every((s) => s.lastTokens === 800));
      assert.match(
        formatAnalysis(a),
        /Tokens not spent again \(failure memory passes over \d+ phases?; what their last failing attempts spent\): [\d,]+/,
      );
    });

    test('a backlog without tokens_used reports n/a (null), never 0', async () => {
      if (kind === 'sqlite') {
        const { default: Database } = await import('better-sqlite3');
        const { SqliteBacklog } = await import('../../src/db/backlog-sqlite.js');
        const file = `${env.dir}/old-shape.db`;
        const db = new Database(file);
        db.exec(
          `CREATE TABLE runs (id TEXT PRIMARY KEY); CREATE TABLE phases (run_id TEXT, phase_id TEXT, state TEXT);
           INSERT INTO runs VALUES ('r'); INSERT INTO phases VALUES ('r', 'p', 'FAILED');`,
        );
        db.close();
        const old = new SqliteBacklog({ kind: 'sqlite', path: file } as never, b.records);
        assert.deepEqual(await old.tokensOf('r', 'p'), { phase: null, run: null });
        await old.close();
      } else {
        const client = await env.pool.connect();
        try {
          await client.query(`CREATE SCHEMA IF NOT EXISTS old_shape;
            CREATE TABLE old_shape.runs (id text PRIMARY KEY);
            CREATE TABLE old_shape.phases (run_id text, phase_id text, state text);
            INSERT INTO old_shape.runs VALUES ('r'); INSERT INTO old_shape.phases VALUES ('r', 'p', 'FAILED');
            SET search_path TO old_shape`);
          assert.deepEqual(await tokensOf(client, 'r', 'p'), { phase: null, run: null });
        } finally {
          await client.query('RESET search_path');
          client.release();
        }
      }
    });
  });
}
