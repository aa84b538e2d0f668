/**
 * Records the workflow histories of real drain sessions for replay tests.
 *
 *   npx tsx scripts/record-histories.ts              # every scenario
 *   npx tsx scripts/record-histories.ts plain cancel # only these
 *
 * Starts the test services (embedded Postgres + Temporal dev server, test/helpers/env.ts),
 * runs each scenario against this checkout's workflow code, replays what it recorded against
 * the same bundle (a fixture that does not replay is never written), checks that no secret
 * (the embedded database's password, any DSN with a password) is in it, and writes
 * test/fixtures/histories/<release>-<scenario>.json (release = package.json version).
 *
 * A fixture file is one JSON object: metadata plus `histories`, an array of
 * `{ workflowId, runId, history }` with `history` in proto JSON (`historyToJSON`, the format
 * of `temporal workflow show --output json`), one entry per workflow run of the session
 * (a session that continues as new has several). `histories` is exactly what
 * `Worker.runReplayHistories` takes; the workflow id matters because the workflow reads it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId as StartedHandle,
} from '@temporalio/client';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import type * as protoTypes from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { eventually, startTestEnv, workflowBundle, type TestEnv } from '../test/helpers/env.js';
import { seedPhases, type PhaseSeed } from '../src/sim/seed.js';
import { listSessionAttempts } from '../src/db/attempts.js';
import { findTemporalCli } from '../src/runtime/binaries.js';
import { REDACTED, secretValuesOf } from '../src/domain/redact.js';
import type { DrainWorker } from '../src/worker.js';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
  type Progress,
} from '../src/domain/messages.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const HISTORIES_DIR = path.join(ROOT, 'test', 'fixtures', 'histories');

/** One workflow run's history, as Worker.runReplayHistories takes it. */
export interface RecordedRun {
  workflowId: string;
  runId: string;
  /** Proto JSON (historyToJSON): `{ "events": [...] }`. */
  history: { events: Record<string, unknown>[] };
}

export interface HistoryFixture {
  release: string;
  scenario: string;
  description: string;
  recordedAt: string;
  recordedWith: { sdk: string; server: string };
  /** Every run of the session, first to last (continue-as-new makes more than one). */
  histories: RecordedRun[];
}

export interface ScenarioContext {
  env: TestEnv;
  /** Prefix of every workflow id and run id the scenario creates (several recordings share one env). */
  prefix: string;
  /** Starts the in-process worker unless it runs. */
  ensureWorker(): Promise<void>;
  /** Stops the in-process worker (for scenarios that need a worker of their own). */
  stopWorker(): Promise<void>;
}

export interface Scenario {
  name: string;
  description: string;
  /** Runs the session to its end; returns the handle whose chain is recorded. */
  run(ctx: ScenarioContext): Promise<StartedHandle>;
}

// ---------------------------------------------------------------------------------------------
// History <-> proto JSON
//
// The SDK's historyToJSON/historyFromJSON (@temporalio/common/lib/proto-utils) throw
// "type must be a Type" in this install: npm nests a separate protobufjs 8 copy under
// @temporalio/common and under @temporalio/proto (the root has protobufjs 7 for grpc), and
// protojson's `instanceof Type` check fails across the copies. Worker.runReplayHistories calls
// historyFromJSON for a history whose event ids are strings, so it cannot take proto JSON here
// either. The fallback does the same conversion with the protojson of the protobufjs copy that
// @temporalio/proto itself uses, and hands the replay worker a decoded History.

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}
let fallback: { protojson: ProtoJson; historyType: unknown; proto: typeof protoTypes } | null = null;
function protoJsonFallback() {
  if (!fallback) {
    const require = createRequire(import.meta.url);
    // The CommonJS module itself (as the SDK requires it), not an ESM namespace wrapper.
    const proto = require('@temporalio/proto') as typeof protoTypes;
    const protojson = createRequire(require.resolve('@temporalio/proto'))(
      'protobufjs/ext/protojson',
    ) as ProtoJson;
    const root = patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown };
    fallback = { protojson, historyType: root.lookupType('temporal.api.history.v1.History'), proto };
  }
  return fallback;
}
const isDuplicateProtobufError = (err: unknown) =>
  err instanceof TypeError && /must be a Type/.test(err.message);

