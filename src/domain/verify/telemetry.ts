/** Criterion 6, Telemetry Viability: successes carry their telemetry delta, escalations their rows. */
import { TOKEN_ESCALATION_MARKER } from '../error-message.js';
import type { TryFacts, CriterionResult, VerifyFacts } from './facts.js';
import { attemptLabel, plural } from '../format.js';
import { criterion, type AttemptSet } from './shared.js';

/** Adds each table's count of `rows` together. */
export function sumByTable(rows: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { token_estimation_v2_events: 0, token_budget_escalation_events: 0 };
  for (const r of rows) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + (Number(v) || 0);
  return out;
}

const hitEscalation = (a: TryFacts): boolean =>
  (a.lastFailureReason ?? '').includes(TOKEN_ESCALATION_MARKER) ||
  (a.errorMessage ?? '').includes(TOKEN_ESCALATION_MARKER);

export function judgeTelemetry(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const successes = set.finals.filter((a) => a.success === true);
  const problems = successes
    .filter((a) => a.telemetryByTable === null)
    .map((a) => `${attemptLabel(a)}: succeeded but its telemetry delta was not captured`);
  const delta = sumByTable(successes.flatMap((a) => (a.telemetryByTable ? [a.telemetryByTable] : [])));
  const hits = set.finals.filter((a) => hitEscalation(a) || (facts.escalations[a.id] ?? 0) > 0);
  const escalations = hits.map((a) => {
    const rows = facts.escalations[a.id] ?? 0;
    if (hitEscalation(a) && rows === 0) {
      problems.push(`${attemptLabel(a)}: hit a token escalation but no token_budget_escalation_events rows`);
    }
    return { run_id: a.runId, phase_id: a.phaseId, attempt: a.attempt, rows };
  });
  const noEstimates = successes.filter(
    (a) => a.telemetryByTable && !(Number(a.telemetryByTable.token_estimation_v2_events) > 0),
  );
  const ev = {
    successful_attempts: successes.length,
    telemetry_delta: delta,
    successful_without_estimation_events: noEstimates.map(attemptLabel),
    escalations,
  };
  const rowsTotal = escalations.reduce((n, e) => n + e.rows, 0);
  const summary = `${plural(successes.length, 'successful attempt')}: +${delta.token_estimation_v2_events} token_estimation_v2_events, +${
    delta.token_budget_escalation_events
  } token_budget_escalation_events; ${plural(escalations.length, 'escalation')} (${plural(rowsTotal, 'row')})`;
  return criterion(6, successes.length > 0 || hits.length > 0, summary, ev, problems);
}
