/**
 * `drain report --html`: one self-contained HTML page of a session — the verdict of
 * `drain verify`, four charts (attempt durations, telemetry yield over the session, outcomes
 * by run, top fingerprints), the BATCH DRAIN SUMMARY and the table of attempts.
 *
 * Pure: data in, HTML string out. The charting library's browser build is passed in and
 * inlined; nothing is loaded from the network (a Content-Security-Policy allows only the
 * page's own inline scripts, by hash, and no fetches at all). Every string taken from data is
 * redacted (redactDeep) and then HTML-escaped; data for the charts travels as a JSON block
 * with `<`, `>`, `&` escaped, and the charts draw labels on canvas (never as HTML).
 */
import { createHash } from 'node:crypto';
import { redactDeep } from './redact.js';
import { byCodeUnit } from './report-json.js';
import { formatSummary, oneLine, type SummarySource } from './report-text.js';
import { capped, evidenceLines, verdictLine } from './verify-format.js';
import type { CriterionResult, VerifyResult } from './verify.js';

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
  fingerprint: string | null;
  finalState: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface ReportInput {
  session: SummarySource;
  verify: VerifyResult;
  attempts: ReportAttempt[];
  /** The charting library's browser build (Chart.js UMD): its name for the footer, its source. */
  chartLibrary: { name: string; source: string };
  /** ISO 8601 time the report was made. */
  generatedAt: string;
}

export const OUTCOMES = ['succeeded', 'failed', 'timeout', 'cancelled', 'interrupted', 'running'] as const;
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

/** What the four charts draw (exported for tests). */
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
  };
}

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
  ];
}

function chartsHtml(d: ChartData): string {
  const figures = chartSpecs(d).map(
    (s) => `<figure class="chart-figure" id="figure-${s.id}">
<figcaption><strong>${s.title}</strong> <span class="note">${s.what}</span></figcaption>
<div class="chart-box"><canvas id="chart-${s.id}" role="img" aria-label="${escapeHtml(s.title)}"></canvas></div>
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
    'Fingerprint',
    'Started',
  ];
  const rows = attempts.map(attemptRowHtml).join('\n');
  return `<section id="attempts"><h2>Attempts (${attempts.length} tries, from drain_attempts)</h2>
<div class="table-wrap"><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>\n${rows}\n</tbody></table></div></section>`;
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

/** Draws the four charts from the JSON block; marks <body data-charts="rendered|failed">. */
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
    try {
      new Chart(document.getElementById('chart-' + id), config);
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
