/**
 * Records the workflow histories of real drain sessions for replay tests.
 *
 *   npx tsx scripts/record-histories.ts              # every scenario
 *   npx tsx scripts/record-histories.ts plain cancel # only these
 *
 * Starts the test services (embedded Postgres + Temporal dev server, harness/env.ts),
 * runs each scenario against this checkout's workflow code, replays what it recorded against
 * the same bundle (a fixture that does not replay is never written), checks that no secret
 * (the embedded database's password, any DSN with a password) is in it, and writes
 * test/fixtures/histories/<release>-<scenario>.json (release = package.json version).
 *
 * The scenarios are in harness/histories/scenarios.ts, the fixture format in
 * harness/histories/fixture.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTestEnv, workflowBundle } from '../harness/env.js';
import { secretValuesOf } from '../src/domain/redact.js';
import {
  HISTORIES_DIR,
  ROOT,
  fixtureText,
  recordedWith,
  releaseVersion,
  replayRuns,
  scrubSecrets,
  secretLeaks,
  type HistoryFixture,
} from '../harness/histories/fixture.js';
import { SCENARIOS, chainHistories, scenarioContext } from '../harness/histories/scenarios.js';

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    console.error(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
    process.exit(2);
  }
  const scenarios = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  const release = releaseVersion();
  const meta = recordedWith();
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const env = await startTestEnv();
  const ctx = scenarioContext(env, 'record-');
  const secrets = secretValuesOf(env.databaseUrl);
  const bundle = await workflowBundle();
  let failed = false;
  try {
    for (const scenario of scenarios) {
      const t0 = Date.now();
      const h = await scenario.run(ctx);
      const raw = await chainHistories(env, h);
      const { value: histories, changed } = scrubSecrets(raw, secrets);
      const leaks = secretLeaks(histories, secrets);
      if (leaks.length)
        throw new Error(`${scenario.name}: secrets left after scrubbing:\n  ${leaks.join('\n  ')}`);
      const replayed = await replayRuns(bundle, histories);
      const broken = replayed.filter((r) => r.error);
      if (broken.length) {
        failed = true;
        console.error(
          `${scenario.name}: does not replay, not written: ${broken.map((r) => `${r.runId}: ${r.error}`).join('; ')}`,
        );
        continue;
      }
      const fixture: HistoryFixture = {
        release,
        scenario: scenario.name,
        description: scenario.description,
        recordedAt: new Date().toISOString(),
        recordedWith: meta,
        histories,
      };
      const file = path.join(HISTORIES_DIR, `${release}-${scenario.name}.json`);
      const text = fixtureText(fixture);
      writeFileSync(file, text);
      const events = histories.reduce((n, r) => n + r.history.events.length, 0);
      console.log(
        `${path.relative(ROOT, file)}: ${histories.length} run(s), ${events} events, ${(text.length / 1024).toFixed(1)} KiB` +
          `${changed ? `, ${changed} secret(s) redacted` : ''} (${((Date.now() - t0) / 1000).toFixed(1)}s)`,
      );
    }
  } finally {
    await ctx.close().catch(() => {});
    await env.teardown();
  }
  if (failed) process.exit(1);
}

const invokedDirectly =
  process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url;
if (invokedDirectly) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
