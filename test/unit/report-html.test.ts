/** drain report --html: the pure renderer — escaping, redaction, the data it shows, no network. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chartData,
  escapeHtml,
  outcomeOf,
  renderReportHtml,
  scriptJson,
  type ReportAttempt,
  type ReportInput,
} from '../../src/domain/report-html.js';
import type { SummarySource } from '../../src/domain/report-text.js';
import { CRITERIA_TITLES, type CriterionStatus, type VerifyResult } from '../../src/domain/verify.js';

const HOSTILE = '<script>alert(1)</script>';
const SESSION_ID = `s-"&'<b>-🚀`;
const SECRET = 's3cr3t-pw-value';

function attempt(over: Partial<ReportAttempt> = {}): ReportAttempt {
  return {
    id: '1',
    runId: 'run-a',
    phaseId: 'p1',
    attempt: 1,
    tryNo: 1,
    status: 'finished',
    success: true,
    timedOut: false,
    durationSeconds: 12.5,
    telemetryEvents: 3,
    yieldPerMinute: 14.4,
    fingerprint: null,
    finalState: 'COMPLETE',
    startedAt: '2026-01-01T10:01:00.000Z',
    finishedAt: '2026-01-01T10:01:12.500Z',
    ...over,
  };
}

const ATTEMPTS: ReportAttempt[] = [
  attempt(),
  attempt({
    id: '2',
    runId: HOSTILE,
    phaseId: `"><img src="http://evil.example/x.png">`,
    success: false,
    finalState: 'FAILED',
    durationSeconds: 4,
    telemetryEvents: 0,
    yieldPerMinute: 0,
    fingerprint: 'FAILED|rc1|patch apply failed',
    startedAt: '2026-01-01T10:03:00.000Z',
  }),
  attempt({ id: '3', runId: HOSTILE, status: 'interrupted', success: null, durationSeconds: null }),
  attempt({
    id: '4',
    runId: 'run-b',
    phaseId: `p --password ${SECRET}`,
    success: false,
    timedOut: true,
    durationSeconds: 30,
    telemetryEvents: 1,
    yieldPerMinute: 2,
    fingerprint: 'TIMEOUT|timeout',
    startedAt: '2026-01-01T10:05:00.000Z',
  }),
];

function session(over: Partial<SummarySource> = {}): SummarySource {
  return {
    session_id: SESSION_ID,
    started_at: '2026-01-01T10:00:00.000Z',
    completed_at: '2026-01-01T10:06:00.000Z',
    status: 'completed',
    generation: 0,
    batch_size: 10,
    total_processed: 3,
    total_success: 1,
    total_failed: 2,
    total_timeouts: 1,
    total_cancelled: 0,
    total_interrupted: 1,
    total_telemetry_events: 4,
    total_telemetry_global_delta: 4,
    total_drain_seconds: 46.5,
    overall_yield_per_minute: 5.16,
    fingerprint_counts: { 'FAILED|rc1|patch apply failed': 1, 'TIMEOUT|timeout': 1, [HOSTILE]: 3 },
    stopped_fingerprints: [],
    stopped_runs: [HOSTILE],
    stopped_run_reasons: { [HOSTILE]: `repeat limit; DSN postgres://u:${SECRET}@db/x` },
    consecutive_zero_yield: 0,
    sampled_runs: [],
    promising_runs: [],
    deprioritized_runs: [],
    zero_yield_reasons: {},
    llm_boundary_hits: 0,
    stop_reason: 'batch size reached (3)',
    skipped: [],
    results: [],
    interrupted_attempts: [],
    in_progress: [],
    ...over,
  };
}

function verify(statuses: CriterionStatus[] = ['PASS', 'FAIL', 'PASS', 'N/A', 'PASS', 'PASS']): VerifyResult {
  return {
    sessionId: SESSION_ID,
    verdict: statuses.includes('FAIL') ? 'FAIL' : 'PASS',
    criteria: statuses.map((status, i) => ({
      id: i + 1,
      title: CRITERIA_TITLES[i],
      status,
      summary: `summary of ${i + 1} <i>`,
      evidence: { attempts: 4, retried: [{ run_id: HOSTILE, phase_id: 'p1' }] },
      problems: status === 'FAIL' ? [`${HOSTILE} attempt 1: "Unknown error"`] : [],
    })),
  };
}

const LIBRARY = { name: 'Chart.js vTEST', source: 'window.Chart = function () {}; // </script> inside' };

function render(over: Partial<ReportInput> = {}): string {
  return renderReportHtml({
    session: session(),
    verify: verify(),
    attempts: ATTEMPTS,
    chartLibrary: LIBRARY,
    generatedAt: '2026-01-01T11:00:00.000Z',
    ...over,
  });
}

describe('escaping', () => {
  test('escapeHtml escapes the five HTML specials and keeps emoji', () => {
    assert.equal(escapeHtml(`<a href="x">&'🚀`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;🚀');
  });

  test('scriptJson cannot close its script element', () => {
    const s = scriptJson({ a: '</script><!-- & \u2028' });
    assert.doesNotMatch(s, /[<>&\u2028]/);
    assert.deepEqual(JSON.parse(s), { a: '</script><!-- & \u2028' });
  });

  test('a hostile run id is rendered as text, never as markup', () => {
    const html = render();
    assert.ok(!html.includes(HOSTILE), 'the raw <script> never appears');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'it appears escaped');
    assert.equal((html.match(/<script\b/g) ?? []).length, 3, 'the data block, the library, the app');
    assert.doesNotMatch(html, /<img\b/, 'an injected attribute cannot open a tag');
    assert.ok(html.includes('<\\/script> inside'), 'the inlined library cannot end its element');
  });

  test('the session id with quotes, ampersands and emoji is escaped everywhere', () => {
    const html = render();
    assert.ok(!html.includes(SESSION_ID));
    assert.ok(html.includes('s-&quot;&amp;&#39;&lt;b&gt;-🚀'));
    assert.match(html, /<title>Drain report — s-&quot;&amp;&#39;&lt;b&gt;-🚀<\/title>/);
  });
});

describe('no network', () => {
  test('no external script, style, image or link', () => {
    const html = render();
    assert.doesNotMatch(html, /src="http/i);
    assert.doesNotMatch(html, /href="http/i);
    assert.doesNotMatch(html, /<link\b/i);
    assert.doesNotMatch(html, /@import|url\(/i);
  });

  test('a Content-Security-Policy allows only the inline scripts and no fetches', () => {
    const html = render();
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src &#39;none&#39;/);
    assert.equal((csp.match(/sha256-/g) ?? []).length, 2);
  });
});

describe('redaction', () => {
  test('secrets from rows, the session JSON and the verdict never reach the page', () => {
    const html = render({
      verify: {
        ...verify(),
        criteria: verify().criteria.map((c) => ({ ...c, summary: `PGPASSWORD=${SECRET}` })),
      },
    });
    assert.ok(!html.includes(SECRET), 'the secret is gone');
    assert.ok(html.includes('***'), 'replaced by ***');
  });
});

describe('contents', () => {
  test('the summary, the verdict and every criterion with its status and evidence', () => {
    const html = render();
    assert.ok(html.includes('BATCH DRAIN SUMMARY'));
    assert.ok(html.includes('Total Processed: 3'));
    assert.ok(html.includes('Verdict: FAIL (criterion 2 failed)'));
    for (const title of CRITERIA_TITLES) assert.ok(html.includes(escapeHtml(title)), title);
    const criteria = html.slice(html.indexOf('<ol class="criteria">'), html.indexOf('</ol>'));
    assert.equal((criteria.match(/class="badge pass">PASS</g) ?? []).length, 4);
    assert.equal((criteria.match(/class="badge fail">FAIL</g) ?? []).length, 1);
    assert.equal((criteria.match(/class="badge na">N\/A</g) ?? []).length, 1);
    assert.match(html, /<h1>Drain report <span class="badge fail">FAIL<\/span>/);
    assert.ok(html.includes('summary of 1 &lt;i&gt;'));
    assert.ok(html.includes('attempts: 4'), 'evidence');
    assert.ok(
      html.includes('&lt;script&gt;alert(1)&lt;/script&gt; attempt 1: &quot;Unknown error&quot;'),
      'problem',
    );
  });

  test('four chart canvases and a row per try', () => {
    const html = render();
    for (const id of ['durations', 'telemetry', 'outcomes', 'fingerprints']) {
      assert.ok(html.includes(`<canvas id="chart-${id}"`), id);
    }
    assert.equal((html.match(/<tr class="outcome-/g) ?? []).length, ATTEMPTS.length);
    assert.ok(html.includes('<tr class="outcome-timeout">'));
    assert.ok(html.includes('Chart.js vTEST'));
  });

  test('a passing session shows PASS and no empty-chart note when every chart has data', () => {
    const html = render({ verify: verify(['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS']) });
    assert.ok(html.includes('Verdict: PASS (6/6 criteria)'));
    assert.ok(html.includes('data-verdict="pass"'));
    assert.ok(!html.includes('No data for this chart'));
  });

  test('an empty session still renders, with notes for the empty charts', () => {
    const html = render({ attempts: [], session: session({ fingerprint_counts: {} }) });
    assert.equal((html.match(/No data for this chart/g) ?? []).length, 4);
  });
});

describe('chart data', () => {
  test('outcomes, durations, telemetry over time, outcomes by run, top fingerprints', () => {
    const d = chartData(session(), ATTEMPTS);
    assert.deepEqual(d.durations.outcomes, ['succeeded', 'failed', 'interrupted', 'timeout']);
    assert.deepEqual(
      d.durations.seconds,
      [12.5, 4, 12.5, 30],
      'a missing duration comes from the timestamps',
    );
    assert.equal(d.durations.titles[0], 'run-a / p1 attempt 1');
    // Interrupted tries are not attempts of their own in the telemetry line.
    assert.deepEqual(d.telemetry.perAttempt, [
      { x: 1, y: 14.4 },
      { x: 3, y: 0 },
      { x: 5, y: 2 },
    ]);
    assert.deepEqual(
      d.telemetry.cumulative.map((p) => p.y),
      [3, 3, 4],
    );
    assert.deepEqual(d.outcomesByRun.runs, [HOSTILE, 'run-a', 'run-b']);
    assert.deepEqual(
      d.outcomesByRun.series.map((s) => [s.outcome, s.counts]),
      [
        ['succeeded', [0, 1, 0]],
        ['failed', [1, 0, 0]],
        ['timeout', [0, 0, 1]],
        ['interrupted', [1, 0, 0]],
      ],
    );
    assert.deepEqual(d.fingerprints.titles, [HOSTILE, 'FAILED|rc1|patch apply failed', 'TIMEOUT|timeout']);
    assert.deepEqual(d.fingerprints.counts, [3, 1, 1]);
  });

  test('fingerprints come from the rows when the session JSON has none', () => {
    const d = chartData(session({ fingerprint_counts: {} }), ATTEMPTS);
    assert.deepEqual(d.fingerprints.titles, ['FAILED|rc1|patch apply failed', 'TIMEOUT|timeout']);
  });

  test('outcomeOf', () => {
    assert.equal(outcomeOf({ status: 'cancelled', success: false, timedOut: false }), 'cancelled');
    assert.equal(outcomeOf({ status: 'running', success: null, timedOut: false }), 'running');
    assert.equal(outcomeOf({ status: 'reconciled', success: true, timedOut: false }), 'succeeded');
    assert.equal(outcomeOf({ status: 'finished', success: null, timedOut: false }), 'failed');
  });
});
