/** drain report --html: the pure renderer — escaping, redaction, the data it shows, no network. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import {
  chartData,
  escapeHtml,
  OUTCOME_COLORS,
  outcomeOf,
  renderReportHtml,
  scriptJson,
  TOKENS_NA_NOTE,
  type Outcome,
  type ReportAttempt,
  type ReportInput,
} from '../../src/domain/report-html.js';
import type { TokensJson } from '../../src/domain/report-json.js';
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
    tokensSpent: 1200,
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
    tokensSpent: 300,
    fingerprint: 'FAILED|rc1|patch apply failed',
    startedAt: '2026-01-01T10:03:00.000Z',
  }),
  attempt({
    id: '3',
    runId: HOSTILE,
    status: 'interrupted',
    success: null,
    durationSeconds: null,
    tokensSpent: null,
  }),
  attempt({
    id: '4',
    runId: 'run-b',
    phaseId: `p --password ${SECRET}`,
    success: false,
    timedOut: true,
    durationSeconds: 30,
    telemetryEvents: 1,
    yieldPerMinute: 2,
    tokensSpent: 45000,
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

  test('five chart canvases and a row per try', () => {
    const html = render();
    for (const id of CHARTS) {
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
    assert.equal((html.match(/No data for this chart/g) ?? []).length, 5);
    assert.ok(!html.includes(TOKENS_NA_NOTE), 'no tries: no data, not n/a');
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

const CHARTS = ['durations', 'telemetry', 'outcomes', 'fingerprints', 'tokens'];

/** The tries of ATTEMPTS with these spends (outcomes: succeeded, failed, interrupted, timeout). */
const withSpends = (spends: Array<number | null>): ReportAttempt[] =>
  ATTEMPTS.map((a, i) => ({ ...a, tokensSpent: spends[i] }));

describe('tokens per attempt', () => {
  const cases: Array<{
    name: string;
    spends: Array<number | null>;
    spent: Array<number | null>;
    tooltips: string[];
    known: number;
  }> = [
    {
      name: 'every spend known (0 is a known spend)',
      spends: [1200, 0, 7, 45000],
      spent: [1200, 0, 7, 45000],
      tooltips: [
        '1,200 tokens (succeeded)',
        '0 tokens (failed)',
        '7 tokens (interrupted)',
        '45,000 tokens (timeout)',
      ],
      known: 4,
    },
    {
      name: 'every spend unknown (a backlog without tokens_used)',
      spends: [null, null, null, null],
      spent: [null, null, null, null],
      tooltips: ['n/a', 'n/a', 'n/a', 'n/a'],
      known: 0,
    },
    {
      name: 'mixed: unknown stays null, never 0',
      spends: [1200, null, null, 45000],
      spent: [1200, null, null, 45000],
      tooltips: ['1,200 tokens (succeeded)', 'n/a', 'n/a', '45,000 tokens (timeout)'],
      known: 2,
    },
    {
      name: 'unreadable spends (negative, NaN, infinite) are unknown',
      spends: [-1, NaN, Infinity, 5],
      spent: [null, null, null, 5],
      tooltips: ['n/a', 'n/a', 'n/a', '5 tokens (timeout)'],
      known: 1,
    },
  ];
  for (const c of cases) {
    test(`chartData tokens: ${c.name}`, () => {
      const d = chartData(session(), withSpends(c.spends));
      assert.deepEqual(d.tokens.spent, c.spent);
      assert.deepEqual(d.tokens.tooltips, c.tooltips);
      assert.equal(d.tokens.known, c.known);
    });
  }

  test('the bars are coloured by outcome exactly like the durations chart', () => {
    const d = chartData(session(), ATTEMPTS);
    const expected: Outcome[] = ['succeeded', 'failed', 'interrupted', 'timeout'];
    assert.deepEqual(d.tokens.outcomes, expected);
    assert.deepEqual(d.tokens.outcomes, d.durations.outcomes);
    assert.deepEqual(
      d.tokens.outcomes.map((o) => d.colors[o]),
      [OUTCOME_COLORS.succeeded, OUTCOME_COLORS.failed, OUTCOME_COLORS.interrupted, OUTCOME_COLORS.timeout],
    );
  });

  const figure = (html: string): string =>
    html.slice(
      html.indexOf('<figure class="chart-figure" id="figure-tokens">'),
      html.indexOf('</section>', html.indexOf('id="figure-tokens"')),
    );

  test('when no try has a known spend the figure says n/a instead of drawing a zero chart', () => {
    const html = render({ attempts: withSpends([null, null, null, null]) });
    const fig = figure(html);
    assert.ok(fig.includes(escapeHtml(TOKENS_NA_NOTE)), fig);
    assert.match(TOKENS_NA_NOTE, /n\/a for this session.*phases\.tokens_used/);
    assert.ok(!html.includes('<canvas id="chart-tokens"'), 'no canvas for the tokens');
    for (const id of CHARTS.slice(0, 4)) assert.ok(html.includes(`<canvas id="chart-${id}"`), id);
    assert.ok(!fig.includes('No data for this chart'));
  });

  test('known and mixed spends draw the chart (no n/a note); the caption counts the unknown tries', () => {
    for (const [spends, caption] of [
      [[1, 2, 3, 4], /coloured by outcome<\/span>/],
      [[1200, null, null, 45000], /coloured by outcome; 2 of 4 tries n\/a \(no bar\)<\/span>/],
    ] as const) {
      const fig = figure(render({ attempts: withSpends([...spends]) }));
      assert.ok(fig.includes('<canvas id="chart-tokens"'), fig);
      assert.ok(!fig.includes(TOKENS_NA_NOTE));
      assert.match(fig, caption);
    }
  });

  test('the attempts table has a Tokens column: grouped digits, n/a when unknown', () => {
    const html = render();
    assert.ok(html.includes('<th>Yield/min</th><th>Tokens</th><th>Fingerprint</th>'));
    const tokens = [
      ...html.matchAll(
        /<tr class="outcome-[a-z]+">(?:<td[^>]*>[^<]*<\/td>){11}<td class="num">([^<]*)<\/td>/g,
      ),
    ].map((m) => m[1]);
    assert.deepEqual(tokens, ['1,200', '300', 'n/a', '45,000']);
  });

  const TOKENS: TokensJson = {
    spent: 46500,
    per_success: 46500,
    wasted: 0,
    wasted_attempts: 0,
    wasted_seconds: 0,
    unknown_attempts: 1,
  };
  const fact = (html: string): string | undefined =>
    /<dt>Tokens spent<\/dt><dd>([^<]*)<\/dd>/.exec(html)?.[1];
  for (const [name, tokens, expected] of [
    ['from the session tokens summary', TOKENS, '46,500 (46,500 per success; n/a for 1 attempt)'],
    ['without a success', { ...TOKENS, per_success: null, unknown_attempts: 0 }, '46,500'],
    [
      'some attempts unknown',
      { ...TOKENS, per_success: null, unknown_attempts: 3 },
      '46,500 (n/a for 3 attempts)',
    ],
    ['unknown spend', { ...TOKENS, spent: null, per_success: null }, 'n/a'],
    ['a session file without tokens', undefined, 'n/a'],
  ] as const) {
    test(`header fact Tokens spent: ${name}`, () => {
      assert.equal(fact(render({ session: session({ tokens }) })), expected);
    });
  }
});