/** History → proto JSON object (what `temporal workflow show --output json` prints). */
export function historyToProtoJson(history: History): RecordedRun['history'] {
  try {
    return JSON.parse(historyToJSON(history));
  } catch (err) {
    if (!isDuplicateProtobufError(err)) throw err;
    const { protojson, historyType, proto } = protoJsonFallback();
    const message = proto.temporal.api.history.v1.History.fromObject(history);
    return protojson.toJson(historyType, message) as RecordedRun['history'];
  }
}

/** Enum names written in PascalCase by older tools, as historyFromJSON fixes them. */
function fixEnums(json: RecordedRun['history']): RecordedRun['history'] {
  const fix = (o: Record<string, unknown> | undefined, attr: string, prefix: string) => {
    const v = o?.[attr];
    if (typeof v === 'string' && !v.startsWith(prefix))
      o![attr] = `${prefix}_${v.replace(/[^\b][A-Z]/g, (m) => `${m[0]}_${m[1]}`).toUpperCase()}`;
  };
  const copy = structuredClone(json);
  for (const e of copy.events) {
    fix(e, 'eventType', 'EVENT_TYPE');
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes'));
    const a = key ? (e[key] as Record<string, unknown>) : undefined;
    fix(a?.taskQueue as Record<string, unknown> | undefined, 'kind', 'TASK_QUEUE_KIND');
    fix(a, 'parentClosePolicy', 'PARENT_CLOSE_POLICY');
    fix(a, 'workflowIdReusePolicy', 'WORKFLOW_ID_REUSE_POLICY');
    fix(a, 'initiator', 'CONTINUE_AS_NEW_INITIATOR');
    fix(a, 'retryState', 'RETRY_STATE');
    fix(
      a?.childWorkflowExecutionFailureInfo as Record<string, unknown> | undefined,
      'retryState',
      'RETRY_STATE',
    );
  }
  return copy;
}

