/**
 * Drift guard: the SQL function drain_failure_rank (migrations) must be the CASE that
 * categoryRank(categorizeFailure(reason)) computes from CATEGORY_RULES. Reads the latest
 * migration that defines the function and compares its patterns and ranks, in order.
 * (test/e2e/failure-rank.test.ts runs the function in Postgres against a corpus.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { listMigrations } from '../../src/db/migrate.js';
import { CATEGORY_RULES, categoryRank } from '../../src/domain/categories.js';

const INDEX = 'phases_failed_rank_idx';

/** The SQL without `--` comments (a `--` inside a '…' literal is kept). */
function stripComments(sql: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (!quoted && c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      out += '\n';
      continue;
    }
    if (c === "'") quoted = !quoted; // '' inside a literal toggles twice
    out += c;
  }
  return out;
}

interface RankCase {
  blank: number;
  rules: Array<{ pattern: string; rank: number }>;
  other: number;
}

/**
 * Parses `SELECT CASE WHEN r IS NULL OR btrim(r) = '' THEN n (WHEN r ~* '…' THEN n)* ELSE n END`;
 * anything else in the body fails the parse.
 */
function parseRankCase(body: string): RankCase {
  const head = /\s*SELECT\s+CASE\s+WHEN\s+r\s+IS\s+NULL\s+OR\s+btrim\(r\)\s*=\s*''\s+THEN\s+(\d+)\s+/iy;
  const when = /WHEN\s+r\s+~\*\s+'((?:[^']|'')*)'\s+THEN\s+(\d+)\s+/iy;
  const tail = /ELSE\s+(\d+)\s+END\s*$/iy;
  const h = head.exec(body);
  assert.ok(h, `function body starts with the blank-reason case: ${body.slice(0, 120)}`);
  const rules: RankCase['rules'] = [];
  when.lastIndex = head.lastIndex;
  let pos = head.lastIndex;
  for (let m = when.exec(body); m; m = when.exec(body)) {
    rules.push({ pattern: m[1].replace(/''/g, "'"), rank: Number(m[2]) });
    pos = when.lastIndex;
  }
  tail.lastIndex = pos;
  const t = tail.exec(body);
  assert.ok(t, `function body ends with ELSE n END after the WHENs: ${body.slice(pos, pos + 120)}`);
  return { blank: Number(h[1]), rules, other: Number(t[1]) };
}

const FUNCTION_RE =
  /CREATE\s+OR\s+REPLACE\s+FUNCTION\s+drain_failure_rank\s*\(\s*r\s+text\s*\)\s+RETURNS\s+integer\s+LANGUAGE\s+sql\s+IMMUTABLE\s+PARALLEL\s+SAFE\s+AS\s+\$\$([\s\S]*?)\$\$/gi;

async function migrationsSql(): Promise<Array<{ file: string; sql: string }>> {
  const out = [];
  for (const m of await listMigrations()) {
    out.push({ file: path.basename(m.file), sql: stripComments(await readFile(m.file, 'utf8')) });
  }
  return out;
}

test('the latest drain_failure_rank is CATEGORY_RULES in check order with their category ranks', async () => {
  const defs = (await migrationsSql()).flatMap(({ file, sql }) =>
    [...sql.matchAll(FUNCTION_RE)].map((m) => ({ file, body: m[1] })),
  );
  assert.ok(defs.length > 0, 'some migration defines drain_failure_rank(r text) with this exact signature');
  assert.equal(defs[0].file, '003_failure_rank_index.sql');
  const latest = parseRankCase(defs[defs.length - 1].body);
  assert.deepEqual(
    latest.rules.map((r) => r.pattern),
    CATEGORY_RULES.map((r) => r.pattern),
    `patterns of ${defs[defs.length - 1].file} = CATEGORY_RULES (add a migration if the rules changed)`,
  );
  assert.deepEqual(
    latest.rules.map((r) => r.rank),
    CATEGORY_RULES.map((r) => categoryRank(r.category)),
    'ranks = categoryRank of each rule',
  );
  assert.equal(latest.blank, categoryRank('unknown'), 'NULL/blank reason → unknown');
  assert.equal(latest.other, categoryRank('other'), 'no match → other');
});

test('a migration that redefines drain_failure_rank after the index exists also REINDEXes it', async () => {
  let indexed = false;
  for (const { file, sql } of await migrationsSql()) {
    const createsIndex = new RegExp(`CREATE\\s+INDEX\\s+IF\\s+NOT\\s+EXISTS\\s+${INDEX}\\b`, 'i').test(sql);
    const defines = FUNCTION_RE.test(sql);
    FUNCTION_RE.lastIndex = 0;
    if (indexed && defines) {
      assert.match(sql, new RegExp(`REINDEX\\s+INDEX\\s+${INDEX}\\b`, 'i'), `${file} must REINDEX ${INDEX}`);
    }
    indexed ||= createsIndex;
  }
  assert.ok(indexed, `some migration creates ${INDEX}`);
});

test('the index key is (drain_failure_rank(last_failure_reason), phase_index, id) over FAILED phases', async () => {
  const sql = (await migrationsSql()).find((m) => m.file === '003_failure_rank_index.sql')!.sql;
  assert.match(
    sql.replace(/\s+/g, ' '),
    new RegExp(
      `CREATE INDEX IF NOT EXISTS ${INDEX} ON phases \\(drain_failure_rank\\(last_failure_reason\\), phase_index, id\\) WHERE state = 'FAILED';`,
    ),
  );
});

test('parseRankCase reads SQL-quoted patterns and rejects anything else in the body', () => {
  const parsed = parseRankCase(`
    SELECT CASE
      WHEN r IS NULL OR btrim(r) = '' THEN 0
      WHEN r ~* 'can''t import|''x''' THEN 1
      WHEN r ~* 'a -- b' THEN 2
      ELSE 4
    END`);
  assert.deepEqual(parsed, {
    blank: 0,
    rules: [
      { pattern: "can't import|'x'", rank: 1 },
      { pattern: 'a -- b', rank: 2 },
    ],
    other: 4,
  });
  assert.equal(stripComments("x -- c 'q\ny '--' -- z"), "x \ny '--' \n");
  assert.throws(() =>
    parseRankCase(`SELECT CASE WHEN r IS NULL OR btrim(r) = '' THEN 0 WHEN r ~ 'x' THEN 1 ELSE 4 END`),
  );
  assert.throws(() => parseRankCase(`SELECT CASE WHEN r IS NULL THEN 0 WHEN r ~* 'x' THEN 1 ELSE 4 END`));
  assert.throws(() =>
    parseRankCase(`SELECT CASE WHEN r IS NULL OR btrim(r) = '' THEN 0 WHEN r ~* 'x' THEN 1 END`),
  );
});
