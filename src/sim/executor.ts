/**
 * The reference executor: Autopack's phase transitions against the backlog tables, then
 * the phase's scenario acted out (see scenario.ts). Hanging scenarios return a `forever`
 * function that main.ts runs after it closed the database connection.
 */
import { spawnStubbornTree } from './children.js';
import * as db from './db.js';
import type { PhaseKey, SimDb, SimPhase } from './db.js';
import {
  INVALID_UTF8,
  UNICODE_LINES,
  err,
  out,
  pythonTraceback,
  sleep,
  write,
  writeBigOutput,
  writeForever,
} from './output.js';
import { invalidReason, parseScope, type Scenario } from './scenario.js';

export type Outcome = { exitCode: number } | { forever: () => Promise<never> };

interface ExecutorOptions extends PhaseKey {
  force: boolean;
  /** Telemetry rows are written only when true (Autopack: TELEMETRY_DB_ENABLED=1). */
  telemetry: boolean;
  sessionId?: string;
}

interface Ctx {
  client: SimDb;
  key: PhaseKey;
  label: string;
  phase: SimPhase;
  telemetry: boolean;
}

export async function runExecutor(client: SimDb, o: ExecutorOptions): Promise<Outcome> {
  const key: PhaseKey = { runId: o.runId, phaseId: o.phaseId };
  const label = `${o.runId}/${o.phaseId}`;
  const phase = await db.loadPhase(client, key);
  if (!phase) {
    await err(
      `drain-sim: phase not found: run_id=${JSON.stringify(o.runId)} phase_id=${JSON.stringify(o.phaseId)}`,
    );
    return { exitCode: 2 };
  }
  const parsed = parseScope(phase.scope);
  await out(`[sim] draining ${label} scenario=${parsed.ok ? parsed.scenario.name : parsed.name}`);
  if (o.sessionId) await out(`[sim] session ${o.sessionId}`);
  if (phase.state === 'COMPLETE') {
    await out(`[sim] ${label} is already COMPLETE; nothing to do`);
    return { exitCode: 0 };
  }
  if (phase.state !== 'QUEUED') {
    if (!o.force) {
      await err(`drain-sim: phase ${label} is ${phase.state}, not QUEUED; use --force to requeue it`);
      return { exitCode: 3 };
    }
    if (!(await db.requeuePhase(client, key, phase.state))) return changedUnderUs(label);
    await out(`[sim] ${label}: ${phase.state} -> QUEUED (--force)`);
  }
  if (!(await db.startPhase(client, key))) return changedUnderUs(label);
  await out(`[sim] ${label}: QUEUED -> EXECUTING`);

  const ctx: Ctx = { client, key, label, phase, telemetry: o.telemetry };
  if (!parsed.ok) {
    const reason = invalidReason(parsed);
    await err(`drain-sim: ${reason}`);
    return fail(ctx, reason, 2);
  }
  const sc = parsed.scenario;
  if (!o.telemetry && sc.events + sc.escalations > 0) {
    await err('[sim] TELEMETRY_DB_ENABLED is not 1: telemetry rows are not written');
  }
  return act(ctx, sc);
}

async function changedUnderUs(label: string): Promise<Outcome> {
  await err(`drain-sim: phase ${label} changed state concurrently; not draining it`);
  return { exitCode: 3 };
}

async function act(ctx: Ctx, sc: Scenario): Promise<Outcome> {
  switch (sc.name) {
    case 'complete':
      await work(ctx, sc, true);
      return complete(ctx, sc);
    case 'fail':
      await work(ctx, sc, false);
      await err(`ERROR: ${sc.reason}`);
      return fail(ctx, sc.reason, sc.exitCode);
    case 'crash':
      await work(ctx, sc, false);
      await db.finishPhase(ctx.client, ctx.key, 'FAILED', null);
      await write(process.stderr, pythonTraceback(ctx.key.runId, ctx.key.phaseId));
      return { exitCode: sc.exitCode };
    case 'hang':
      return { forever: () => hang(ctx.label) };
    case 'hang-with-children':
      return hangWithChildren(ctx);
    case 'unicode':
      for (const line of UNICODE_LINES) await out(`[sim] ${line}`);
      for (const line of UNICODE_LINES) await err(`[sim] stderr: ${line}`);
      await work(ctx, sc, true);
      return complete(ctx, sc);
    case 'stderr-exit0':
      await work(ctx, sc, false);
      await err('WARNING: builder returned without a result; phase left FAILED');
      await err('WARNING: no failure reason was recorded (sim stderr-exit0)');
      await db.finishPhase(ctx.client, ctx.key, 'FAILED', null);
      return { exitCode: sc.exitCode };
    case 'big-output':
      await writeBigOutput(sc.bytes);
      await out('');
      await work(ctx, sc, true);
      return complete(ctx, sc);
    case 'endless-output':
      return { forever: () => writeForever(ctx.label) };
    case 'non-utf8':
      await write(
        process.stdout,
        Buffer.concat([Buffer.from('[sim] raw bytes: '), INVALID_UTF8, Buffer.from('\n')]),
      );
      await write(
        process.stderr,
        Buffer.concat([Buffer.from('[sim] raw bytes: '), INVALID_UTF8, Buffer.from('\n')]),
      );
      await work(ctx, sc, false);
      return fail(ctx, sc.reason, sc.exitCode);
    case 'escalate':
      await work(ctx, sc, false);
      await escalate(ctx, sc);
      return fail(ctx, sc.reason, sc.exitCode);
    case 'llm-boundary':
      await out('[sim] Calling LLM builder: model=claude-sonnet max_tokens=4096');
      await sleep(sc.seconds);
      await out(
        '[sim] Calling LLM builder: max_tokens=4096 exceeded, output truncated (stop_reason=max_tokens)',
      );
      await err(`ERROR: ${sc.reason}`);
      return fail(ctx, sc.reason, sc.exitCode);
  }
}

