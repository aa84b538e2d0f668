/**
 * The Temporal Web UI of the dev server in a real browser (headless Chromium): a person
 * fills the start-workflow form (Workflow ID, Task Queue, Workflow Type batchDrain, JSON
 * input) and submits it, follows the "started" toast to the workflow's page and sees it
 * complete, then finds it in the workflows list with the query `DrainStatus="completed"`
 * typed into the list's query box (a session that failed at once is not listed). Keeps
 * screenshots in test-output/web-ui-*.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import {
  assertChromium,
  chromiumProblem,
  launchBrowser,
  testOutputDir,
  watchedPage,
  type PageLog,
} from '../helpers/browser.js';
import { seedPhases } from '../../src/sim/seed.js';
import type { SessionResult } from '../../src/domain/messages.js';

const WORKFLOW_ID = 'ui-browser-session';
const FAILED_ID = 'ui-browser-invalid-input';
const INPUT = '{"batchSize": 2, "runId": "ui-browser-run"}';

const TOAST_LINK = '::-p-xpath(//a[contains(., "Workflow started successfully")])';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` for up to 10 s, then reloads the page and polls again (the workflows list
 * does not refresh by itself), until `ms` have passed.
 */
async function untilShown(page: Page, check: () => Promise<boolean>, what: string, ms = 90_000) {
  const until = Date.now() + ms;
  for (;;) {
    const reloadAt = Math.min(until, Date.now() + 10_000);
    while (Date.now() < reloadAt) {
      if (await check().catch(() => false)) return;
      await sleep(500);
    }
    if (Date.now() >= until) throw new Error(`timed out waiting for the UI to show ${what}`);
    await page.reload({ waitUntil: 'load' });
  }
}

async function screenshot(page: Page, name: string, t: { diagnostic(m: string): void }): Promise<void> {
  const file = path.join(testOutputDir(), name);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
}

/** Fills the start-workflow form as a person would: click, type; then submits it. */
async function fillAndSubmit(page: Page, taskQueue: string): Promise<void> {
  await page.waitForSelector('[data-testid="workflowId"]');
  await page.type('[data-testid="workflowId"]', WORKFLOW_ID);
  await page.type('[data-testid="taskQueue"]', taskQueue);
  await page.type('[data-testid="workflowType"]', 'batchDrain');
  // The form checks the task queue once its field is left: our worker polls it.
  await page.waitForSelector('::-p-text(Task Queue is Active)', { timeout: 20_000 });
  await page.click('.cm-content[aria-label="Data"]');
  await page.keyboard.type(INPUT);
  // Leaving the JSON editor re-formats it (the form grows): click outside, let it settle.
  await page.click('[data-testid="start-workflow"]');
  await sleep(500);
  await page.click('[data-testid="start-workflow-button"]');
}

describe('the Temporal Web UI in a browser', () => {
  let env: TestEnv;
  let browser: Browser;
  let ui: string;

  before(async () => {
    if (chromiumProblem()) return; // each test fails, naming the package
    env = await startTestEnv({ ui: true });
    ui = env.temporal.uiUrl!;
    await seedPhases(env.pool, [
      { runId: 'ui-browser-run', phaseId: 'p1', sim: { scenario: 'complete', events: 2, seconds: 1 } },
      { runId: 'ui-browser-run', phaseId: 'p2', sim: { scenario: 'fail', reason: 'patch apply failed' } },
    ]);
    await env.startWorker();
    const bad = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: FAILED_ID,
      args: [{ batchSize: 'two' }],
    });
    const failure = await bad.result().then(
      () => null,
      (err: unknown) => err as { cause?: Error },
    );
    assert.match(String(failure?.cause?.message), /batchSize/, 'invalid input fails the session at once');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await env?.teardown();
  });

  /** A page that may talk to the UI server only (its news feed and the like are cut off). */
  const uiPage = (): Promise<{ page: Page; log: PageLog }> => watchedPage(browser, { allow: [ui] });

  test('the start-workflow form starts a drain, and its page shows it completed', async (t) => {
    assertChromium();
    const { page, log } = await uiPage();
    await page.goto(`${ui}/namespaces/default/workflows/start-workflow`, { waitUntil: 'load' });
    await fillAndSubmit(page, env.taskQueue);
    const toast = await page.waitForSelector(TOAST_LINK, { timeout: 20_000 });
    await screenshot(page, 'web-ui-start-workflow.png', t);
    await toast!.click(); // the toast links to the new workflow (and goes away after a few seconds)
    await page.waitForFunction((id) => location.pathname.includes(`/workflows/${id}`), {}, WORKFLOW_ID);

    const r = (await env.client.workflow.getHandle(WORKFLOW_ID).result()) as SessionResult;
    assert.equal(r.processed, 2, 'the UI input reached the workflow');
    assert.equal(r.succeeded, 1);
    const status = () => page.$eval('[data-testid="execution-status"]', (e) => e.textContent ?? '');
    await untilShown(page, async () => /completed/i.test(await status()), 'the workflow completed');
    const heading = await page.$eval('[data-testid="workflow-id-heading"]', (e) => e.textContent ?? '');
    assert.ok(heading.trim().startsWith(WORKFLOW_ID), heading);
    const body = await page.$eval('body', (b) => b.innerText);
    assert.match(body, /batchDrain/);
    assert.match(body, /"stopReason": "batch size reached \(2\)"/, 'the result is shown');
    await screenshot(page, 'web-ui-workflow.png', t);
    t.diagnostic(`requests the test kept from leaving the machine: ${log.outside.length}`);
    await page.close();
  });

  test('the workflows list finds it by DrainStatus="completed"', async (t) => {
    assertChromium();
    const { page } = await uiPage();
    await page.goto(`${ui}/namespaces/default/workflows`, { waitUntil: 'load' });
    await (await page.waitForSelector('[data-testid="toggle-manual-query"]'))!.click();
    const box = await page.waitForSelector('[data-testid="workflow-manual-search-input"]');
    await box!.type('DrainStatus="completed"');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      new URL(location.href).searchParams.get('query')?.includes('DrainStatus'),
    );
    const listed = () =>
      page.$$eval('[data-testid="workflows-summary-configurable-table-row"] a', (l) =>
        l.map((a) => a.textContent?.trim() ?? ''),
      );
    await untilShown(page, async () => (await listed()).includes(WORKFLOW_ID), `${WORKFLOW_ID} in the list`);
    assert.equal(new URL(page.url()).searchParams.get('query'), 'DrainStatus="completed"');
    assert.ok(!(await listed()).includes(FAILED_ID), 'a session that never completed is not listed');
    await screenshot(page, 'web-ui-list.png', t);
    await page.close();
  });
});
