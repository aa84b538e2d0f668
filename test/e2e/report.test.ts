/**
 * `drain report <id> --html FILE` end to end: a real session (Temporal dev server, embedded
 * Postgres, the reference executor) with a hostile run id, the real CLI writing the report
 * with no Temporal server reachable, then the file opened in headless Chromium with the
 * network cut: the five charts are drawn (tokens per attempt among them: the reference
 * executor's model calls add to phases.tokens_used), nothing is fetched, no console errors, the
 * verdict of drain verify is shown, the hostile id is text, every try has its tokens. Keeps
 * test-output/report.png and test-output/report.html.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'puppeteer-core';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import {
  assertChromium,
  chromiumProblem,
  launchBrowser,
  testOutputDir,
  watchedPage,
} from '../helpers/browser.js';
import { runOffline, type CliRun } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { verifySession } from '../../src/cli/verify-session.js';
import { verdictLine } from '../../src/domain/verify-format.js';

const HOSTILE_RUN = '<script>alert(1)</script>';
const SESSION_ID = `report-e2e-"&'<b>-🚀`;
const CHARTS = ['durations', 'telemetry', 'outcomes', 'fingerprints', 'tokens'];

/** `drain report …` with DATABASE_URL set and no reachable Temporal server. */
const report = (env: TestEnv, args: string[]): Promise<CliRun> =>
  runOffline(env.databaseUrl, ['report', ...args], env.dir);

interface CanvasFacts {
  id: string;
  width: number;
  height: number;
  painted: number;
}

/** Size on the page and number of painted (non-transparent) pixels of each chart canvas. */
const canvasFacts = (ids: string[]): CanvasFacts[] =>
  ids.map((id) => {
    const canvas = document.getElementById(`chart-${id}`) as HTMLCanvasElement;
    const box = canvas.getBoundingClientRect();
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted += 1;
    return { id, width: box.width, height: box.height, painted };
  });

describe('drain report --html', () => {
  let env: TestEnv;
  let browser: Browser | null = null;

  before(async () => {
    env = await startTestEnv();
    await seedPhases(env.pool, [
      { runId: HOSTILE_RUN, phaseId: 'p1', sim: { scenario: 'complete', events: 3, seconds: 1.5 } },
      { runId: HOSTILE_RUN, phaseId: 'p2', sim: { scenario: 'fail', reason: 'patch apply failed' } },
      { runId: HOSTILE_RUN, phaseId: 'p3', sim: { scenario: 'complete', events: 1, seconds: 2 } },
      { runId: 'report-run-b', phaseId: 'b1', sim: { scenario: 'crash', exitCode: 3 } },
      { runId: 'report-run-b', phaseId: 'b2', sim: { scenario: 'complete', events: 2, seconds: 1 } },
    ]);
    await env.startWorker();
    const handle = await env.client.workflow.start('batchDrain', {
      taskQueue: env.taskQueue,
      workflowId: SESSION_ID,
      args: [{ batchSize: 10, phaseTimeoutSeconds: 30, maxAttemptsPerPhase: 1 }],
    });
    await handle.result();
    if (!chromiumProblem()) browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await env?.teardown();
  });

  test('writes one self-contained file that renders offline with its charts and the verdict', async (t) => {
    assertChromium(); // a missing browser fails this test, naming the package
    const file = path.join(env.dir, 'out.html');
    const r = await report(env, [SESSION_ID, '--html', file]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const expected = verdictLine(await verifySession(env.pool, SESSION_ID));
    assert.ok(r.stdout.includes(`wrote ${file} (5 tries; ${expected})`), r.stdout);

    const html = readFileSync(file, 'utf8');
    assert.doesNotMatch(html, /src="http|href="http|<link\b/i, 'nothing external');
    assert.ok(html.includes('Chart.js v4'), 'the charting library is inlined');
    assert.ok(!html.includes(HOSTILE_RUN), 'the hostile run id is escaped');

    const { page, log } = await watchedPage(browser!, { allow: ['file://'], offline: true });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForSelector('body[data-charts]:not([data-charts="pending"])', { timeout: 20_000 });
    assert.equal(await page.$eval('body', (b) => b.dataset.charts), 'rendered', log.errors.join('\n'));
    assert.equal(await page.$eval('body', (b) => b.dataset.chartsDrawn), String(CHARTS.length));
    assert.equal(await page.$('#chart-tokens-na'), null, 'tokens are known: no n/a note');
    for (const c of await page.evaluate(canvasFacts, CHARTS)) {
      assert.ok(c.width > 100 && c.height > 100, `${c.id} has a size: ${c.width}x${c.height}`);
      assert.ok(c.painted > 500, `${c.id} is drawn (${c.painted} painted pixels)`);
    }
    assert.deepEqual(log.errors, [], 'no console errors');
    assert.deepEqual(log.outside, [], 'no request left the file');
    assert.deepEqual(log.dialogs, [], 'no script of the data ran');

    assert.equal(await page.$eval('#verdict .verdict', (e) => e.textContent), expected);
    assert.equal(await page.$$eval('#verdict li.criterion', (l) => l.length), 6);
    assert.equal(await page.$eval('#session-id', (e) => e.textContent), SESSION_ID);
    const runCells = await page.$$eval('#attempts tbody tr td:nth-child(2)', (l) =>
      l.map((e) => e.textContent),
    );
    assert.equal(runCells.filter((x) => x === HOSTILE_RUN).length, 3, 'the hostile run id is shown as text');
    assert.equal(await page.$$eval('script', (l) => l.length), 3, 'no script element from the data');
    assert.match(await page.$eval('#summary pre', (e) => e.textContent ?? ''), /Total Processed: 5/);
    const heads = await page.$$eval('#attempts thead th', (l) => l.map((e) => e.textContent));
    const tokenCells = await page.$$eval(
      '#attempts tbody tr',
      (rows, col) => rows.map((r) => r.children[col].textContent ?? ''),
      heads.indexOf('Tokens'),
    );
    assert.equal(tokenCells.length, 5);
    for (const x of tokenCells) assert.match(x, /^\d{1,3}(,\d{3})*$/, `a known spend per try: ${tokenCells}`);
    assert.match(
      (await page.$eval('.facts', (e) => e.textContent)) ?? '',
      /Tokens spent\d{1,3}(,\d{3})*/,
      'the session tokens summary',
    );

    const out = testOutputDir();
    const png = path.join(out, 'report.png');
    await page.screenshot({ path: png, fullPage: true });
    copyFileSync(file, path.join(out, 'report.html'));
    t.diagnostic(`screenshot: ${png}`);
    t.diagnostic(`report: ${path.join(out, 'report.html')}`);
    await page.close();
  });

  test('an unknown session exits 2 and writes nothing', async () => {
    const file = path.join(env.dir, 'unknown.html');
    const r = await report(env, ['no-such-session', '--html', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /unknown session "no-such-session"/);
    assert.throws(() => readFileSync(file));
  });

  test('--html is required', async () => {
    const r = await report(env, [SESSION_ID]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--html <file>/);
  });
});
