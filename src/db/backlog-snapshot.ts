/**
 * Snapshots of a SQLite backlog's rows as PostgreSQL CTEs, so a statement written once over
 * Autopack's tables and our drain_* tables runs on the records database whatever the backlog's
 * dialect: `phases`, `runs`, … in the statement resolve to CTEs of the same names, built from
 * arrays of the rows read from the SQLite file just before (read in one synchronous call: no
 * read is held open across an await). Only the tables a statement names are read, and only
 * the rows its scope asks for. Columns a backlog's schema lacks (an older Autopack) are NULL.
 * The CTE columns have Autopack's PostgreSQL types (naive `timestamp` times in UTC), so a
 * statement compares times the same way on both backlogs.
 */
import type { SnapshotScope } from './backlog.js';

type PgType = 'int' | 'bigint' | 'text' | 'boolean' | 'timestamp' | 'float8';

/** The columns of Autopack's tables our statements may read, with their PostgreSQL types. */
export const SNAPSHOT_COLUMNS: Record<string, ReadonlyArray<readonly [string, PgType]>> = {
  runs: [
    ['id', 'text'],
    ['state', 'text'],
    ['created_at', 'timestamp'],
    ['updated_at', 'timestamp'],
    ['started_at', 'timestamp'],
    ['completed_at', 'timestamp'],
    ['tokens_used', 'bigint'],
    ['token_cap', 'bigint'],
    ['failure_reason', 'text'],
  ],
  tiers: [
    ['id', 'int'],
    ['tier_id', 'text'],
    ['run_id', 'text'],
    ['tier_index', 'int'],
    ['state', 'text'],
  ],
  phases: [
    ['id', 'int'],
    ['phase_id', 'text'],
    ['run_id', 'text'],
    ['tier_id', 'int'],
    ['phase_index', 'int'],
    ['name', 'text'],
    ['state', 'text'],
    ['task_category', 'text'],
    ['complexity', 'text'],
    ['phase_type', 'text'],
    ['tokens_used', 'bigint'],
    ['retry_attempt', 'int'],
    ['last_attempt_timestamp', 'timestamp'],
    ['last_failure_reason', 'text'],
    ['created_at', 'timestamp'],
    ['updated_at', 'timestamp'],
    ['started_at', 'timestamp'],
    ['completed_at', 'timestamp'],
  ],
  token_estimation_v2_events: [
    ['event_id', 'bigint'],
    ['run_id', 'text'],
    ['phase_id', 'text'],
    ['timestamp', 'timestamp'],
    ['category', 'text'],
    ['actual_output_tokens', 'bigint'],
    ['success', 'boolean'],
  ],
  token_budget_escalation_events: [
    ['event_id', 'bigint'],
    ['run_id', 'text'],
    ['phase_id', 'text'],
    ['timestamp', 'timestamp'],
    ['attempt_index', 'int'],
    ['reason', 'text'],
    ['tokens_used', 'bigint'],
  ],
};

export type BacklogTable = keyof typeof SNAPSHOT_COLUMNS;
const TABLES = Object.keys(SNAPSHOT_COLUMNS);
const NAMED = new RegExp(`\\b(${TABLES.join('|')})\\b`, 'g');
const WRITES = new RegExp(
  `\\b(UPDATE|INSERT\\s+INTO|DELETE\\s+FROM|TRUNCATE)\\s+(${TABLES.join('|')})\\b`,
  'i',
);

/** The statement without its string literals and `--` comments (names there are no tables). */
const codeOf = (text: string) => text.replace(/'(?:[^']|'')*'/g, "''").replace(/--[^\n]*/g, '');

/** Autopack tables a statement reads (names inside strings and comments do not count). */
export function tablesNamedIn(text: string): BacklogTable[] {
  const code = codeOf(text);
  if (WRITES.test(code))
    throw new Error('a statement that writes Autopack tables must go to the backlog itself, not a snapshot');
  return [...new Set([...code.matchAll(NAMED)].map((m) => m[1]))] as BacklogTable[];
}

/** Rows of one table as column arrays, in SNAPSHOT_COLUMNS order. */
export type ColumnArrays = unknown[][];

/** A SQLite value as the PostgreSQL array element of its column type. */
export function toPgValue(v: unknown, type: PgType): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'boolean') return v === 1 || v === true || v === '1' || v === 'true' || v === 't';
  if (type === 'int' || type === 'bigint') return typeof v === 'bigint' ? v.toString() : Number(v);
  if (type === 'float8') return Number(v);
  return String(v);
}

/**
 * The statement with the snapshot CTEs in front, and its values: `tables` maps each named
 * table to its column arrays. Parameters of the CTEs are numbered after the statement's own.
 */
export function withSnapshots(
  text: string,
  values: readonly unknown[],
  tables: ReadonlyMap<BacklogTable, ColumnArrays>,
): { text: string; values: unknown[] } {
  if (tables.size === 0) return { text, values: [...values] };
  const all = [...values];
  const ctes: string[] = [];
  for (const [table, arrays] of tables) {
    const cols = SNAPSHOT_COLUMNS[table];
    const args = cols.map(([, type], i) => {
      all.push(arrays[i]);
      return `$${all.length}::${type === 'timestamp' ? 'text' : type}[]`;
    });
    const u = cols.map((_, i) => `c${i}`);
    const select = cols
      .map(([name, type], i) => (type === 'timestamp' ? `c${i}::timestamp AS ${name}` : `c${i} AS ${name}`))
      .join(', ');
    ctes.push(`${table} AS (SELECT ${select} FROM unnest(${args.join(', ')}) AS u(${u.join(', ')}))`);
  }
  const m = /^\s*WITH(\s+RECURSIVE)?\s/i.exec(text);
  const merged = m
    ? `WITH${m[1] ?? ''} ${ctes.join(',\n')},\n${text.slice(m[0].length)}`
    : `WITH ${ctes.join(',\n')}\n${text}`;
  return { text: merged, values: all };
}

/** The WHERE clause (SQLite) and its values for a table's rows within a scope. */
export function scopeWhere(table: BacklogTable, scope: SnapshotScope): { where: string; values: unknown[] } {
  const conds: string[] = [];
  const values: unknown[] = [];
  const keyed = table === 'phases' || table === 'tiers' || table.endsWith('_events');
  if (scope.runId !== undefined && keyed) {
    conds.push('run_id = ?');
    values.push(scope.runId);
  }
  if (scope.runId !== undefined && table === 'runs') {
    conds.push('id = ?');
    values.push(scope.runId);
  }
  if (scope.phaseId !== undefined && (table === 'phases' || table.endsWith('_events'))) {
    conds.push('phase_id = ?');
    values.push(scope.phaseId);
  }
  if (scope.phaseStates && table === 'phases') {
    conds.push(`state IN (${scope.phaseStates.map(() => '?').join(', ')})`);
    values.push(...scope.phaseStates);
  }
  return { where: conds.length ? `WHERE ${conds.join(' AND ')}` : '', values };
}
