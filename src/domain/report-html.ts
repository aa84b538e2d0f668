/**
 * `drain report --html`: one self-contained HTML page of a session — the verdict of
 * `drain verify`, five charts (attempt durations, telemetry yield over the session, outcomes
 * by run, top fingerprints, tokens per attempt), the BATCH DRAIN SUMMARY and the table of
 * attempts. Tokens are phases.tokens_used spent per try; unknown (a backlog without the
 * column) is shown as "n/a", never as 0.
 *
 * Pure: data in, HTML string out. The charting library's browser build is passed in and
 * inlined; nothing is loaded from the network (a Content-Security-Policy allows only the
 * page's own inline scripts, by hash, and no fetches at all). Every string taken from data is
 * redacted (redactDeep) and then HTML-escaped; data for the charts travels as a JSON block
 * with `<`, `>`, `&` escaped, and the charts draw labels on canvas (never as HTML).
 */
import { createHash } from 'node:crypto';
import { redactDeep } from './redact.js';
import {
  chartData,
  knownTokens,
  outcomeOf,
  TOP_FINGERPRINTS,
  type ChartData,
  type ReportAttempt,
} from './report-charts.js';
import { formatSummary, oneLine, type SummarySource } from './report-text.js';
import { formatTokens } from './tokens.js';
import { capped, evidenceLines, verdictLine } from './verify-format.js';
import { APP_SCRIPT, STYLE } from './report-html-assets.js';
import type { CriterionResult, VerifyResult } from './verify.js';

// The chart data lives in report-charts.ts; re-exported for report-facts.ts and the tests.
export { chartData, OUTCOME_COLORS, outcomeOf, type Outcome, type ReportAttempt } from './report-charts.js';

