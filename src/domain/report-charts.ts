/**
 * What the charts of `drain report --html` draw (src/domain/report-html.ts): one try's fields
 * as read from drain_attempts, its outcome and colour, and the data of the five charts
 * (durations, telemetry over the session, outcomes by run, top fingerprints, tokens per
 * attempt). Pure; the data is redacted by the renderer before it gets here.
 */
import { byCodeUnit } from './report-json.js';
import { oneLine, type SummarySource } from './report-text.js';
import { formatTokens } from './tokens.js';

/** One try of the session, as read from drain_attempts. */
export interface ReportAttempt {
  id: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
  status: string;
  success: boolean | null;
  timedOut: boolean;
  durationSeconds: number | null;
  telemetryEvents: number | null;
  yieldPerMinute: number | null;
  /** Tokens the phase spent during the try (drain_attempts.tokens_spent; null: unknown, "n/a"). */
  tokensSpent: number | null;
  fingerprint: string | null;
  finalState: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

const OUTCOMES = ['succeeded', 'failed', 'timeout', 'cancelled', 'interrupted', 'running'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const OUTCOME_COLORS: Record<Outcome, string> = {
  succeeded: '#2e7d32',
  failed: '#c62828',
  timeout: '#ef6c00',
  cancelled: '#757575',
  interrupted: '#6a1b9a',
  running: '#1565c0',
};

/** Fingerprints shown in their chart; labels are cut at LABEL_MAX code points. */
export const TOP_FINGERPRINTS = 10;
const LABEL_MAX = 40;

export function outcomeOf(a: Pick<ReportAttempt, 'status' | 'success' | 'timedOut'>): Outcome {
  if (a.status === 'interrupted') return 'interrupted';
  if (a.status === 'running') return 'running';
  if (a.status === 'cancelled') return 'cancelled';
  if (a.timedOut) return 'timeout';
  return a.success === true ? 'succeeded' : 'failed';
}

/** A label cut at `max` code points. */
function clip(s: string, max = LABEL_MAX): string {
  const cps = Array.from(s);
  return cps.length <= max ? s : `${cps.slice(0, max).join('')}…`;
}

// ---------------------------------------------------------------------------------------
// Chart data

export interface ChartData {
  colors: Record<Outcome, string>;
  durations: { labels: string[]; titles: string[]; seconds: number[]; outcomes: Outcome[] };
  /** x: minutes since the session started; y: events/min of the attempt, and events so far. */
  telemetry: {
    perAttempt: Array<{ x: number; y: number }>;
    cumulative: Array<{ x: number; y: number }>;
    titles: string[];
  };
  outcomesByRun: { runs: string[]; series: Array<{ outcome: Outcome; counts: number[] }> };
  fingerprints: { labels: string[]; titles: string[]; counts: number[] };
  /**
   * A bar per try (labels and titles: those of durations): its spend (null: unknown, no bar),
   * its outcome, its tooltip line; `known`: tries whose spend is known (0: the chart is n/a).
   */
  tokens: { spent: Array<number | null>; outcomes: Outcome[]; tooltips: string[]; known: number };
}

const time = (iso: string | null): number | null => {
  const t = iso === null ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};

const attemptTitle = (a: ReportAttempt): string =>
  `${oneLine(a.runId)} / ${oneLine(a.phaseId)} attempt ${a.attempt}${a.tryNo > 1 ? ` try ${a.tryNo}` : ''}`;

function seconds(a: ReportAttempt): number {
  if (a.durationSeconds !== null) return a.durationSeconds;
  const start = time(a.startedAt);
  const end = time(a.finishedAt);
  return start !== null && end !== null ? Math.max(0, (end - start) / 1000) : 0;
}

const isFinal = (a: ReportAttempt): boolean => a.status !== 'interrupted' && a.status !== 'running';
const round2 = (n: number): number => Math.round(n * 100) / 100;

function telemetrySeries(session: SummarySource, attempts: ReportAttempt[]): ChartData['telemetry'] {
  const finals = attempts.filter((a) => isFinal(a) && time(a.startedAt) !== null);
  const first = Math.min(...finals.map((a) => time(a.startedAt) as number));
  const started = time(session.started_at);
  const t0 = started !== null && started <= first ? started : first;
  const out: ChartData['telemetry'] = { perAttempt: [], cumulative: [], titles: [] };
  let total = 0;
  for (const a of finals) {
    const x = round2(((time(a.startedAt) as number) - t0) / 60_000);
    total += a.telemetryEvents ?? 0;
    out.perAttempt.push({ x, y: a.yieldPerMinute ?? 0 });
    out.cumulative.push({ x, y: total });
    out.titles.push(attemptTitle(a));
  }
  return out;
}

function outcomesByRun(attempts: ReportAttempt[]): ChartData['outcomesByRun'] {
  const runs = [...new Set(attempts.map((a) => a.runId))].sort(byCodeUnit);
  const index = new Map(runs.map((r, i) => [r, i]));
  const series = OUTCOMES.map((outcome) => ({ outcome, counts: runs.map(() => 0) }));
  for (const a of attempts) series[OUTCOMES.indexOf(outcomeOf(a))].counts[index.get(a.runId)!] += 1;
  return { runs: runs.map((r) => oneLine(r)), series: series.filter((s) => s.counts.some((c) => c > 0)) };
}

/** The session's fingerprint counts; from the rows' failed final tries when it has none. */
function fingerprintCounts(session: SummarySource, attempts: ReportAttempt[]): Array<[string, number]> {
  let counts = Object.entries(session.fingerprint_counts ?? {}).filter(([, c]) => c > 0);
  if (counts.length === 0) {
    const fromRows = new Map<string, number>();
    for (const a of attempts) {
      if (isFinal(a) && a.fingerprint && outcomeOf(a) !== 'succeeded') {
        fromRows.set(a.fingerprint, (fromRows.get(a.fingerprint) ?? 0) + 1);
      }
    }
    counts = [...fromRows.entries()];
  }
  return counts.sort(([a, x], [b, y]) => y - x || byCodeUnit(a, b)).slice(0, TOP_FINGERPRINTS);
}

/** A spend that is known (null, negative or not finite: unknown, "n/a"). */
export const knownTokens = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

function tokensSeries(attempts: ReportAttempt[]): ChartData['tokens'] {
  const spent = attempts.map((a) => (knownTokens(a.tokensSpent) ? a.tokensSpent : null));
  const outcomes = attempts.map(outcomeOf);
  return {
    spent,
    outcomes,
    tooltips: spent.map((n, i) => (n === null ? 'n/a' : `${formatTokens(n)} tokens (${outcomes[i]})`)),
    known: spent.filter((n) => n !== null).length,
  };
}

/** What the five charts draw (exported for tests). */
export function chartData(session: SummarySource, attempts: ReportAttempt[]): ChartData {
  const fps = fingerprintCounts(session, attempts);
  return {
    colors: OUTCOME_COLORS,
    durations: {
      labels: attempts.map((_, i) => `#${i + 1}`),
      titles: attempts.map(attemptTitle),
      seconds: attempts.map((a) => round2(seconds(a))),
      outcomes: attempts.map(outcomeOf),
    },
    telemetry: telemetrySeries(session, attempts),
    outcomesByRun: outcomesByRun(attempts),
    fingerprints: {
      labels: fps.map(([fp]) => clip(oneLine(fp))),
      titles: fps.map(([fp]) => oneLine(fp)),
      counts: fps.map(([, c]) => c),
    },
    tokens: tokensSeries(attempts),
  };
}
