import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SNAPSHOT_COLUMNS,
  scopeWhere,
  tablesNamedIn,
  toPgValue,
  withSnapshots,
  type BacklogTable,
} from '../../src/db/backlog-snapshot.js';
import { fromNaiveUtc, naiveUtcText } from '../../src/db/autopack-time.js';

test('tablesNamedIn: Autopack tables a statement reads, not our drain_* tables or index names', () => {
  const cases: Array<[string, string[]]> = [
    ['SELECT * FROM drain_attempts WHERE run_id = $1', []],
    ['SELECT p.state FROM phases p JOIN runs r ON r.id = p.run_id', ['phases', 'runs']],
    ['SELECT 1 FROM phases_failed_rank_idx, drain_runs', []],
    ['JOIN token_budget_escalation_events e ON true', ['token_budget_escalation_events']],
    ['SELECT :blockedRuns::text[]', []],
    ["SELECT 'run ' || p.run_id || ' has queued phases (skip-runs-with-queued)' FROM phases p", ['phases']],
    ["SELECT 1 -- runs this session's other slots are draining\nFROM phases", ['phases']],
    ["SELECT 'it''s runs' FROM drain_attempts", []],
  ];
  for (const [sql, want] of cases) assert.deepEqual(tablesNamedIn(sql).sort(), want.sort(), sql);
});

test('tablesNamedIn: a statement writing Autopack tables is refused (writes go to the backlog itself)', () => {
  for (const sql of [
    "UPDATE phases SET state = 'FAILED'",
    'insert  into runs (id) VALUES ($1)',
    'DELETE FROM token_estimation_v2_events',
    'WITH x AS (SELECT 1) UPDATE phases SET state = $1',
  ])
    assert.throws(() => tablesNamedIn(sql), /must go to the backlog/, sql);
});

test('withSnapshots: CTEs in front, numbered after the statement parameters, merged into a WITH', () => {
  const cols = SNAPSHOT_COLUMNS.runs;
  const arrays = cols.map(() => []);
  const tables = new Map<BacklogTable, unknown[][]>([['runs', arrays]]);
  const plain = withSnapshots('SELECT id FROM runs WHERE id = $1', ['r1'], tables);
  assert.match(plain.text, /^WITH runs AS \(SELECT c0 AS id, /);
  assert.match(plain.text, /c2::timestamp AS created_at/);
  assert.match(plain.text, /unnest\(\$2::text\[\], \$3::text\[\], \$4::text\[\]/);
  assert.equal(plain.values.length, 1 + cols.length);
  assert.equal(plain.values[0], 'r1');
  assert.ok(plain.text.endsWith('SELECT id FROM runs WHERE id = $1'));

  const withed = withSnapshots('  WITH a AS (SELECT 1) SELECT * FROM a, runs', [], tables);
  assert.match(withed.text, /^WITH runs AS \(.*\),\na AS \(SELECT 1\) SELECT \* FROM a, runs$/s);
  const recursive = withSnapshots('WITH RECURSIVE a(n) AS (SELECT 1) SELECT * FROM a, runs', [], tables);
  assert.match(recursive.text, /^WITH RECURSIVE runs AS \(/);
  assert.deepEqual(withSnapshots('SELECT 1', [7], new Map()), { text: 'SELECT 1', values: [7] });
});

test('scopeWhere: each table filtered only by the columns it has', () => {
  const scope = { runId: 'r', phaseId: 'p', phaseStates: ['FAILED', 'QUEUED'] };
  assert.deepEqual(scopeWhere('phases', scope), {
    where: 'WHERE run_id = ? AND phase_id = ? AND state IN (?, ?)',
    values: ['r', 'p', 'FAILED', 'QUEUED'],
  });
  assert.deepEqual(scopeWhere('runs', scope), { where: 'WHERE id = ?', values: ['r'] });
  assert.deepEqual(scopeWhere('token_estimation_v2_events', { runId: 'r', phaseId: 'p' }), {
    where: 'WHERE run_id = ? AND phase_id = ?',
    values: ['r', 'p'],
  });
  assert.deepEqual(scopeWhere('phases', {}), { where: '', values: [] });
});

test('toPgValue: SQLite storage classes as PostgreSQL array elements', () => {
  const cases: Array<[unknown, Parameters<typeof toPgValue>[1], unknown]> = [
    [null, 'int', null],
    [undefined, 'text', null],
    [1, 'boolean', true],
    [0, 'boolean', false],
    ['3', 'int', 3],
    [9007199254740993n, 'bigint', '9007199254740993'],
    [42, 'text', '42'],
    ['2026-12-07 12:00:50.453195', 'timestamp', '2026-12-07 12:00:50.453195'],
  ];
  for (const [v, type, want] of cases) assert.deepEqual(toPgValue(v, type), want, `${String(v)} as ${type}`);
});

test('Autopack time text: written as SQLAlchemy writes it, read back as UTC', () => {
  const d = new Date(Date.UTC(2026, 11, 7, 12, 0, 50, 453));
  assert.equal(naiveUtcText(d), '2026-12-07 12:00:50.453000');
  const cases: Array<[string | null, number | null]> = [
    ['2026-12-07 12:00:50.453195', d.getTime()],
    ['2026-12-07 12:00:50.453', d.getTime()],
    ['2026-12-07T12:00:50.453Z', d.getTime()],
    ['2026-12-07 13:00:50.453+01:00', d.getTime()],
    ['2026-12-07 12:00:50', d.getTime() - 453],
    [null, null],
    ['', null],
    ['not a time', null],
  ];
  for (const [text, want] of cases) assert.equal(fromNaiveUtc(text)?.getTime() ?? null, want, String(text));
});
