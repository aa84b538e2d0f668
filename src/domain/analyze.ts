/**
 * `drain analyze`: what drain_attempts says about a session or a period. Pure: the facts come
 * from src/db/history.ts and the failure memory (src/db/memory.ts).
 *
 * Scope: every attempt row, or one session's, or those that started within `--since` (both
 * filters may be combined). In the scope:
 * - judged attempts (status finished or reconciled) and the share of them with at least one
 *   telemetry event;
 * - the median and nearest-rank P90 of their yield (telemetry events per minute; an attempt
 *   without events has yield 0);
 * - the most frequent failure fingerprints of judged attempts, with their attempt and run
 *   counts, and whether failure memory stops them now: a stop in force for the workspace's
 *   commit (memoryStopsInForce), which a later session on that commit would honour;
 * - runs worth another drain: runs that still have FAILED or QUEUED phases, whose judged
 *   attempts in the scope produced telemetry (events > 0, so yield > 0), and that failure
 *   memory does not stop entirely — at least one of their FAILED/QUEUED phases is not among
 *   the phases memory passes over (phasesStoppedByMemory). Sorted by their yield in the
 *   scope (events per minute of drain time), highest first; ties by run id;
 * - minutes spent on attempts that produced nothing: every try that ended (any status but
 *   running: interrupted, cancelled, lost and abandoned tries spent time too) without a
 *   telemetry event, with the sum of its duration.
 */
import { redactSecrets } from './redact.js';
import { oneLine } from './report-text.js';
import { plural, round3 } from './format.js';
import { formatTokens } from './tokens.js';

/** Fingerprints listed at most. */
export const TOP_FINGERPRINTS = 10;
/** Runs worth another drain listed at most. */
export const TOP_RUNS = 20;

export interface AnalyzeScope {
  sessionId: string | null;
  /** Attempts that started at most this long ago; null: any age. */
  sinceMs: number | null;
}

/** The scope's totals (src/db/history.ts analyzeTotals). */
export interface AnalyzeTotals {
  judged: number;
  withTelemetry: number;
  events: number;
  seconds: number;
  yieldMedian: number | null;
  yieldP90: number | null;
  emptyTries: number;
  emptySeconds: number;
  tries: number;
  /** Tokens the tries spent (null: none had a reading, e.g. no tokens_used column). */
  tokens?: number | null;
  /** Of them, spent by tries that produced no telemetry. */
  emptyTokens?: number | null;
  /** Tries with a token reading. */
  tokensKnown?: number;
}

/** Tokens of one run's tries in the scope (src/db/history.ts tokensByRun). */
export interface RunTokens {
  runId: string;
  tries: number;
  tokens: number;
  events: number;
}

export interface FingerprintCount {
  fingerprint: string;
  attempts: number;
  runs: number;
  lastSeen: string;
  /** Tokens its judged attempts spent (null: no reading). */
  tokens?: number | null;
}

export interface OpenRun {
  runId: string;
  failed: number;
  queued: number;
  /** Of the FAILED/QUEUED phases, those failure memory passes over. */
  stopped: number;
  attempts: number;
  events: number;
  seconds: number;
}

/** A stop in force (src/db/memory.ts StopInForce). */
export interface MemoryStop {
  fingerprint: string;
  sessionId: string;
  stoppedAt: string;
  commit: string | null;
}

export interface FingerprintStatus extends FingerprintCount {
  stoppedByMemory: boolean;
  /** The stop in force: who stopped it and when; null when not stopped. */
  stop: { sessionId: string; stoppedAt: string } | null;
}

export interface WorthRun {
  runId: string;
  failed: number;
  queued: number;
  stoppedByMemory: number;
  attempts: number;
  events: number;
  minutes: number;
  /** Events per minute of the run's judged attempts in the scope; null when they took no time. */
  yieldPerMinute: number | null;
}

/** The phases memory passes over and the tokens of their last failing attempts (null: none known). */
export function notSpentAgain(stopped: readonly { lastTokens?: number | null }[]): {
  phases: number;
  tokens: number | null;
} {
  const known = stopped.filter((s) => typeof s.lastTokens === 'number');
  return {
    phases: stopped.length,
    tokens: known.length ? known.reduce((n, s) => n + (s.lastTokens as number), 0) : null,
  };
}

/** Share `part / whole`, null for an empty whole. */
export const share = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

