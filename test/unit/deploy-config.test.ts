/**
 * The deployment files: docker-compose.yml parses (docker-compose, no engine needed),
 * deploy/prometheus.yml passes promtool, and the Grafana dashboard parses, its PromQL parses
 * (promtool check rules) and uses only metric families a drain worker exports
 * (EXPORTED_METRICS, which test/e2e/metrics.test.ts checks against a real scrape).
 * The tools come from Debian packages `docker-compose` and `prometheus`; without them these
 * tests fail, naming the package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/runtime/paths.js';
import { DRAIN_METRICS, EXPORTED_METRICS } from '../../src/runtime/metrics.js';

const root = projectRoot();
const at = (...p: string[]) => path.join(root, ...p);

/** Runs a tool from a Debian package; fails naming the package when it is not installed. */
function runTool(tool: string, debPackage: string, args: string[]): string {
  const r = spawnSync(tool, args, { cwd: root, encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail(
      `${tool} is not installed: apt-get install -y ${debPackage} (Debian package "${debPackage}")`,
    );
  }
  assert.equal(r.status, 0, `${tool} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

interface Target {
  expr: string;
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: Target[];
}

function dashboardPanels(): Panel[] {
  const file = at('deploy', 'grafana', 'dashboards', 'autopack-drain.json');
  const dash = JSON.parse(readFileSync(file, 'utf8')) as { uid: string; panels: Panel[] };
  assert.equal(dash.uid, 'autopack-drain');
  return dash.panels;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool']);
const PROMQL_OPERATORS = new Set(['and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (strings, label matchers, ranges, groupings removed). */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const w = m[0];
    const isCall = /^\s*\(/.test(bare.slice(m.index! + w.length));
    if (isCall || PROMQL_WORDS.has(w) || PROMQL_OPERATORS.has(w.toLowerCase())) continue;
    names.add(w);
  }
  return [...names];
}

/** The exported family a series name belongs to (histograms: _bucket, _sum, _count), or null. */
function familyOf(series: string): string | null {
  if (EXPORTED_METRICS[series] && EXPORTED_METRICS[series] !== 'histogram') return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m && EXPORTED_METRICS[m[1]] === 'histogram' ? m[1] : null;
}

test('metricNamesOf finds the selected metrics only', () => {
  assert.deepEqual(
    metricNamesOf('histogram_quantile(0.9, sum by (le, activity_type) (rate(x_bucket{a="b(c)"}[5m])))'),
    ['x_bucket'],
  );
  assert.deepEqual(metricNamesOf('sum(rate(a_total[15m])) * 3600 / on (job) b'), ['a_total', 'b']);
});

test('docker-compose.yml parses (docker-compose config -q)', () => {
  runTool('docker-compose', 'docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
});

test('docker-compose.yml: workers export metrics on the port prometheus scrapes; deploy/ is mounted', () => {
  const compose = readFileSync(at('docker-compose.yml'), 'utf8');
  const prom = readFileSync(at('deploy', 'prometheus.yml'), 'utf8');
  const port = /DRAIN_METRICS_PORT: '(\d+)'/.exec(compose)?.[1];
  assert.ok(port, 'the worker service sets DRAIN_METRICS_PORT');
  // The endpoint binds 127.0.0.1 by default: prometheus reaches the replicas over the network.
  assert.match(compose, /DRAIN_METRICS_HOST: '0\.0\.0\.0'/, 'the worker service binds metrics on 0.0.0.0');
  assert.match(prom, new RegExp(`names: \\['worker'\\]\\s+type: A\\s+port: ${port}\\b`));
  assert.match(compose, /\.\/deploy\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml:ro/);
  assert.match(compose, /\.\/deploy\/grafana\/provisioning:\/etc\/grafana\/provisioning:ro/);
  const provider = readFileSync(
    at('deploy', 'grafana', 'provisioning', 'dashboards', 'autopack-drain.yml'),
    'utf8',
  );
  const dir = /path: (\S+)/.exec(provider)?.[1];
  assert.ok(dir && compose.includes(`./deploy/grafana/dashboards:${dir}:ro`), `dashboards mounted at ${dir}`);
  const ds = readFileSync(at('deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
  assert.match(ds, /uid: prometheus\b/);
  assert.match(ds, /url: http:\/\/prometheus:9090\b/);
});

test('deploy/prometheus.yml passes promtool check config', () => {
  runTool('promtool', 'prometheus', ['check', 'config', at('deploy', 'prometheus.yml')]);
});

test('dashboard: every expr parses (promtool check rules) and uses exported metrics only', () => {
  const exprs = dashboardPanels().flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );
  assert.ok(exprs.length > 10, 'the dashboard has queries');
  const used = new Set<string>();
  for (const { panel, expr } of exprs) {
    const names = metricNamesOf(expr);
    assert.ok(names.length > 0, `${panel}: ${expr} selects a metric`);
    for (const n of names) {
      const family = familyOf(n);
      assert.ok(family, `${panel}: ${n} in "${expr}" is not exported by a drain worker (EXPORTED_METRICS)`);
      used.add(family);
    }
  }
  for (const name of Object.keys(DRAIN_METRICS)) assert.ok(used.has(name), `the dashboard shows ${name}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drain-dash-'));
  try {
    const rules = exprs.map(
      (e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e.expr)}`,
    );
    writeFileSync(
      path.join(dir, 'rules.yml'),
      `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`,
    );
    runTool('promtool', 'prometheus', ['check', 'rules', path.join(dir, 'rules.yml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dashboard: every query panel uses the provisioned Prometheus data source', () => {
  for (const p of dashboardPanels()) {
    if (p.type === 'row') continue;
    assert.equal(p.datasource?.uid, 'prometheus', `${p.title} data source`);
  }
});
