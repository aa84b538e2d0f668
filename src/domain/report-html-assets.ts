/**
 * The fixed parts of the `drain report --html` page (report-html.ts): the script that draws
 * its charts and its style sheet, both inlined into the page. Pure: constants only.
 */

/**
 * Draws the five charts from the JSON block (a chart whose canvas is replaced by a note, e.g.
 * tokens n/a, is skipped); marks <body data-charts="rendered|failed" data-charts-drawn="N">.
 */
export const APP_SCRIPT = `(function () {
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

/** The page's style sheet (inline: the page loads nothing). */
export const STYLE = `
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