/** Each fingerprint with the memory stop in force for it, if any. */
export function fingerprintStatuses(
  counts: readonly FingerprintCount[],
  stops: readonly MemoryStop[],
): FingerprintStatus[] {
  const byFp = new Map(stops.map((s) => [s.fingerprint, s]));
  return counts.map((c) => {
    const s = byFp.get(c.fingerprint);
    return {
      ...c,
      stoppedByMemory: Boolean(s),
      stop: s ? { sessionId: s.sessionId, stoppedAt: s.stoppedAt } : null,
    };
  });
}

/** Runs worth another drain (see the module comment), best yield first. */
export function runsWorthAnotherDrain(runs: readonly OpenRun[]): WorthRun[] {
  return runs
    .filter((r) => r.events > 0 && r.failed + r.queued > r.stopped)
    .map((r) => ({
      runId: r.runId,
      failed: r.failed,
      queued: r.queued,
      stoppedByMemory: r.stopped,
      attempts: r.attempts,
      events: r.events,
      minutes: r.seconds / 60,
      yieldPerMinute: r.seconds > 0 ? r.events / (r.seconds / 60) : null,
    }))
    .sort(
      (a, b) =>
        (b.yieldPerMinute ?? -1) - (a.yieldPerMinute ?? -1) ||
        (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0),
    );
}

export interface Analysis {
  scope: { sessionId: string | null; since: string | null; commit: string | null };
  judgedAttempts: number;
  attemptsWithTelemetry: number;
  telemetryShare: number | null;
  events: number;
  minutes: number;
  yieldPerMinute: { median: number | null; p90: number | null };
  topFingerprints: FingerprintStatus[];
  runsWorthAnotherDrain: WorthRun[];
  /** How many runs qualified (the list holds at most TOP_RUNS). */
  runsWorthAnotherDrainTotal: number;
  emptyAttempts: { tries: number; minutes: number };
  /**
   * Tokens (phases.tokens_used, end − start of each try): spent in the scope, spent by tries that
   * produced no telemetry, and the runs that spent the most. spent/noTelemetry null: "n/a" (no
   * try had a reading).
   */
  tokens?: {
    spent: number | null;
    noTelemetry: number | null;
    byRun: RunTokens[];
    /**
     * Failure memory: the phases it passes over now, and what their last failing attempts
     * spent (null: none of them has a reading) — tokens not spent again, if each would fail the
     * same way once more.
     */
    notSpentAgain: { phases: number; tokens: number | null };
  };
}

