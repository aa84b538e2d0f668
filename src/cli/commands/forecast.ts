/** `drain forecast`: the dry-run plan with the telemetry events and minutes to expect, from history. */
import type { Command } from 'commander';
import type { Queryable } from '../../db/pool.js';
import { connectClient } from '../../client.js';
import { forecastPools, recentJudgedAttempts } from '../../db/history.js';
import {
  backtest,
  BACKTEST_LIMIT,
  forecastBatch,
  forecastJson,
  forecastPhase,
  formatForecastFooter,
  formatForecastTable,
  poolsFromRows,
  type BacktestError,
  type BatchForecast,
  type PhaseForecast,
} from '../../domain/forecast.js';
import { redactDeep, redactSecrets } from '../../domain/redact.js';
import { formatPlan } from '../../domain/report.js';
import type { PlannedPhase } from '../../domain/types.js';
import { withBacklogDatabase } from '../database.js';
import { temporalTarget } from '../env.js';
import { addDrainFlags, validatedDrainInput } from '../start-options.js';
import { addSessionFlags, checkSessionIdFlag, followToResult, startSession } from '../start-session.js';

const HELP = `
Runs the same dry run as \`drain start --dry-run --wait\` (a batchDrain session with dryRun:
a worker must be running; nothing is drained, no record is written) and prints its plan with
a forecast per planned phase, the forecast for the batch and the error of past forecasts.
--dry-run is implied; every other flag means what it means for drain start.

Model (src/domain/forecast.ts). History = the judged attempts of drain_attempts (status
finished or reconciled), in the database this command reads (DATABASE_URL, else this
project's embedded Postgres). A planned phase is forecast as the mean telemetry events and
the mean minutes per judged attempt of the first pool that has any:
  run       the attempts of the phase's run
  category  the attempts whose recorded failure_category is the phase's category
            (the category an attempt ended with; a success is recorded "unknown")
  global    every judged attempt
and "none" (no figure) without any history. The batch is the sum over the phases with a
figure. Error of past forecasts: the newest ${BACKTEST_LIMIT} judged attempts, each forecast in start
order from those of them that had finished before it started (same chain), against what it
produced: mean absolute error of events and minutes, the mean actual values (relative error
= MAE / mean), the bias (mean forecast minus actual) and n, the attempts scored.

--json prints
  {"sessionId", "planned": [{"runId", "phaseId", "phaseIndex", "category",
                             "forecast": {"source", "basedOn", "events", "minutes"}}],
   "skipped": [{"runId", "phaseId", "reason"}],
   "batch": {"phases", "forecast", "unknown", "events", "minutes", "bySource"},
   "backtest": {"window", "n", "maeEvents", "maeMinutes", "meanEvents", "meanMinutes",
                "biasEvents", "biasMinutes", "bySource", "relativeErrorEvents",
                "relativeErrorMinutes"}}
(numbers rounded to 3 decimals; null where unknown).

Exit codes: 0 printed; 1 Temporal or the database could not be reached, or the dry run failed;
2 bad usage; 130 interrupted.
`;

export interface PlanForecast {
  forecasts: PhaseForecast[];
  batch: BatchForecast;
  backtest: BacktestError;
}

/** The forecast of a plan and the backtest, from the history in `pool`. */
export async function forecastOfPlan(
  pool: Queryable,
  planned: readonly PlannedPhase[],
): Promise<PlanForecast> {
  const pools = poolsFromRows(
    await forecastPools(
      pool,
      planned.map((p) => p.runId),
    ),
  );
  const forecasts = planned.map((p) => forecastPhase(pools, p.runId, p.category));
  return {
    forecasts,
    batch: forecastBatch(forecasts),
    backtest: backtest(await recentJudgedAttempts(pool, BACKTEST_LIMIT)),
  };
}

const redactedPlan = (planned: readonly PlannedPhase[]): PlannedPhase[] =>
  planned.map((p) => ({ ...p, runId: redactSecrets(p.runId), phaseId: redactSecrets(p.phaseId) }));

/** The plan table with the forecast columns, then the batch and backtest lines. */
export function formatForecastPlan(planned: readonly PlannedPhase[], f: PlanForecast): string {
  const table = formatForecastTable(redactedPlan(planned), f.forecasts);
  return [table, ...formatForecastFooter(f.batch, f.backtest)].join('\n');
}

/**
 * The dry-run plan of `drain start --dry-run` with its forecast; when the history cannot be
 * read here, the plan alone and a line saying why.
 */
export async function formatPlanWithForecast(planned: readonly PlannedPhase[]): Promise<string> {
  if (planned.length === 0) return formatPlan([]);
  try {
    const f = await withBacklogDatabase((pool) => forecastOfPlan(pool, planned));
    return formatForecastPlan(planned, f);
  } catch (err) {
    const why = redactSecrets(err instanceof Error ? err.message : String(err));
    return `${formatPlan(redactedPlan(planned))}\nForecast: not available here (${why})`;
  }
}

export function registerForecast(program: Command): void {
  addSessionFlags(
    addDrainFlags(
      program
        .command('forecast')
        .description(
          'the dry-run plan with the telemetry events and minutes to expect per phase and for the batch, from past attempts, and the error of past forecasts',
        ),
    ),
  )
    .option('--json', 'print the plan, the forecast and the backtest as JSON')
    .addHelpText('after', HELP)
    .action(async (flags: Record<string, unknown>) => {
      const input = validatedDrainInput({ ...flags, dryRun: true });
      checkSessionIdFlag(flags);
      const json = Boolean(flags.json);
      const t = temporalTarget(flags as { address?: string; namespace?: string });
      const client = await connectClient(t.address, t.namespace);
      const handle = await startSession(client, input, flags, json);
      if (!json) console.log(`Dry run ${handle.workflowId} (task queue ${flags.taskQueue})`);
      const result = await followToResult(handle, json);
      if (!result) return;
      const f = await withBacklogDatabase((pool) => forecastOfPlan(pool, result.planned));
      if (json) {
        const out = forecastJson(result.planned, f.forecasts, f.batch, f.backtest);
        console.log(
          JSON.stringify(
            redactDeep({ sessionId: handle.workflowId, ...out, skipped: result.skipped }),
            null,
            2,
          ),
        );
      } else {
        console.log(formatForecastPlan(result.planned, f));
      }
    });
}
