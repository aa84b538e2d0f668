/**
 * Forecasts of a drain plan from history: the telemetry events and minutes to expect per
 * planned phase and for the batch, and how far past forecasts were off. Pure: no I/O.
 *
 * History: the judged attempts of drain_attempts (status `finished` or `reconciled`: the
 * tries that reached a verdict), read by src/db/history.ts. Of each: its run, its recorded
 * `failure_category` (NULL counts as `unknown`), its telemetry events (`telemetry_events`,
 * NULL counts as 0) and its minutes (`duration_seconds` / 60, NULL counts as 0).
 *
 * Model. A planned phase (its run, and its category: the category of its
 * last_failure_reason, as the dry-run plan shows it) is forecast as the MEAN events and the
 * MEAN minutes per judged attempt of the first of these pools that holds any attempt:
 *   1. `run`      the attempts of the phase's run;
 *   2. `category` the attempts whose recorded failure_category is the phase's category;
 *   3. `global`   every judged attempt;
 * and `none` (no figure) when there is no history at all. The source used and the number of
 * attempts it rests on are part of the forecast. The batch forecast is the sum over the
 * planned phases that have a figure; phases without one are counted apart.
 *
 * Caveat of the category pool: an attempt's failure_category is the category it ENDED with
 * (a success is recorded `unknown`), so the pool of `patch` is "attempts that ended in a patch
 * failure"; a QUEUED or reason-less phase (`unknown`) is forecast from successes and reason-less
 * failures. The run pool, used whenever the run has history, has no such bias.
 *
 * Error of past forecasts (backtest). The newest BACKTEST_LIMIT judged attempts, in order of
 * start: each is forecast, with the same chain (its own run, its own recorded category), from
 * the attempts of that window that had finished before it started, and compared with what it
 * produced. Attempts without any earlier finished attempt get no forecast and are not scored.
 * Reported: n (attempts scored), the mean absolute error of events and of minutes, the mean
 * actual events and minutes of the scored attempts (relative error = MAE / mean actual), the
 * mean signed error (bias; positive: forecasts too high), and how many were forecast from each
 * source. Because the scored attempt's own recorded category is used, the category step of the
 * backtest knows how the attempt ended: where it decides, the backtest flatters the model.
 */
import { formatPlan } from './report-text.js';
import { plural, round3 } from './format.js';
import { formatTokens } from './tokens.js';
import type { FailureCategory } from './types.js';

/** Judged attempts the backtest reads at most (the newest, by start). */
export const BACKTEST_LIMIT = 1000;

const FORECAST_SOURCES = ['run', 'category', 'global', 'none'] as const;
type ForecastSource = (typeof FORECAST_SOURCES)[number];

/** Sums over a pool of judged attempts. */
interface PoolTotals {
  attempts: number;
  events: number;
  seconds: number;
  /** Tokens of the attempts with a token reading (tokens_spent), and how many had one. */
  tokens?: number;
  tokenAttempts?: number;
}

/** The pools a forecast draws from. */
interface HistoryPools {
  runs: ReadonlyMap<string, PoolTotals>;
  categories: ReadonlyMap<string, PoolTotals>;
  global: PoolTotals;
}

/** One aggregate row of src/db/history.ts forecastPools: kind run/category/global and its key. */
export interface PoolRow {
  kind: 'run' | 'category' | 'global';
  key: string;
  attempts: number;
  events: number;
  seconds: number;
  tokens?: number;
  tokenAttempts?: number;
}

export interface PhaseForecast {
  source: ForecastSource;
  /** Judged attempts of the pool used (0 for `none`). */
  basedOn: number;
  /** Mean telemetry events per attempt; null for `none`. */
  events: number | null;
  /** Mean minutes per attempt; null for `none`. */
  minutes: number | null;
  /**
   * Mean tokens per attempt of the same pool's attempts that had a token reading; null when
   * none had one ("n/a": no tokens_used column, or history from before tokens were recorded).
   */
  tokens?: number | null;
}

export interface BatchForecast {
  phases: number;
  /** Phases with a figure (source other than `none`). */
  forecast: number;
  /** Phases without one. */
  unknown: number;
  /** Sums over the phases with a figure. */
  events: number;
  minutes: number;
  /** Expected tokens: the sum over the phases with a token figure (null when none has one). */
  tokens?: number | null;
  /** Phases with a forecast but no token figure. */
  tokensUnknown?: number;
  bySource: Record<ForecastSource, number>;
}

export interface BacktestAttempt {
  runId: string;
  category: string;
  events: number;
  seconds: number;
  /** Epoch milliseconds. */
  startedAt: number;
  finishedAt: number;
}

export interface BacktestError {
  /** Judged attempts read (the window). */
  window: number;
  /** Attempts scored (they had a forecast). */
  n: number;
  maeEvents: number | null;
  maeMinutes: number | null;
  meanEvents: number | null;
  meanMinutes: number | null;
  biasEvents: number | null;
  biasMinutes: number | null;
  bySource: Record<ForecastSource, number>;
}

const emptyBySource = (): Record<ForecastSource, number> => ({ run: 0, category: 0, global: 0, none: 0 });

