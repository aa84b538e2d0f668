/**
 * Starting a drain the way the Web UI's start-workflow form does: the UI server's HTTP API
 * (with its CSRF cookie/header), a json/plain payload holding the same JSON as
 * `temporal workflow start --input`. The session runs and completes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { seedPhases } from '../../src/sim/seed.js';
import type { SessionResult } from '../../src/domain/messages.js';

describe('the Web UI', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv({ ui: true });
    await seedPhases(env.pool, [
      { runId: 'ui-run', phaseId: 'p1', sim: { scenario: 'complete', events: 1 } },
    ]);
    await env.startWorker();
  });
  after(() => env?.teardown());

  test('its start-workflow form starts a drain from JSON input', async () => {
    const ui = env.temporal.uiUrl!;
    const page = await fetch(`${ui}/namespaces/default/workflows/start-workflow`);
    assert.equal(page.status, 200, 'the form is served');
    const cookie = page.headers.get('set-cookie') ?? (await fetch(ui)).headers.get('set-cookie') ?? '';
    const csrf = /_csrf=([^;]+)/.exec(cookie)?.[1];
    assert.ok(csrf, 'the UI hands out its CSRF token');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const res = await fetch(`${ui}/api/v1/namespaces/default/workflows/ui-started`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `_csrf=${csrf}`, 'x-csrf-token': csrf },
      body: JSON.stringify({
        workflowId: 'ui-started',
        workflowType: { name: 'batchDrain' },
        taskQueue: { name: env.taskQueue },
        input: {
          payloads: [
            { metadata: { encoding: b64('json/plain') }, data: b64('{"batchSize": 1, "runId": "ui-run"}') },
          ],
        },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const r = (await env.client.workflow.getHandle('ui-started').result()) as SessionResult;
    assert.equal(r.processed, 1);
    assert.equal(r.succeeded, 1);
  });
});