/** The whole analysis; ids and fingerprints redacted, numbers rounded to 3 decimals. */
export function buildAnalysis(o: {
  scope: AnalyzeScope;
  since: string | null;
  commit: string | null;
  totals: AnalyzeTotals;
  fingerprints: readonly FingerprintCount[];
  stops: readonly MemoryStop[];
  openRuns: readonly OpenRun[];
  /** Runs by tokens spent (src/db/history.ts tokensByRun); absent: none. */
  runTokens?: readonly RunTokens[];
  /** The phases failure memory passes over, with their last attempts' tokens (memory.ts). */
  stoppedPhases?: readonly { lastTokens?: number | null }[];
}): Analysis {
  const t = o.totals;
  const worth = runsWorthAnotherDrain(o.openRuns);
  const r = (x: number) => round3(x) as number;
  return {
    scope: {
      sessionId: o.scope.sessionId === null ? null : redactSecrets(o.scope.sessionId),
      since: o.since,
      commit: o.commit,
    },
    judgedAttempts: t.judged,
    attemptsWithTelemetry: t.withTelemetry,
    telemetryShare: round3(share(t.withTelemetry, t.judged)),
    events: r(t.events),
    minutes: r(t.seconds / 60),
    yieldPerMinute: { median: round3(t.yieldMedian), p90: round3(t.yieldP90) },
    topFingerprints: fingerprintStatuses(o.fingerprints, o.stops).map((f) => ({
      ...f,
      fingerprint: redactSecrets(f.fingerprint),
      stop: f.stop && { ...f.stop, sessionId: redactSecrets(f.stop.sessionId) },
    })),
    runsWorthAnotherDrain: worth.slice(0, TOP_RUNS).map((w) => ({
      ...w,
      runId: redactSecrets(w.runId),
      events: r(w.events),
      minutes: r(w.minutes),
      yieldPerMinute: round3(w.yieldPerMinute),
    })),
    runsWorthAnotherDrainTotal: worth.length,
    emptyAttempts: { tries: t.emptyTries, minutes: r(t.emptySeconds / 60) },
    // Totals read without the token columns (older callers) carry no token figures.
    ...(t.tokensKnown === undefined
      ? {}
      : {
          tokens: {
            spent: t.tokensKnown > 0 ? (t.tokens ?? 0) : null,
            noTelemetry: t.tokensKnown > 0 ? (t.emptyTokens ?? 0) : null,
            byRun: (o.runTokens ?? []).map((x) => ({ ...x, runId: redactSecrets(x.runId) })),
            notSpentAgain: notSpentAgain(o.stoppedPhases ?? []),
          },
        }),
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, d = 2) => (x === null ? 'n/a' : x.toFixed(d));

/** The text output of `drain analyze`. */
export function formatAnalysis(a: Analysis): string {
  const scope = [
    a.scope.sessionId === null ? 'all sessions' : `session ${oneLine(a.scope.sessionId)}`,
    a.scope.since === null ? null : `attempts started in the last ${a.scope.since}`,
  ]
    .filter(Boolean)
    .join(', ');
  const lines = [
    `Analysis of ${scope}`,
    '',
    `Judged attempts: ${a.judgedAttempts}; with telemetry: ${a.attemptsWithTelemetry} (${pct(a.telemetryShare)}); ${num(a.events, 0)} events in ${num(a.minutes, 1)} min`,
    `Yield (events/min per judged attempt): median ${num(a.yieldPerMinute.median)}, P90 ${num(a.yieldPerMinute.p90)}`,
    `Attempts that produced nothing: ${a.emptyAttempts.tries} tries, ${num(a.emptyAttempts.minutes, 1)} min`,
    ...(a.tokens
      ? [
          `Tokens spent: ${formatTokens(a.tokens.spent)}; on tries that produced no telemetry: ${formatTokens(a.tokens.noTelemetry)}`,
        ]
      : []),
    '',
    `Top fingerprints (memory checked for commit ${a.scope.commit === null ? 'none: not a git checkout' : a.scope.commit.slice(0, 12)}):`,
  ];
  if (a.topFingerprints.length === 0) lines.push('  (none)');
  for (const f of a.topFingerprints) {
    const mem = f.stop
      ? `stopped by memory (session ${oneLine(f.stop.sessionId)}, ${f.stop.stoppedAt})`
      : 'not stopped';
    lines.push(`  ${String(f.attempts).padStart(4)}× ${oneLine(f.fingerprint)}`);
    const tokens = f.tokens === undefined ? '' : `${formatTokens(f.tokens)} tokens, `;
    lines.push(`        ${plural(f.runs, 'run')}, ${tokens}last ${f.lastSeen}; ${mem}`);
  }
  if (a.tokens) {
    const n = a.tokens.notSpentAgain;
    lines.push(
      '',
      `Tokens not spent again (failure memory passes over ${plural(n.phases, 'phase')}; what their last failing attempts spent): ${formatTokens(n.tokens)}`,
    );
    lines.push('', 'Tokens by run:');
  }
  if (a.tokens?.byRun.length === 0) lines.push(`  (${a.tokens.spent === null ? 'n/a' : 'none'})`);
  for (const x of a.tokens?.byRun ?? []) {
    lines.push(
      `  ${oneLine(x.runId)}: ${formatTokens(x.tokens)} tokens over ${plural(x.tries, 'try', 'tries')}, ${num(x.events, 0)} events`,
    );
  }
  lines.push('', `Runs worth another drain: ${a.runsWorthAnotherDrainTotal}`);
  if (a.runsWorthAnotherDrain.length === 0) lines.push('  (none)');
  for (const w of a.runsWorthAnotherDrain) {
    const stopped = w.stoppedByMemory ? `, ${w.stoppedByMemory} stopped by memory` : '';
    lines.push(
      `  ${oneLine(w.runId)}: ${num(w.yieldPerMinute)} events/min (${num(w.events, 0)} events in ${num(w.minutes, 1)} min over ${plural(w.attempts, 'attempt')}); ${w.failed} FAILED, ${w.queued} QUEUED${stopped}`,
    );
  }
  if (a.runsWorthAnotherDrainTotal > a.runsWorthAnotherDrain.length) {
    lines.push(`  … ${a.runsWorthAnotherDrainTotal - a.runsWorthAnotherDrain.length} more`);
  }
  return lines.join('\n');
}
