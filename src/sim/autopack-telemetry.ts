/** Autopack's telemetry events as the executor writes them, and the tokens a model call spent (see src/sim/autopack-rows.ts). */
import {
  isSqlite,
  pgQuery,
  PG_NOW_UTC,
  nowText,
  bit,
  SIM_MODEL,
  type AutopackTarget,
  type PhaseKey,
} from './autopack-target.js';
// ---------------------------------------------------------------------------------------
// Telemetry events, and the tokens the model call spent.

export interface EstimationEvent {
  category: string;
  complexity: string;
  deliverableCount: number;
  predictedOutputTokens: number;
  actualOutputTokens: number;
  success: boolean;
}

export interface EscalationEvent {
  attemptIndex: number;
  /** The max_tokens the truncated attempt had. */
  baseValue: number;
  /** Output tokens of the truncated call (added to the phase's and run's tokens_used); null: none recorded. */
  tokensUsed: number | null;
}

const PG_ADD_TOKENS = (n: string) => `
  phase_tokens AS (
    UPDATE phases SET tokens_used = tokens_used + ${n}, updated_at = ${PG_NOW_UTC}
     WHERE run_id = $1 AND phase_id = $2 AND ${n} > 0)
  UPDATE runs SET tokens_used = tokens_used + ${n}, updated_at = ${PG_NOW_UTC} WHERE id = $1 AND ${n} > 0`;
const SQLITE_ADD_PHASE_TOKENS = `UPDATE phases SET tokens_used = tokens_used + @tokens, updated_at = @now
  WHERE run_id = @runId AND phase_id = @phaseId`;
const SQLITE_ADD_RUN_TOKENS = `UPDATE runs SET tokens_used = tokens_used + @tokens, updated_at = @now WHERE id = @runId`;

/** The budget a call was given for a prediction (Autopack selects one above the estimate). */
export const selectedBudget = (predicted: number) => Math.max(1024, Math.ceil((predicted * 1.2) / 256) * 256);

function estimationColumns(e: EstimationEvent) {
  const budget = selectedBudget(e.predictedOutputTokens);
  const p = e.predictedOutputTokens;
  const a = e.actualOutputTokens;
  return {
    category: e.category,
    complexity: e.complexity,
    deliverableCount: e.deliverableCount,
    deliverablesJson: JSON.stringify(
      Array.from({ length: e.deliverableCount }, (_, i) => `deliverable_${i + 1}`),
    ),
    predicted: p,
    actual: a,
    budget,
    success: e.success,
    smape: p + a > 0 ? (200 * Math.abs(p - a)) / (p + a) : 0,
    waste: a > 0 ? p / a : null,
    underestimated: a > p,
  };
}

/** One token_estimation_v2_events row; its actual output tokens are added to the phase and run. */
export async function insertEstimationEvent(
  t: AutopackTarget,
  key: PhaseKey,
  e: EstimationEvent,
): Promise<void> {
  const c = estimationColumns(e);
  const cols = `run_id, phase_id, timestamp, category, complexity, deliverable_count, deliverables_json,
     predicted_output_tokens, actual_output_tokens, selected_budget, actual_max_tokens, success, truncated,
     stop_reason, model, smape_percent, waste_ratio, underestimated, is_truncated_output, created_at`;
  if (isSqlite(t)) {
    const now = nowText();
    const insert = t.prepare(
      `INSERT INTO token_estimation_v2_events (${cols})
       VALUES (@runId, @phaseId, @now, @category, @complexity, @deliverableCount, @deliverablesJson, @predicted,
               @actual, @budget, @budget, @success, 0, 'end_turn', '${SIM_MODEL}', @smape, @waste,
               @underestimated, 0, @now)`,
    );
    const phase = t.prepare(SQLITE_ADD_PHASE_TOKENS);
    const run = t.prepare(SQLITE_ADD_RUN_TOKENS);
    t.transaction(() => {
      insert.run({ ...key, ...c, success: bit(c.success), underestimated: bit(c.underestimated), now });
      if (c.actual > 0) {
        phase.run({ ...key, tokens: c.actual, now });
        run.run({ ...key, tokens: c.actual, now });
      }
    }).immediate();
    return;
  }
  await pgQuery(
    t,
    `WITH event AS (
       INSERT INTO token_estimation_v2_events (${cols})
       VALUES ($1, $2, ${PG_NOW_UTC}, $3, $4, $5, $6, $7, $8::int, $9, $9, $10, false, 'end_turn', '${SIM_MODEL}',
               $11, $12, $13, false, ${PG_NOW_UTC})),
     ${PG_ADD_TOKENS('$8::int')}`,
    [
      key.runId,
      key.phaseId,
      c.category,
      c.complexity,
      c.deliverableCount,
      c.deliverablesJson,
      c.predicted,
      c.actual,
      c.budget,
      c.success,
      c.smape,
      c.waste,
      c.underestimated,
    ],
  );
}