/** Proto JSON (as historyFromJSON takes it) → History, for Worker.runReplayHistories. */
export function historyFromProtoJson(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch (err) {
    if (!isDuplicateProtobufError(err)) throw err;
    const { protojson, historyType } = protoJsonFallback();
    return protojson.fromJson(historyType, fixEnums(json as RecordedRun['history']), {
      ignoreUnknownFields: true,
    }) as History;
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const progressOf = (h: WorkflowHandle): Promise<Progress> => h.query(progressQuery);

/** Waits for the session's end; a failed or cancelled session is an expected end here. */
async function ended(h: StartedHandle): Promise<StartedHandle> {
  await h.result().catch(() => {});
  return h;
}

async function startSession(ctx: ScenarioContext, name: string, input: object): Promise<StartedHandle> {
  return ctx.env.client.workflow.start('batchDrain', {
    taskQueue: ctx.env.taskQueue,
    workflowId: `${ctx.prefix}${name}`,
    args: [input],
  });
}

async function seed(ctx: ScenarioContext, run: string, phases: Omit<PhaseSeed, 'runId'>[]): Promise<string> {
  const runId = `${ctx.prefix}${run}`;
  await seedPhases(
    ctx.env.pool,
    phases.map((p) => ({ runId, ...p })),
  );
  return runId;
}

export const SCENARIOS: Scenario[] = [
  {
    // First: it needs to be the only worker polling when the session starts.
    name: 'worker-killed',
    description:
      'the worker running the drain is killed with SIGKILL mid-phase; after the heartbeat timeout an in-process worker retries the drain (redrain or reconcile) and finishes the session',
    async run(ctx) {
      await ctx.stopWorker();
      const runId = await seed(ctx, 'kill-run', [
        { phaseId: 'slow', sim: { scenario: 'complete', events: 2, seconds: 6 } },
      ]);
      const child = ctx.env.spawnWorker();
      const h = await startSession(ctx, 'worker-killed', {
        batchSize: 1,
        runId,
        phaseTimeoutSeconds: 120,
        heartbeatTimeoutSeconds: 4,
        killGraceSeconds: 1,
      });
      await eventually(
        async () =>
          (await listSessionAttempts(ctx.env.pool, h.workflowId)).some(
            (r) => r.status === 'running' && r.pid,
          ),
        90_000,
        'the executor to start under the spawned worker',
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await ctx.ensureWorker();
      return ended(h);
    },
  },
  {
    name: 'plain',
    description: 'four phases of one run: two successes, a failure with a DB reason, a crash (exit 3)',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'plain-run', [
        { phaseId: 'ok-1', sim: { scenario: 'complete', events: 2, seconds: 0.1 } },
        { phaseId: 'bad', lastFailureReason: 'patch apply failed', sim: { scenario: 'fail' } },
        { phaseId: 'crash', sim: { scenario: 'crash', exitCode: 3 } },
        { phaseId: 'ok-2', sim: { scenario: 'complete', events: 1, seconds: 0.1 } },
      ]);
      return ended(await startSession(ctx, 'plain', { batchSize: 4, runId, maxAttemptsPerPhase: 1 }));
    },
  },
  {
    name: 'dry-run',
    description: 'a dry run over three phases: selection only, nothing drained, no session JSON',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'dry-run', [
        { phaseId: 'a', sim: { scenario: 'complete' } },
        { phaseId: 'b', lastFailureReason: 'deliverable missing: src/x.py', sim: { scenario: 'fail' } },
        { phaseId: 'c', sim: { scenario: 'complete' } },
      ]);
      return ended(await startSession(ctx, 'dry-run', { batchSize: 3, runId, dryRun: true }));
    },
  },
  {
    name: 'continue-as-new',
    description:
      'forty instant phases with continueAsNewAfterEvents 200: the session continues as new, carrying its state',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(
        ctx,
        'can-run',
        Array.from({ length: 40 }, (_, i) => ({
          phaseId: `p${String(i).padStart(2, '0')}`,
          phaseIndex: i,
          sim: { scenario: 'complete', events: 1, seconds: 0.01 },
        })),
      );
      return ended(
        await startSession(ctx, 'continue-as-new', { batchSize: 40, runId, continueAsNewAfterEvents: 200 }),
      );
    },
  },
  {
    name: 'signals',
    description:
      'paused during the first phase (takes effect after it), resumed, then stopped with a reason during the second phase',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(
        ctx,
        'signals-run',
        [0, 1, 2].map((i) => ({ phaseId: `p${i}`, sim: { scenario: 'complete', events: 1, seconds: 1.5 } })),
      );
      const h = await startSession(ctx, 'signals', { batchSize: 3, runId });
      await eventually(async () => (await progressOf(h)).current, 60_000, 'the first phase to start');
      await h.signal(pauseSignal);
      await eventually(
        async () => {
          const p = await progressOf(h);
          return p.paused && p.processed === 1 && !p.current;
        },
        60_000,
        'the session to pause after its first phase',
      );
      await sleep(1500);
      await h.signal(resumeSignal);
      await eventually(
        async () => {
          const p = await progressOf(h);
          return p.processed === 1 && p.current;
        },
        60_000,
        'the second phase to start',
      );
      await h.signal(stopSignal, 'recorded for replay: stop after the second phase');
      return ended(h);
    },
  },
  {
    name: 'cancelled',
    description:
      'a success, then a hanging phase; the session is cancelled while it hangs (executor killed, lease released, session JSON written)',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'cancel-run', [
        { phaseId: 'ok', phaseIndex: 0, sim: { scenario: 'complete', events: 1, seconds: 0.1 } },
        { phaseId: 'hang', phaseIndex: 1, sim: { scenario: 'hang' } },
      ]);
      const h = await startSession(ctx, 'cancelled', {
        batchSize: 2,
        runId,
        phaseTimeoutSeconds: 120,
        killGraceSeconds: 1,
      });
      await eventually(
        async () => (await progressOf(h)).current?.phaseId === 'hang',
        60_000,
        'the hanging phase to start',
      );
      await eventually(
        async () =>
          (await listSessionAttempts(ctx.env.pool, h.workflowId)).some(
            (r) => r.phase_id === 'hang' && r.status === 'running' && r.pid,
          ),
        60_000,
        'the hanging executor to run',
      );
      await h.cancel();
      return ended(h);
    },
  },
  {
    name: 'lease-wait',
    description:
      'a session whose run is leased by another running session: it waits (5 s timers) until that session releases the lease, then drains what is left',
    async run(ctx) {
      await ctx.ensureWorker();
      const runId = await seed(ctx, 'lease-run', [
        { phaseId: 'held', phaseIndex: 0, sim: { scenario: 'complete', events: 1, seconds: 4 } },
        { phaseId: 'after', phaseIndex: 1, sim: { scenario: 'complete', events: 1, seconds: 0.1 } },
      ]);
      const holder = await startSession(ctx, 'lease-holder', { batchSize: 1, runId });
      await eventually(async () => (await progressOf(holder)).current, 60_000, 'the holder to drain');
      const waiter = await startSession(ctx, 'lease-wait', { batchSize: 1, runId });
      await ended(holder);
      return ended(waiter);
    },
  },
  {
    name: 'refused-reused-id',
    description:
      'a second session started with the id of a finished one: prepareSession refuses it (SessionIdReused) and the workflow fails at once',
    async run(ctx) {
      await ctx.ensureWorker();
      const phases = [{ phaseId: 'ok', sim: { scenario: 'complete', events: 1, seconds: 0.1 } }];
      const runId = await seed(ctx, 'reuse-run', phases);
      await ended(await startSession(ctx, 'refused-reused-id', { batchSize: 1, runId }));
      await seed(ctx, 'reuse-run', phases); // drainable again
      // The default id reuse policy (ALLOW_DUPLICATE) lets the closed id start again.
      return ended(await startSession(ctx, 'refused-reused-id', { batchSize: 1, runId }));
    },
  },
  {
    name: 'slots',
    description:
      'three slots (concurrency 3) drain three runs × two QUEUED phases in queued mode: picks take turns, phases of different runs at once, one run at a time',
    async run(ctx) {
      await ctx.ensureWorker();
      for (const run of ['slots-a', 'slots-b', 'slots-c']) {
        await seed(
          ctx,
          run,
          [0, 1].map((i) => ({
            phaseId: `q${i}`,
            phaseIndex: i,
            state: 'QUEUED',
            sim: { scenario: 'complete', events: 1, seconds: 0.5 },
          })),
        );
      }
      // Queued mode: no other scenario leaves QUEUED phases, so only these are drained.
      return ended(await startSession(ctx, 'slots', { batchSize: 6, concurrency: 3, mode: 'queued' }));
    },
  },
];

