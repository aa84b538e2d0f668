/**
 * Headless Chromium for the browser tests (drain report's HTML, the Temporal Web UI), driven
 * with puppeteer-core: the system's Chromium (Debian's `chromium` package; no browser
 * download), `--no-sandbox` because the tests run as root. A missing browser is a test
 * failure naming the package (bash scripts/ensure-browser.sh installs it), never a skip.
 */
import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { projectRoot } from '../../src/runtime/paths.js';

export const CHROMIUM_PACKAGE = 'chromium';
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chromium binary: DRAIN_CHROMIUM, else Debian's. Throws naming what to install. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DRAIN_CHROMIUM) {
    if (executable(env.DRAIN_CHROMIUM)) return env.DRAIN_CHROMIUM;
    throw new Error(
      `DRAIN_CHROMIUM=${env.DRAIN_CHROMIUM} is not an executable file ` +
        `(unset it to use the Debian package "${CHROMIUM_PACKAGE}": apt-get install -y ${CHROMIUM_PACKAGE})`,
    );
  }
  const found = CANDIDATES.find(executable);
  if (found) return found;
  throw new Error(
    `headless Chromium is missing: install the Debian package "${CHROMIUM_PACKAGE}" ` +
      `(apt-get install -y ${CHROMIUM_PACKAGE}; as root, bash scripts/ensure-browser.sh does it), ` +
      `or set DRAIN_CHROMIUM to a Chromium binary. Looked for: ${CANDIDATES.join(', ')}`,
  );
}

/**
 * Why the browser tests cannot run (Chromium is missing), or null. Tests call
 * assertChromium() first, so a missing browser fails each of them with this message.
 */
export function chromiumProblem(): string | null {
  try {
    chromiumPath();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Fails the calling test, naming the package to install, when Chromium is missing. */
export function assertChromium(): void {
  const problem = chromiumProblem();
  if (problem) assert.fail(problem);
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/** test-output/ under the project (git-ignored): screenshots the tests keep. */
export function testOutputDir(): string {
  const dir = path.join(projectRoot(), 'test-output');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** What a page said while a test drove it. */
export interface PageLog {
  /** console.error messages and uncaught exceptions. */
  errors: string[];
  /** Requests that left the page (any URL but the allowed prefixes). */
  outside: string[];
  /** Dialogs (alert/confirm/prompt) the page opened; each is dismissed. */
  dialogs: string[];
}

/**
 * A page whose console errors, page errors and dialogs are recorded. With `allow`, every
 * request whose URL starts with none of its prefixes is recorded and aborted, so the page
 * reaches nothing else (set `offline` to cut the network entirely as well).
 */
export async function watchedPage(
  browser: Browser,
  o: { allow?: string[]; offline?: boolean; width?: number; height?: number } = {},
): Promise<{ page: Page; log: PageLog }> {
  const page = await browser.newPage();
  const log: PageLog = { errors: [], outside: [], dialogs: [] };
  await page.setViewport({ width: o.width ?? 1400, height: o.height ?? 1000 });
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.errors.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('dialog', (d) => {
    log.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  if (o.offline) await page.setOfflineMode(true);
  if (o.allow) {
    const allow = o.allow;
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (allow.some((p) => r.url().startsWith(p))) return void r.continue();
      log.outside.push(r.url());
      void r.abort();
    });
  }
  return { page, log };
}