/** The parts of a Chart.js config the tests read (the durations and tokens bars have them all). */
interface BarConfig {
  data: { datasets: Array<{ data: unknown[]; backgroundColor: string[] }> };
  options: {
    plugins: {
      tooltip: {
        callbacks: {
          title(items: Array<{ dataIndex: number }>): string;
          label(item: { dataIndex: number }): string;
        };
      };
    };
  };
}

interface Drawn {
  body: Record<string, string>;
  configs: Map<string, BarConfig>;
}

/** Runs the page's app script against a stub DOM and a stub Chart that records its configs. */
function runApp(html: string): Drawn {
  const app = /<script>((?:(?!<script>)[\s\S])*)<\/script>\s*<\/body>/.exec(html)![1];
  const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1];
  const canvases = new Set([...html.matchAll(/<canvas id="([^"]+)"/g)].map((m) => m[1]));
  const body: Record<string, string> = {};
  const configs: Drawn['configs'] = new Map();
  const document = {
    body: { setAttribute: (k: string, v: string) => (body[k] = v) },
    getElementById: (id: string) =>
      id === 'report-data'
        ? { textContent: data }
        : canvases.has(id) || id === 'charts'
          ? { id, appendChild: () => {} }
          : null,
    createElement: () => ({}),
  };
  function Chart(canvas: { id: string }, config: BarConfig) {
    configs.set(canvas.id.replace(/^chart-/, ''), config);
  }
  Chart.defaults = {};
  runInNewContext(app, { document, Chart, console });
  return { body, configs };
}

describe('the page script', () => {
  test('draws five charts; the tokens bars in outcome colours with the tooltip lines', () => {
    const { body, configs } = runApp(render());
    assert.equal(body['data-charts'], 'rendered');
    assert.equal(body['data-charts-drawn'], '5');
    assert.deepEqual([...configs.keys()], CHARTS);
    const tokens = configs.get('tokens')!;
    const durations = configs.get('durations')!;
    // Arrays of the script's realm: compared as copies of this one.
    assert.deepEqual([...tokens.data.datasets[0].data], [1200, 300, null, 45000]);
    const colors = [
      OUTCOME_COLORS.succeeded,
      OUTCOME_COLORS.failed,
      OUTCOME_COLORS.interrupted,
      OUTCOME_COLORS.timeout,
    ];
    assert.deepEqual([...tokens.data.datasets[0].backgroundColor], colors);
    assert.deepEqual([...durations.data.datasets[0].backgroundColor], colors);
    const cb = tokens.options.plugins.tooltip.callbacks;
    assert.equal(cb.title([{ dataIndex: 3 }]), 'run-b / p --password *** attempt 1');
    assert.equal(cb.label({ dataIndex: 3 }), '45,000 tokens (timeout)');
    assert.equal(cb.label({ dataIndex: 2 }), 'n/a');
  });

  test('with tokens n/a it draws the other four and still reports rendered', () => {
    const { body, configs } = runApp(render({ attempts: withSpends([null, null, null, null]) }));
    assert.equal(body['data-charts'], 'rendered');
    assert.equal(body['data-charts-drawn'], '4');
    assert.ok(!configs.has('tokens'));
  });
});
