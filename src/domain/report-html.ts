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
import type { CriterionResult, VerifyResult } from './verify.js';

// The chart data lives in report-charts.ts; re-exported for report-facts.ts and the tests.
export {
  chartData,
  OUTCOME_COLORS,
  OUTCOMES,
  outcomeOf,
  TOP_FINGERPRINTS,
  type ChartData,
  type Outcome,
  type ReportAttempt,
} from './report-charts.js';

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

/**
 * Draws the five charts from the JSON block (a chart whose canvas is replaced by a note, e.g.
 * tokens n/a, is skipped); marks <body data-charts="rendered|failed" data-charts-drawn="N">.
 */
const APP_SCRIPT = `(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var c = data.colors;
  var failures = [];
  var drawn = 0;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  function titleFrom(list) {
    return function (items) { return items.length ? list[items[0].dataIndex] : ''; };
  }
  function draw(id, config) {
    var canvas = document.getElementById('chart-' + id);
    if (!canvas) return;
    try {
      new Chart(canvas, config);
      drawn += 1;
    } catch (err) {
      failures.push(id + ': ' + (err && err.message ? err.message : String(err)));
      console.error('chart ' + id + ' failed:', err);
    }
  }
  var d = data.durations;
  draw('durations', {
    type: 'bar',
    data: { labels: d.labels, datasets: [{ label: 'seconds', data: d.seconds,
      backgroundColor: d.outcomes.map(function (o) { return c[o]; }) }] },
    options: { plugins: { legend: { display: false }, tooltip: { callbacks: {
      title: titleFrom(d.titles), label: function (i) { return i.parsed.y + ' s (' + d.outcomes[i.dataIndex] + ')'; } } } },
      scales: { x: { title: { display: true, text: 'try' } }, y: { beginAtZero: true, title: { display: true, text: 'seconds' } } } }
  });
  var t = data.telemetry;
  draw('telemetry', {
    type: 'line',
    data: { datasets: [
      { label: 'events/min of the attempt', data: t.perAttempt, borderColor: '#1565c0', backgroundColor: '#1565c0', yAxisID: 'y', tension: 0 },
      { label: 'events so far', data: t.cumulative, borderColor: '#2e7d32', backgroundColor: '#2e7d32', borderDash: [6, 3], yAxisID: 'y2', stepped: true }
    ] },
    options: { plugins: { tooltip: { callbacks: { title: titleFrom(t.titles) } } },
      scales: { x: { type: 'linear', title: { display: true, text: 'minutes into the session' } },
        y: { beginAtZero: true, title: { display: true, text: 'events/min' } },
        y2: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'events' } } } }
  });
  var r = data.outcomesByRun;
  draw('outcomes', {
    type: 'bar',
    data: { labels: r.runs, datasets: r.series.map(function (s) {
      return { label: s.outcome, data: s.counts, backgroundColor: c[s.outcome] }; }) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'tries' } } } }
  });
  var f = data.fingerprints;
  draw('fingerprints', {
    type: 'bar',
    data: { labels: f.labels, datasets: [{ label: 'failures', data: f.counts, backgroundColor: c.failed }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false }, tooltip: { callbacks: { title: titleFrom(f.titles) } } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  var k = data.tokens;
  draw('tokens', {
    type: 'bar',
    data: { labels: d.labels, datasets: [{ label: 'tokens', data: k.spent,
      backgroundColor: k.outcomes.map(function (o) { return c[o]; }) }] },
    options: { plugins: { legend: { display: false }, tooltip: { callbacks: {
      title: titleFrom(d.titles), label: function (i) { return k.tooltips[i.dataIndex]; } } } },
      scales: { x: { title: { display: true, text: 'try' } }, y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'tokens' } } } }
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
  document.body.setAttribute('data-charts', failures.length ? 'failed' : 'rendered');
  if (failures.length) {
    var p = document.createElement('p');
    p.className = 'chart-error';
    p.textContent = 'Charts failed: ' + failures.join('; ');
    document.getElementById('charts').appendChild(p);
  }
})();`;

const STYLE = `
:root { color-scheme: light; --pass: #2e7d32; --fail: #c62828; --na: #757575; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0; padding: 24px 32px; color: #1f2328; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; padding: 1px 8px; border-radius: 10px; color: #fff; vertical-align: middle; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.na { background: var(--na); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; } .facts dt { color: #57606a; } .facts dd { margin: 0; }
.verdict { font-size: 16px; font-weight: 700; } .verdict.pass { color: var(--pass); } .verdict.fail { color: var(--fail); }
.note { color: #57606a; font-weight: normal; }
.criteria { padding-left: 0; list-style: none; } .criterion { border-left: 4px solid var(--na); padding: 6px 10px; margin: 8px 0; background: #f6f8fa; }
.criterion.pass { border-color: var(--pass); } .criterion.fail { border-color: var(--fail); }
.criterion ul { margin: 4px 0 0; padding-left: 20px; } .evidence .depth-1 { margin-left: 20px; } .evidence .depth-2 { margin-left: 40px; }
.problems li { color: var(--fail); }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.chart-figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px; }
.chart-box { position: relative; height: 300px; } .empty { color: #57606a; font-style: italic; } .chart-error { color: var(--fail); font-weight: 700; }
pre.summary { background: #f6f8fa; border: 1px solid var(--line); padding: 12px; overflow-x: auto; }
.table-wrap { overflow-x: auto; } table { border-collapse: collapse; font-size: 12px; } th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; white-space: nowrap; }
td.num { text-align: right; } tr.outcome-failed td, tr.outcome-timeout td { background: #fff5f5; }
footer { margin-top: 28px; color: #57606a; font-size: 12px; }
`;

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