/** Every run of a session's chain, from the handle's first run, following continue-as-new. */
export async function chainHistories(env: TestEnv, h: StartedHandle): Promise<RecordedRun[]> {
  const out: RecordedRun[] = [];
  let runId: string | undefined = h.firstExecutionRunId;
  while (runId) {
    const raw = await env.client.workflow.getHandle(h.workflowId, runId).fetchHistory();
    const history = historyToProtoJson(raw);
    out.push({ workflowId: h.workflowId, runId, history });
    const last = history.events[history.events.length - 1] as {
      workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string };
    };
    runId = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return out;
}

/** A DSN whose password is not redacted. */
const DSN_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"']+:(?!\*\*\*@)[^@\s"'/]+@/i;

/**
 * Replaces every known secret value in every string, and in every payload's decoded data, by
 * the redaction mark. Returns the scrubbed value and how many places changed.
 */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): { value: T; changed: number } {
  let changed = 0;
  const clean = (s: string) => {
    let out = s;
    for (const secret of secrets) if (secret) out = out.split(secret).join(REDACTED);
    if (out !== s) changed++;
    return out;
  };
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key === 'data') {
        const decoded = Buffer.from(v, 'base64').toString('utf8');
        const cleaned = clean(decoded);
        return cleaned === decoded ? v : Buffer.from(cleaned, 'utf8').toString('base64');
      }
      return clean(v);
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  };
  return { value: walk(value) as T, changed };
}

