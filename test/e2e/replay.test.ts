/**
 * Replay: a change to the workflow code must not break sessions that are already running.
 * Every recorded history in test/fixtures/histories/ (every release's, see
 * scripts/record-histories.ts) is replayed against the current workflow bundle, and so are
 * fresh histories of live sessions recorded here (so a change that breaks its own new
 * histories fails too). A history that does not replay fails with its file and the SDK's
 * error (DeterminismViolationError for a determinism break).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { startTestEnv, workflowBundle, type TestEnv } from '../../harness/env.js';
import { installRuntime } from '../../src/cli/env.js';
import {
  HISTORIES_DIR,
  releaseVersion,
  replayRuns,
  secretLeaks,
  type HistoryFixture,
  type RecordedRun,
} from '../../harness/histories/fixture.js';
import { SCENARIOS, recordScenario, scenarioContext } from '../../harness/histories/scenarios.js';

installRuntime(); // before the first replay worker: the SDK logs at WARN, as the other tests' workers do

const fixtureFiles = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const readFixture = (file: string): HistoryFixture =>
  JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as HistoryFixture;

/** Replays `runs`; fails naming `source`, the run and the SDK's error for each run that does not replay. */
async function assertReplays(source: string, runs: RecordedRun[]): Promise<void> {
  const results = await replayRuns(await workflowBundle(), runs);
  assert.equal(results.length, runs.length, `${source}: every history was replayed`);
  const problems = results
    .filter((r) => r.error)
    .map((r) => {
      const kind = r.error instanceof DeterminismViolationError ? 'determinism violation' : 'replay error';
      return `${source}: ${r.workflowId} run ${r.runId} does not replay (${kind}): ${r.error!.name}: ${r.error!.message}`;
    });
  if (problems.length) assert.fail(problems.join('\n'));
}

describe('recorded histories replay against the current workflow code', () => {
  test('there are recorded histories, and the current release has its own', () => {
    assert.ok(fixtureFiles.length > 0, `no fixtures in ${HISTORIES_DIR}`);
    const release = releaseVersion();
    assert.ok(
      fixtureFiles.some((f) => f.startsWith(`${release}-`)),
      `no recorded histories for release ${release}: run \`npx tsx scripts/record-histories.ts\` and commit them`,
    );
  });

  for (const file of fixtureFiles) {
    test(file, async () => {
      const fixture = readFixture(file);
      assert.equal(
        file,
        `${fixture.release}-${fixture.scenario}.json`,
        'file name is <release>-<scenario>.json',
      );
      assert.ok(fixture.histories.length > 0, `${file}: no histories`);
      assert.deepEqual(secretLeaks(fixture), [], `${file}: holds a secret`);
      await assertReplays(file, fixture.histories);
    });
  }
});

describe('fresh histories of live sessions replay', () => {
  let env: TestEnv;
  let ctx: ReturnType<typeof scenarioContext>;
  before(async () => {
    env = await startTestEnv();
    ctx = scenarioContext(env, 'live-');
  });
  after(async () => {
    await ctx?.close().catch(() => {});
    await env?.teardown();
  });

  const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;

  test('a plain session (successes, a failure, a crash)', async () => {
    const runs = await recordScenario(ctx, scenario('plain'));
    assert.equal(runs.length, 1);
    await assertReplays('live plain session', runs);
  });

  test('a session with three slots (parallel activities)', async () => {
    const runs = await recordScenario(ctx, scenario('slots'));
    assert.equal(runs.length, 1);
    await assertReplays('live session with slots', runs);
  });

  test('a session that continues as new', async () => {
    const runs = await recordScenario(ctx, scenario('continue-as-new'));
    assert.ok(runs.length >= 2, `the session continued as new (${runs.length} runs)`);
    await assertReplays('live continue-as-new session', runs);
  });
});