const empty = (): PoolTotals => ({ attempts: 0, events: 0, seconds: 0 });

/** The pools of the aggregate rows (several rows of one pool are added up). */
export function poolsFromRows(rows: readonly PoolRow[]): HistoryPools {
  const runs = new Map<string, PoolTotals>();
  const categories = new Map<string, PoolTotals>();
  const global = empty();
  for (const r of rows) {
    const target =
      r.kind === 'global'
        ? global
        : (() => {
            const m = r.kind === 'run' ? runs : categories;
            const t = m.get(r.key) ?? empty();
            m.set(r.key, t);
            return t;
          })();
    target.attempts += r.attempts;
    target.events += r.events;
    target.seconds += r.seconds;
    if (r.tokenAttempts !== undefined) {
      target.tokens = (target.tokens ?? 0) + (r.tokens ?? 0);
      target.tokenAttempts = (target.tokenAttempts ?? 0) + r.tokenAttempts;
    }
  }
  return { runs, categories, global };
}

const fromPool = (source: ForecastSource, p: PoolTotals): PhaseForecast => ({
  source,
  basedOn: p.attempts,
  events: p.events / p.attempts,
  minutes: p.seconds / 60 / p.attempts,
  // Pools read without token columns (older callers) carry no token figure at all.
  ...(p.tokenAttempts === undefined
    ? {}
    : { tokens: p.tokenAttempts ? (p.tokens ?? 0) / p.tokenAttempts : null }),
});

/** The forecast of one planned phase: run, else category, else global, else none. */
export function forecastPhase(pools: HistoryPools, runId: string, category: string): PhaseForecast {
  const run = pools.runs.get(runId);
  if (run && run.attempts > 0) return fromPool('run', run);
  const cat = pools.categories.get(category);
  if (cat && cat.attempts > 0) return fromPool('category', cat);
  if (pools.global.attempts > 0) return fromPool('global', pools.global);
  return { source: 'none', basedOn: 0, events: null, minutes: null };
}

/** The batch: sums over the phases with a figure. */
export function forecastBatch(forecasts: readonly PhaseForecast[]): BatchForecast {
  const bySource = emptyBySource();
  let events = 0;
  let minutes = 0;
  let tokens: number | null = null;
  let tokensUnknown = 0;
  const withTokens = forecasts.some((f) => f.tokens !== undefined);
  for (const f of forecasts) {
    bySource[f.source] += 1;
    if (f.events !== null && f.minutes !== null) {
      events += f.events;
      minutes += f.minutes;
      if (f.tokens === null || f.tokens === undefined) tokensUnknown += 1;
      else tokens = (tokens ?? 0) + f.tokens;
    }
  }
  return {
    phases: forecasts.length,
    forecast: forecasts.length - bySource.none,
    unknown: bySource.none,
    events,
    minutes,
    ...(withTokens ? { tokens, tokensUnknown } : {}),
    bySource,
  };
}

const add = (m: Map<string, PoolTotals>, key: string, a: BacktestAttempt) => {
  const t = m.get(key) ?? empty();
  t.attempts += 1;
  t.events += a.events;
  t.seconds += a.seconds;
  m.set(key, t);
};

/**
 * The backtest (see the module comment): attempts in any order; each is forecast from those
 * that finished strictly before it started.
 */
export function backtest(attempts: readonly BacktestAttempt[]): BacktestError {
  const byStart = attempts
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.startedAt - y.a.startedAt || x.i - y.i);
  const byFinish = attempts
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.finishedAt - y.a.finishedAt || x.i - y.i);
  const runs = new Map<string, PoolTotals>();
  const categories = new Map<string, PoolTotals>();
  const global = empty();
  const pools: HistoryPools = { runs, categories, global };
  const bySource = emptyBySource();
  let next = 0;
  let n = 0;
  let absE = 0;
  let absM = 0;
  let sumE = 0;
  let sumM = 0;
  let errE = 0;
  let errM = 0;
  for (const { a } of byStart) {
    while (next < byFinish.length && byFinish[next].a.finishedAt < a.startedAt) {
      const h = byFinish[next++].a;
      add(runs, h.runId, h);
      add(categories, h.category, h);
      global.attempts += 1;
      global.events += h.events;
      global.seconds += h.seconds;
    }
    const f = forecastPhase(pools, a.runId, a.category);
    bySource[f.source] += 1;
    if (f.events === null || f.minutes === null) continue;
    const minutes = a.seconds / 60;
    n += 1;
    absE += Math.abs(f.events - a.events);
    absM += Math.abs(f.minutes - minutes);
    errE += f.events - a.events;
    errM += f.minutes - minutes;
    sumE += a.events;
    sumM += minutes;
  }
  const mean = (s: number) => (n === 0 ? null : s / n);
  return {
    window: attempts.length,
    n,
    maeEvents: mean(absE),
    maeMinutes: mean(absM),
    meanEvents: mean(sumE),
    meanMinutes: mean(sumM),
    biasEvents: mean(errE),
    biasMinutes: mean(errM),
    bySource,
  };
}