/** Autopack's retry budget after a truncation: twice the base, at most 64k. */
export const retryMaxTokens = (base: number) => Math.min(base * 2, 64_000);

/** One token_budget_escalation_events row (a truncated attempt); its tokens are added to the phase and run. */
export async function insertEscalationEvent(
  t: AutopackTarget,
  key: PhaseKey,
  e: EscalationEvent,
): Promise<void> {
  const cols = `run_id, phase_id, timestamp, attempt_index, reason, was_truncated, output_utilization,
     escalation_factor, base_value, base_source, retry_max_tokens, selected_budget, actual_max_tokens, tokens_used`;
  const tokens = e.tokensUsed ?? 0;
  const retry = retryMaxTokens(e.baseValue);
  if (isSqlite(t)) {
    const now = nowText();
    const insert = t.prepare(
      `INSERT INTO token_budget_escalation_events (${cols})
       VALUES (@runId, @phaseId, @now, @attempt, 'truncation', 1, 1.0, 2.0, @base, 'selected_budget', @retry,
               @base, @base, @tokensUsed)`,
    );
    const phase = t.prepare(SQLITE_ADD_PHASE_TOKENS);
    const run = t.prepare(SQLITE_ADD_RUN_TOKENS);
    t.transaction(() => {
      insert.run({
        ...key,
        attempt: e.attemptIndex,
        base: e.baseValue,
        retry,
        tokensUsed: e.tokensUsed,
        now,
      });
      if (tokens > 0) {
        phase.run({ ...key, tokens, now });
        run.run({ ...key, tokens, now });
      }
    }).immediate();
    return;
  }
  await pgQuery(
    t,
    `WITH event AS (
       INSERT INTO token_budget_escalation_events (${cols})
       VALUES ($1, $2, ${PG_NOW_UTC}, $3, 'truncation', true, 1.0, 2.0, $4, 'selected_budget', $5, $4, $4, $6)),
     ${PG_ADD_TOKENS('$7::int')}`,
    [key.runId, key.phaseId, e.attemptIndex, e.baseValue, retry, e.tokensUsed, tokens],
  );
}

/** Output tokens of model calls whose telemetry rows are not written: the phase's and run's tokens_used. */
export async function addTokens(t: AutopackTarget, key: PhaseKey, tokens: number): Promise<void> {
  if (!(tokens > 0)) return;
  if (isSqlite(t)) {
    const now = nowText();
    const phase = t.prepare(SQLITE_ADD_PHASE_TOKENS);
    const run = t.prepare(SQLITE_ADD_RUN_TOKENS);
    t.transaction(() => {
      phase.run({ ...key, tokens, now });
      run.run({ ...key, tokens, now });
    }).immediate();
    return;
  }
  await pgQuery(t, `WITH ${PG_ADD_TOKENS('$3::int')}`, [key.runId, key.phaseId, tokens]);
}