/** Places in `value` (raw strings and decoded payload data) holding a secret or a DSN with a password. */
export function secretLeaks(value: unknown, secrets: readonly string[] = []): string[] {
  const leaks: string[] = [];
  const check = (where: string, s: string) => {
    for (const secret of secrets) if (secret && s.includes(secret)) leaks.push(`${where}: a known secret`);
    const m = DSN_WITH_PASSWORD.exec(s);
    if (m) leaks.push(`${where}: a DSN with a password (${m[0].replace(/:[^:@]+@$/, ':…@')})`);
  };
  const walk = (v: unknown, where: string, key?: string) => {
    if (typeof v === 'string') {
      check(where, v);
      if (key === 'data') check(`${where} (decoded)`, Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`, k);
  };
  walk(value, '$');
  return leaks;
}

/** Replays `runs` against `bundle`; one result per run, `error` set when it did not replay. */
export async function replayRuns(
  bundle: WorkflowBundle,
  runs: readonly RecordedRun[],
  replayName = 'autopack-drain-replay',
): Promise<{ workflowId: string; runId: string; error?: Error }[]> {
  const results: { workflowId: string; runId: string; error?: Error }[] = [];
  const iter = Worker.runReplayHistories(
    { workflowBundle: bundle, replayName },
    runs.map((r) => ({ workflowId: r.workflowId, history: historyFromProtoJson(r.history) })),
  );
  let i = 0;
  for await (const r of iter) {
    // Results come in input order; the history's own run id is not in the history.
    results.push({ workflowId: r.workflowId, runId: runs[i++]?.runId ?? r.runId, error: r.error });
  }
  return results;
}

/**
 * The fixture as JSON text: metadata indented, one history event per line (smaller than
 * indenting every event, and a re-recording diffs event by event).
 */
export function fixtureText(fixture: HistoryFixture): string {
  const { histories, ...meta } = fixture;
  const head = JSON.stringify(meta, null, 1).replace(/\n}$/, '');
  const runs = histories.map(
    (r) =>
      `  {"workflowId": ${JSON.stringify(r.workflowId)}, "runId": ${JSON.stringify(r.runId)}, "history": {"events": [\n` +
      r.history.events.map((e) => `   ${JSON.stringify(e)}`).join(',\n') +
      '\n  ]}}',
  );
  const text = `${head},\n "histories": [\n${runs.join(',\n')}\n ]\n}\n`;
  if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(fixture))
    throw new Error('fixtureText: not the fixture');
  return text;
}

export function releaseVersion(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function recordedWith(): HistoryFixture['recordedWith'] {
  const sdk = (
    JSON.parse(
      readFileSync(path.join(ROOT, 'node_modules', '@temporalio', 'worker', 'package.json'), 'utf8'),
    ) as { version: string }
  ).version;
  let server = 'unknown';
  try {
    server = execFileSync(findTemporalCli(), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // keep 'unknown'
  }
  return { sdk: `@temporalio/worker ${sdk}`, server };
}

/** A context on `env` with a lazily started in-process worker; call `close()` when done. */
export function scenarioContext(env: TestEnv, prefix: string): ScenarioContext & { close(): Promise<void> } {
  let worker: DrainWorker | null = null;
  const stopWorker = async () => {
    const w = worker;
    worker = null;
    await w?.shutdown();
  };
  return {
    env,
    prefix,
    async ensureWorker() {
      worker ??= await env.startWorker();
    },
    stopWorker,
    close: stopWorker,
  };
}

/** Runs one scenario and returns its histories, scrubbed of the database password. */
export async function recordScenario(ctx: ScenarioContext, scenario: Scenario): Promise<RecordedRun[]> {
  const h = await scenario.run(ctx);
  const runs = await chainHistories(ctx.env, h);
  return scrubSecrets(runs, secretValuesOf(ctx.env.databaseUrl)).value;
}

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