// ---------------------------------------------------------------------------------------
// Output

/** A planned phase for the forecast (the dry run's PlannedPhase). */
interface ForecastPlanned {
  runId: string;
  phaseId: string;
  phaseIndex: number;
  category: FailureCategory | string;
}

/** The `--json` shape of `drain forecast` (numbers rounded to 3 decimals). */
export function forecastJson(
  planned: readonly ForecastPlanned[],
  forecasts: readonly PhaseForecast[],
  batch: BatchForecast,
  bt: BacktestError,
) {
  return {
    planned: planned.map((p, i) => ({
      runId: p.runId,
      phaseId: p.phaseId,
      phaseIndex: p.phaseIndex,
      category: p.category,
      forecast: {
        source: forecasts[i].source,
        basedOn: forecasts[i].basedOn,
        events: round3(forecasts[i].events),
        minutes: round3(forecasts[i].minutes),
        ...(forecasts[i].tokens === undefined ? {} : { tokens: round3(forecasts[i].tokens ?? null) }),
      },
    })),
    batch: {
      ...batch,
      events: round3(batch.events),
      minutes: round3(batch.minutes),
      ...(batch.tokens === undefined
        ? {}
        : { tokens: batch.tokens === null ? null : Math.round(batch.tokens) }),
    },
    backtest: {
      ...bt,
      maeEvents: round3(bt.maeEvents),
      maeMinutes: round3(bt.maeMinutes),
      meanEvents: round3(bt.meanEvents),
      meanMinutes: round3(bt.meanMinutes),
      biasEvents: round3(bt.biasEvents),
      biasMinutes: round3(bt.biasMinutes),
      relativeErrorEvents: relative(bt.maeEvents, bt.meanEvents),
      relativeErrorMinutes: relative(bt.maeMinutes, bt.meanMinutes),
    },
  };
}

/** MAE / mean actual, rounded to 3 decimals; null when either is missing or the mean is 0. */
export function relative(mae: number | null, mean: number | null): number | null {
  return mae === null || mean === null || mean === 0 ? null : round3(mae / mean);
}

/** The forecast columns of one plan row: events, minutes, source (with the attempts it rests on). */
const FORECAST_HEADER = ['events', 'minutes', 'forecast from'];
export function forecastCells(f: PhaseForecast): string[] {
  if (f.events === null || f.minutes === null) return ['?', '?', 'none (no history)'];
  return [f.events.toFixed(1), f.minutes.toFixed(2), `${f.source} (${plural(f.basedOn, 'attempt')})`];
}

/** The dry-run plan table (formatPlan) with the forecast columns after `category`, and its count line. */
export function formatForecastTable(
  planned: readonly ForecastPlanned[],
  forecasts: readonly PhaseForecast[],
): string {
  return formatPlan(planned, { header: FORECAST_HEADER, cells: (i) => forecastCells(forecasts[i]) });
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);

/** The lines after the plan table: the batch forecast and the error of past forecasts. */
export function formatForecastFooter(batch: BatchForecast, bt: BacktestError): string[] {
  const src = FORECAST_SOURCES.filter((s) => s !== 'none' && batch.bySource[s] > 0)
    .map((s) => `${batch.bySource[s]} from ${s} history`)
    .join(', ');
  const lines = [
    batch.forecast === 0
      ? `Forecast for the batch: unknown (no judged attempts in drain_attempts yet)`
      : `Forecast for the batch: ~${batch.events.toFixed(1)} telemetry events in ~${batch.minutes.toFixed(1)} min of drain time (${src}${batch.unknown ? `; ${batch.unknown} without history, not counted` : ''})`,
  ];
  if (bt.n === 0 || bt.maeEvents === null || bt.maeMinutes === null) {
    lines.push(
      `Error of past forecasts: not known yet (backtest of ${bt.window} judged attempt(s): none had an earlier finished attempt to forecast from)`,
    );
  } else {
    lines.push(
      `Error of past forecasts (backtest of the newest ${bt.window} judged attempts, ${bt.n} scored): ` +
        `mean absolute error ${bt.maeEvents.toFixed(2)} events per phase (mean actual ${(bt.meanEvents ?? 0).toFixed(2)}, ${pct(relative(bt.maeEvents, bt.meanEvents))}), ` +
        `${bt.maeMinutes.toFixed(2)} min per phase (mean actual ${(bt.meanMinutes ?? 0).toFixed(2)}, ${pct(relative(bt.maeMinutes, bt.meanMinutes))}); ` +
        `bias ${signed(bt.biasEvents)} events, ${signed(bt.biasMinutes)} min`,
    );
  }
  if (batch.forecast > 0 && batch.tokens !== undefined) {
    const t = batch.tokens;
    lines.push(
      t === null || t === undefined
        ? 'Expected tokens: n/a (no attempt in the history has a tokens_used reading)'
        : `Expected tokens: ~${formatTokens(t)}${batch.tokensUnknown ? ` (${batch.tokensUnknown} phase(s) without a token history, not counted)` : ''}`,
    );
  }
  return lines;
}

const signed = (x: number | null) => (x === null ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(2)}`);