/**
 * Works for sc.seconds, making sc.events model calls spread over that time: each spends output
 * tokens (phases.tokens_used, runs.tokens_used) and, with telemetry on, writes its
 * token_estimation_v2_events row.
 */
async function work(ctx: Ctx, sc: Scenario, success: boolean): Promise<void> {
  const steps = Math.max(sc.events, 1);
  for (let i = 0; i < steps; i++) {
    await sleep(sc.seconds / steps);
    if (i >= sc.events) continue;
    const predicted = 800 + ((i * 977 + ctx.key.phaseId.length * 131) % 6000);
    const actual = sc.tokens ?? Math.round(predicted * (0.7 + ((i * 37) % 60) / 100));
    if (!ctx.telemetry) {
      await db.addTokens(ctx.client, ctx.key, actual);
      continue;
    }
    await db.insertEstimationEvent(ctx.client, ctx.key, {
      category: ctx.phase.taskCategory ?? 'implementation',
      complexity: ctx.phase.complexity ?? 'medium',
      deliverableCount: 1 + (i % 5),
      predictedOutputTokens: predicted,
      actualOutputTokens: actual,
      success,
    });
    await out(
      `[sim] estimation sample ${i + 1}/${sc.events}: predicted=${predicted} actual=${actual} (telemetry row written)`,
    );
  }
  if (!ctx.telemetry || sc.events === 0) await out(`[sim] worked ${sc.seconds}s without telemetry`);
}

/** sc.escalations truncated calls at doubling budgets, each spending its budget (or sc.tokens). */
async function escalate(ctx: Ctx, sc: Scenario): Promise<void> {
  for (let i = 0; i < sc.escalations; i++) {
    const base = 4096 * 2 ** i;
    const tokens = sc.tokens ?? base;
    if (!ctx.telemetry) {
      await db.addTokens(ctx.client, ctx.key, tokens);
      continue;
    }
    await db.insertEscalationEvent(ctx.client, ctx.key, i + 1, base, tokens);
    await out(
      `[sim] TOKEN_ESCALATION: attempt ${i + 1} truncated at max_tokens=${base}; asking for ${Math.min(base * 2, 64_000)}`,
    );
  }
}

async function complete(ctx: Ctx, sc: Scenario): Promise<Outcome> {
  await db.finishPhase(ctx.client, ctx.key, 'COMPLETE', null);
  await out(`[sim] ${ctx.label}: EXECUTING -> COMPLETE`);
  return { exitCode: sc.exitCode };
}

async function fail(ctx: Ctx, reason: string | null, exitCode: number): Promise<Outcome> {
  await db.finishPhase(ctx.client, ctx.key, 'FAILED', reason);
  await out(`[sim] ${ctx.label}: EXECUTING -> FAILED (${reason ?? 'no reason recorded'})`);
  return { exitCode };
}

async function hang(label: string): Promise<never> {
  for (let s = 1; ; s++) {
    await sleep(1);
    await out(`[sim] still working on ${label} (${s}s)`);
  }
}

async function hangWithChildren(ctx: Ctx): Promise<Outcome> {
  process.removeAllListeners('SIGTERM');
  process.on('SIGTERM', () => void err('[sim] SIGTERM ignored (hang-with-children)'));
  process.on('SIGINT', () => void err('[sim] SIGINT ignored (hang-with-children)'));
  const tree = await spawnStubbornTree((pid) => out(`SIM_CHILD_PID=${pid}`));
  await out(`SIM_GRANDCHILD_PID=${tree.grandchildPid}`);
  return { forever: () => hang(ctx.label) };
}