export interface ReportInput {
  session: SummarySource;
  verify: VerifyResult;
  attempts: ReportAttempt[];
  /** The charting library's browser build (Chart.js UMD): its name for the footer, its source. */
  chartLibrary: { name: string; source: string };
  /** ISO 8601 time the report was made. */
  generatedAt: string;
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in HTML content and in quoted attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** One display line of data, HTML-escaped (control and bidi characters shown as \uXXXX). */
const text = (s: unknown): string => escapeHtml(oneLine(s === null || s === undefined ? '' : String(s)));

/** JSON for a `<script type="application/json">` block: `<`, `>`, `&`, U+2028/9 as \uXXXX. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Script source that cannot end its `<script>` element early. */
const inlineScript = (source: string): string => source.replace(/<\/(script)/gi, '<\\/$1');

const sha256 = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

// ---------------------------------------------------------------------------------------
// HTML parts

const STATUS_CLASS: Record<string, string> = { PASS: 'pass', FAIL: 'fail', 'N/A': 'na' };

/** Evidence bullets of a criterion (verify-format's lines), nested by their indent. */
function evidenceHtml(c: CriterionResult): string {
  const items = evidenceLines(c.evidence, '').map((line) => {
    const m = /^( *)- (.*)$/.exec(line);
    const depth = m ? Math.floor(m[1].length / 2) : 0;
    return `<li class="depth-${depth}">${text(m ? m[2] : line)}</li>`;
  });
  return items.length > 0 ? `<ul class="evidence">${items.join('')}</ul>` : '';
}

function criterionHtml(c: CriterionResult): string {
  const cls = STATUS_CLASS[c.status] ?? 'na';
  const problems = capped(c.problems, (n) => `… and ${n} more problems`);
  const problemsHtml =
    problems.length > 0
      ? `<ul class="problems">${problems.map((p) => `<li>${text(p)}</li>`).join('')}</ul>`
      : '';
  return `<li class="criterion ${cls}" data-criterion="${c.id}">
<div class="criterion-head"><span class="badge ${cls}">${text(c.status)}</span>
<strong>${c.id}. ${text(c.title)}</strong> — ${text(c.summary)}</div>
${evidenceHtml(c)}${problemsHtml}</li>`;
}

function verdictHtml(v: VerifyResult): string {
  const cls = v.verdict === 'PASS' ? 'pass' : 'fail';
  return `<section id="verdict">
<h2>Verdict of <code>drain verify</code></h2>
<p class="verdict ${cls}" data-verdict="${cls}">${text(verdictLine(v))}</p>
<p class="note">The reliability plan's six acceptance criteria, judged from the session's records; N/A counts as passing.</p>
<ol class="criteria">${v.criteria.map(criterionHtml).join('\n')}</ol>
</section>`;
}

interface ChartSpec {
  id: string;
  title: string;
  what: string;
  empty: boolean;
  /** Shown instead of the canvas: the chart has nothing it could draw. */
  instead?: string;
}

/** Shown instead of the tokens chart when no try's spend is known (never a chart of zeros). */
export const TOKENS_NA_NOTE =
  'Tokens: n/a for this session — no try has a known spend (the backlog has no phases.tokens_used column).';

function tokensSpec(d: ChartData): ChartSpec {
  const n = d.tokens.spent.length;
  const unknown = n - d.tokens.known;
  const partly = unknown > 0 && d.tokens.known > 0 ? `; ${unknown} of ${n} tries n/a (no bar)` : '';
  return {
    id: 'tokens',
    title: 'Tokens per attempt',
    what: `phases.tokens_used spent per try, coloured by outcome${partly}`,
    empty: n === 0,
    instead: n > 0 && d.tokens.known === 0 ? TOKENS_NA_NOTE : undefined,
  };
}

function chartSpecs(d: ChartData): ChartSpec[] {
  return [
    {
      id: 'durations',
      title: 'Attempt durations',
      what: 'seconds per try, coloured by outcome',
      empty: d.durations.seconds.length === 0,
    },
    {
      id: 'telemetry',
      title: 'Telemetry yield over the session',
      what: 'events/minute of each attempt and events collected so far, by attempt start (minutes into the session)',
      empty: d.telemetry.perAttempt.length === 0,
    },
    {
      id: 'outcomes',
      title: 'Outcomes by run',
      what: 'tries per run, stacked by outcome',
      empty: d.outcomesByRun.runs.length === 0,
    },
    {
      id: 'fingerprints',
      title: `Top ${TOP_FINGERPRINTS} failure fingerprints`,
      what: 'failures per fingerprint',
      empty: d.fingerprints.counts.length === 0,
    },
    tokensSpec(d),
  ];
}

function chartsHtml(d: ChartData): string {
  const figures = chartSpecs(d).map(
    (s) => `<figure class="chart-figure" id="figure-${s.id}">
<figcaption><strong>${s.title}</strong> <span class="note">${escapeHtml(s.what)}</span></figcaption>
${
  s.instead
    ? `<p class="empty chart-na" id="chart-${s.id}-na">${escapeHtml(s.instead)}</p>`
    : `<div class="chart-box"><canvas id="chart-${s.id}" role="img" aria-label="${escapeHtml(s.title)}"></canvas></div>`
}
${s.empty ? '<p class="empty">No data for this chart in this session.</p>' : ''}</figure>`,
  );
  return `<section id="charts"><h2>Charts</h2><div class="chart-grid">\n${figures.join('\n')}\n</div></section>`;
}

const cell = (v: unknown, cls = ''): string => `<td${cls ? ` class="${cls}"` : ''}>${text(v)}</td>`;
const fixed = (n: number | null, digits: number): string => (n === null ? '' : n.toFixed(digits));

function attemptRowHtml(a: ReportAttempt, i: number): string {
  const outcome = outcomeOf(a);
  return `<tr class="outcome-${outcome}">${[
    cell(i + 1, 'num'),
    cell(a.runId),
    cell(a.phaseId),
    cell(a.attempt, 'num'),
    cell(a.tryNo, 'num'),
    cell(outcome),
    cell(a.status),
    cell(a.finalState),
    cell(fixed(a.durationSeconds, 1), 'num'),
    cell(a.telemetryEvents ?? '', 'num'),
    cell(fixed(a.yieldPerMinute, 2), 'num'),
    cell(formatTokens(a.tokensSpent), 'num'),
    cell(a.fingerprint),
    cell(a.startedAt),
  ].join('')}</tr>`;
}

function attemptsHtml(attempts: ReportAttempt[]): string {
  const head = [
    '#',
    'Run',
    'Phase',
    'Attempt',
    'Try',
    'Outcome',
    'Status',
    'Final state',
    'Seconds',
    'Events',
    'Yield/min',
    'Tokens',
    'Fingerprint',
    'Started',
  ];
  const rows = attempts.map(attemptRowHtml).join('\n');
  return `<section id="attempts"><h2>Attempts (${attempts.length} tries, from drain_attempts)</h2>
<div class="table-wrap"><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>\n${rows}\n</tbody></table></div></section>`;
}

/** The session's tokens summary (its JSON's `tokens`): spent, per success; "n/a" when unknown. */
function tokensFact(s: SummarySource): string {
  const t = s.tokens;
  if (!t || !knownTokens(t.spent)) return 'n/a';
  const n = t.unknown_attempts;
  const notes = [
    ...(knownTokens(t.per_success) ? [`${formatTokens(t.per_success)} per success`] : []),
    ...(n > 0 ? [`n/a for ${n} attempt${n === 1 ? '' : 's'}`] : []),
  ];
  return notes.length > 0 ? `${formatTokens(t.spent)} (${notes.join('; ')})` : formatTokens(t.spent);
}

function headerHtml(s: SummarySource, v: VerifyResult, generatedAt: string): string {
  const cls = v.verdict === 'PASS' ? 'pass' : 'fail';
  const facts: Array<[string, unknown]> = [
    ['Status', s.status],
    ['Started', s.started_at],
    ['Completed', s.completed_at ?? 'in progress'],
    [
      'Processed',
      `${s.total_processed} (${s.total_success} succeeded, ${s.total_failed} failed, ${s.total_timeouts} timeouts)`,
    ],
    ['Telemetry events', s.total_telemetry_events],
    ['Tokens spent', tokensFact(s)],
    ['Report generated', generatedAt],
  ];
  return `<header><h1>Drain report <span class="badge ${cls}">${v.verdict}</span></h1>
<p class="session-id">Session <code id="session-id">${text(s.session_id)}</code></p>
<dl class="facts">${facts.map(([k, x]) => `<dt>${k}</dt><dd>${text(x)}</dd>`).join('')}</dl></header>`;
}

const summaryHtml = (s: SummarySource): string =>
  `<section id="summary"><h2>BATCH DRAIN SUMMARY</h2><pre class="summary">${escapeHtml(formatSummary(s))}</pre></section>`;

// ---------------------------------------------------------------------------------------
// The page

/** The whole page. */
export function renderReportHtml(input: ReportInput): string {
  const session = redactDeep(input.session);
  const verify = redactDeep(input.verify);
  const attempts = redactDeep(input.attempts);
  const library = inlineScript(input.chartLibrary.source);
  const app = inlineScript(APP_SCRIPT);
  const charts = chartData(session, attempts);
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(library)} ${sha256(app)}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drain report — ${text(session.session_id)}</title>
<style>${STYLE}</style>
</head>
<body data-charts="pending">
${headerHtml(session, verify, input.generatedAt)}
${verdictHtml(verify)}
${chartsHtml(charts)}
${summaryHtml(session)}
${attemptsHtml(attempts)}
<footer>Made by <code>drain report --html</code>. Charts: ${text(input.chartLibrary.name)} (MIT License), inlined; this file loads nothing from the network.</footer>
<script type="application/json" id="report-data">${scriptJson(charts)}</script>
<script>${library}</script>
<script>${app}</script>
</body>
</html>
`;
}
