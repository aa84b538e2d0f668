/**
 * End-of-session notifications (issue 18, "The morning after") on a real Temporal dev server,
 * a real Postgres and the reference executor, to a local HTTP server standing in for the
 * webhook: a notification reaches it after a session ends and carries no secret (neither the
 * webhook URL, which a failing phase writes into its failure reason, nor the database
 * password); it still arrives when the server was down for the first tries (it is started
 * only after the session ended); a session whose workflow is terminated is notified as
 * failed; `drain notify test` posts a sample and prints each webhook's HTTP status, the URL
 * redacted. The deliveries are recorded in drain_notifications.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually, startTestEnv, type TestEnv } from '../helpers/env.js';
import { runCli } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { getFreePort } from '../../src/runtime/ports.js';
import { notificationsOfSession } from '../../src/db/notifications.js';
import type { SessionResult } from '../../src/domain/messages.js';
import type { SessionNotification } from '../../src/domain/notification.js';

interface Hook {
  port: number;
  /** Bodies received, in order. */
  bodies: string[];
  paths: string[];
  close(): Promise<void>;
}

/** A webhook on 127.0.0.1: answers `status(path)` (default 200) after reading the body. */
async function startHook(port = 0, status: (path: string) => number = () => 200): Promise<Hook> {
  const bodies: string[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      paths.push(req.url ?? '');
      res.writeHead(status(req.url ?? ''), { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    bodies,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const SECRET = 'hook-secret-5f1c9a7e2b';
const hookUrl = (port: number, tag: string) => `http://127.0.0.1:${port}/services/T0/${tag}/${SECRET}`;

describe('end-of-session notifications', () => {
  let env: TestEnv;
  let dbPassword: string;
  const hooks: Hook[] = [];

  const drain = async (sessionId: string, runId: string) => {
    const h = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: sessionId,
      args: [{ runId, batchSize: 10, maxAttemptsPerPhase: 1 }],
    });
    return (await h.result()) as SessionResult;
  };

  /** No secret in a received body or a stored row. */
  const assertNoSecret = (text: string, url: string) => {
    for (const s of [url, SECRET, dbPassword])
      assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}…) in ${text}`);
  };

  before(async () => {
    env = await startTestEnv();
    dbPassword = decodeURIComponent(new URL(env.databaseUrl).password);
    assert.ok(dbPassword.length >= 4, 'the test database has a password');
  });
  after(async () => {
    for (const h of hooks) await h.close().catch(() => {});
    await env?.teardown();
  });

  test('a notification reaches the webhook after a session ends, and carries no secret', async () => {
    const hook = await startHook();
    hooks.push(hook);
    const url = hookUrl(hook.port, 'B1');
    const worker = await env.startWorker({ notify: { urls: [url], firstBackoffMs: 200 } });
    try {
      const leak = `could not post to ${url} (db password ${dbPassword})`;
      await seedPhases(env.pool, [
        { runId: 'notify-run-1', phaseId: 'ok', sim: { scenario: 'complete', events: 1 } },
        {
          runId: 'notify-run-1',
          phaseId: 'bad',
          lastFailureReason: leak,
          sim: { scenario: 'fail', reason: leak, exitCode: 1 },
        },
      ]);
      const r = await drain('notify-1', 'notify-run-1');
      assert.equal(r.processed, 2);
      await eventually(() => hook.bodies.length > 0, 20_000, 'the notification');
      const raw = hook.bodies[0];
      assertNoSecret(raw, url);
      assert.equal(hook.paths[0], `/services/T0/B1/${SECRET}`);
      const n = JSON.parse(raw) as SessionNotification;
      assert.equal(n.session_id, 'notify-1');
      assert.equal(n.end, 'completed');
      assert.equal(n.stop_reason, r.stopReason);
      assert.ok(n.verdict === 'PASS' || n.verdict === 'FAIL', `verdict ${n.verdict}`);
      assert.deepEqual(n.totals, { processed: 2, succeeded: 1, failed: 1, timeouts: 0, cancelled: 0 });
      assert.equal(n.top_fingerprints.length, 1, JSON.stringify(n.top_fingerprints));
      assert.equal(n.session_json, r.sessionJson);
      assert.match(n.text, /^:\w+: Drain session notify-1 completed: verify (PASS|FAIL)/);
      assert.match(n.text, /2 processed: 1 succeeded, 1 failed, 0 timed out/);
      // The hook has the body before the worker has its answer and records the delivery.
      const rows = await eventually(
        async () => {
          const r = await notificationsOfSession(env.pool, 'notify-1');
          return r[0]?.delivered_at ? r : null;
        },
        10_000,
        'the delivery recorded',
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0].last_http_status, 200);
      assert.equal(rows[0].attempts, 1);
      assert.equal(rows[0].target_display, `http://127.0.0.1:${hook.port}/***`);
      assertNoSecret(JSON.stringify(rows[0]), url);
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal(hook.bodies.length, 1, 'delivered once');
    } finally {
      await worker.shutdown();
    }
  });

  test('a webhook down when the session ended gets the notification once it is up', async () => {
    const port = await getFreePort();
    const url = hookUrl(port, 'B2');
    const worker = await env.startWorker({ notify: { urls: [url], firstBackoffMs: 300 } });
    try {
      await seedPhases(env.pool, [
        { runId: 'notify-run-2', phaseId: 'ok', sim: { scenario: 'complete', events: 1 } },
      ]);
      await drain('notify-2', 'notify-run-2');
      // The first tries find nobody listening; each is recorded.
      const failing = await eventually(
        async () => {
          const [row] = await notificationsOfSession(env.pool, 'notify-2');
          return row && row.attempts >= 2 ? row : null;
        },
        20_000,
        'two failed delivery attempts',
      );
      assert.ok(failing);
      assert.equal(failing.delivered_at, null);
      assert.equal(failing.last_http_status, null);
      assert.ok(failing.last_error, 'the failure is recorded');
      assertNoSecret(failing.last_error ?? '', url);
      const hook = await startHook(port);
      hooks.push(hook);
      // Backoff 300 ms doubling: the next try comes within a few seconds.
      await eventually(() => hook.bodies.length > 0, 15_000, 'the notification after the webhook came up');
      const n = JSON.parse(hook.bodies[0]) as SessionNotification;
      assert.equal(n.session_id, 'notify-2');
      assertNoSecret(hook.bodies[0], url);
      const row = await eventually(
        async () => {
          const [r] = await notificationsOfSession(env.pool, 'notify-2');
          return r?.delivered_at ? r : null;
        },
        10_000,
        'the delivery recorded',
      );
      assert.equal(row.last_http_status, 200);
      assert.ok(row.attempts >= 3, `attempts ${row.attempts}`);
    } finally {
      await worker.shutdown();
    }
  });

  test('a session whose workflow is terminated is notified as failed', async () => {
    const hook = await startHook();
    hooks.push(hook);
    const url = hookUrl(hook.port, 'B3');
    const worker = await env.startWorker({ notify: { urls: [url], firstBackoffMs: 200, failedScanMs: 300 } });
    try {
      await seedPhases(env.pool, [
        { runId: 'notify-run-3', phaseId: 'hang', sim: { scenario: 'hang', seconds: 600 } },
      ]);
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: 'notify-3',
        args: [{ runId: 'notify-run-3', batchSize: 1 }],
      });
      await eventually(
        async () =>
          (await env.pool.query(`SELECT 1 FROM drain_attempts WHERE session_id = 'notify-3'`)).rowCount,
        30_000,
        'the attempt',
      );
      await h.terminate('notify test: a failed session');
      await eventually(() => hook.bodies.length > 0, 20_000, 'the notification of the failed session');
      const n = JSON.parse(hook.bodies[0]) as SessionNotification;
      assert.equal(n.session_id, 'notify-3');
      assert.equal(n.end, 'failed');
      assert.match(n.text, /Drain session notify-3 failed/);
      assertNoSecret(hook.bodies[0], url);
    } finally {
      await worker.shutdown();
    }
  });

  test('a cancelled session is notified as cancelled', async () => {
    const hook = await startHook();
    hooks.push(hook);
    const url = hookUrl(hook.port, 'B8');
    const worker = await env.startWorker({ notify: { urls: [url], firstBackoffMs: 200 } });
    try {
      await seedPhases(env.pool, [
        { runId: 'notify-run-8', phaseId: 'hang', sim: { scenario: 'hang', seconds: 600 } },
      ]);
      const h = await env.client.workflow.start('batchDrain', {
        taskQueue: env.taskQueue,
        workflowId: 'notify-8',
        args: [{ runId: 'notify-run-8', batchSize: 1, killGraceSeconds: 1 }],
      });
      await eventually(
        async () =>
          (await env.pool.query(`SELECT 1 FROM drain_attempts WHERE session_id = 'notify-8'`)).rowCount,
        30_000,
        'the attempt',
      );
      await h.cancel();
      await h.result().catch(() => {});
      const body = await eventually(
        () => hook.bodies.find((b) => (JSON.parse(b) as SessionNotification).session_id === 'notify-8'),
        20_000,
        'the notification of the cancelled session',
      );
      assert.ok(body);
      const n = JSON.parse(body) as SessionNotification;
      assert.equal(n.end, 'cancelled');
      assert.equal(n.stop_reason, 'cancelled');
      assert.equal(n.totals?.cancelled, 1);
      assert.match(n.text, /Drain session notify-8 cancelled/);
    } finally {
      await worker.shutdown();
    }
  });

  test('drain worker reads its webhooks from DRAIN_NOTIFY_URL and prints none of them', async () => {
    const hook = await startHook();
    hooks.push(hook);
    const url = hookUrl(hook.port, 'B6');
    const down = hookUrl(await getFreePort(), 'B7');
    const child = env.spawnWorker({ DRAIN_NOTIFY_URL: `${url},${down}`, DRAIN_NOTIFY_BACKOFF_MS: '300' });
    const output = () => (child as unknown as { output: string }).output;
    try {
      await seedPhases(env.pool, [
        { runId: 'notify-run-6', phaseId: 'ok', sim: { scenario: 'complete', events: 1 } },
      ]);
      await drain('notify-6', 'notify-run-6');
      // (Its webhooks also get the end of notify-3 above, terminated before this worker existed.)
      const bodyOf = (id: string) =>
        hook.bodies.find((b) => (JSON.parse(b) as SessionNotification).session_id === id);
      await eventually(() => bodyOf('notify-6'), 20_000, 'the notification from drain worker');
      // The webhook that is down is tried again (and says so in the worker's output, redacted).
      await eventually(() => /attempt 2 failed/.test(output()), 20_000, 'a second failed attempt logged');
      const rows = await eventually(
        async () => {
          const r = await notificationsOfSession(env.pool, 'notify-6');
          return r.some((x) => x.delivered_at) ? r : null;
        },
        10_000,
        'the delivery recorded',
      );
      assert.equal(rows.length, 2, 'one row per webhook');
      assert.equal(rows.filter((r) => r.delivered_at).length, 1);
      assertNoSecret(output() + hook.bodies.join('\n') + JSON.stringify(rows), url);
      assertNoSecret(output(), down);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    }
  });

  test('drain notify test posts a sample and prints each webhook status, the URL redacted', async () => {
    const hook = await startHook(0, (p) => (p.includes('/B5/') ? 500 : 200));
    hooks.push(hook);
    const ok = hookUrl(hook.port, 'B4');
    const r = await runCli(['notify', 'test'], { env: { DRAIN_NOTIFY_URL: ok } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), `http://127.0.0.1:${hook.port}/***: HTTP 200`);
    const n = JSON.parse(hook.bodies.at(-1) as string) as SessionNotification;
    assert.equal(n.session_id, 'notify-test');
    assert.match(n.text, /^\[test of drain notify\] /);

    const bad = hookUrl(hook.port, 'B5');
    const two = await runCli(['notify', 'test'], { env: { DRAIN_NOTIFY_URL: `${ok}, ${bad}` } });
    assert.equal(two.code, 1, two.stdout + two.stderr);
    assert.match(two.stdout, /^http:\/\/127\.0\.0\.1:\d+\/\*\*\*: HTTP 200$/m);
    assert.match(two.stdout, /^http:\/\/127\.0\.0\.1:\d+\/\*\*\*: HTTP 500 /m);
    assertNoSecret(two.stdout + two.stderr, bad);

    const none = await runCli(['notify', 'test'], { env: { DRAIN_NOTIFY_URL: '' } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /DRAIN_NOTIFY_URL is not set/);
  });
});
