/**
 * Autopack's schema is the schema (issue 16, item 1), on a real Postgres whose TimeZone is not
 * UTC: a fresh database gets exactly Autopack's tables (the same columns as Autopack's SQLite
 * DDL, enum states, no server defaults); migration 008 converts a database made by earlier
 * releases (the old 001, built here by hand) without losing a row or moving an instant, and
 * does nothing on Autopack's shape or where the tables are absent; the one writer and our
 * statements then work on the converted tables (text states) too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { AUTOPACK_SQLITE_DDL_FILE } from '../../src/db/autopack-sqlite.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';
import { getPhase, handBackStrandedPhase } from '../../src/db/phases.js';
import { createPool } from '../../src/db/pool.js';
import { phaseFacts } from '../../src/db/phase-facts.js';
import { projectRoot } from '../../src/runtime/paths.js';
import type { EmbeddedPostgresHandle } from '../../src/runtime/postgres.js';
import * as rows from '../../src/sim/autopack-rows.js';
import { seedPhases } from '../../src/sim/seed.js';
import { startTestPostgres, TEST_PG_TIMEZONE } from '../../harness/pg-template.js';

const OLD_001 = path.join(projectRoot(), 'test', 'fixtures', 'schemas', 'old-001-autopack-tables.sql');
const AUTOPACK_TABLES = [
  'runs',
  'tiers',
  'phases',
  'token_estimation_v2_events',
  'token_budget_escalation_events',
];

let tmp: string;
let pgh: EmbeddedPostgresHandle;
const pools: pg.Pool[] = [];

async function database(name: string): Promise<pg.Pool> {
  const admin = createPool(pgh.url, 1);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgh.url);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 3);
  pools.push(pool);
  return pool;
}

async function migrationSql(prefix: string): Promise<string> {
  const m = (await listMigrations()).find((x) => path.basename(x.file).startsWith(prefix));
  assert.ok(m, `migration ${prefix}`);
  return readFile(m.file, 'utf8');
}

/** Columns (name, type, nullability, default) and indexes of the Autopack tables in a schema. */
async function shape(db: pg.Pool, schema = 'public') {
  const cols = await db.query(
    `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2)
      ORDER BY table_name, ordinal_position`,
    [schema, AUTOPACK_TABLES],
  );
  const idx = await db.query(
    `SELECT tablename, indexname, indexdef FROM pg_indexes
      WHERE schemaname = $1 AND tablename = ANY($2) ORDER BY indexname`,
    [schema, AUTOPACK_TABLES],
  );
  return { columns: cols.rows, indexes: idx.rows };
}

/** Table → column names, in order, from Autopack's SQLite DDL (the other dialect of the same models). */
async function sqliteColumns(): Promise<Record<string, string[]>> {
  const ddl = await readFile(AUTOPACK_SQLITE_DDL_FILE, 'utf8');
  const out: Record<string, string[]> = {};
  for (const m of ddl.matchAll(/CREATE TABLE IF NOT EXISTS (\w+) \(\n([\s\S]*?)\n\);/g)) {
    out[m[1]] = m[2]
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => !/^(PRIMARY KEY|CONSTRAINT|FOREIGN KEY)/.test(l))
      .map((l) => l.split(/\s+/)[0]);
  }
  return out;
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'drain-shape-test-'));
  await chmod(tmp, 0o755); // as root, Postgres runs as 'postgres' and must reach the data dir
  pgh = await startTestPostgres(tmp);
});

after(async () => {
  for (const p of pools) await p.end().catch(() => {});
  await pgh?.stop();
  if (pgh && !pgh.dataDir.startsWith(tmp))
    await rm(path.dirname(pgh.dataDir), { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

describe('a fresh database: Autopack’s own tables', () => {
  let db: pg.Pool;
  before(async () => {
    db = await database('fresh');
    await migrate(db);
  });

  test('the server runs with a TimeZone that is not UTC', async () => {
    assert.equal((await db.query('SHOW TimeZone')).rows[0].TimeZone, TEST_PG_TIMEZONE);
  });

  test('the same columns, in the same order, as Autopack’s SQLite DDL; enum states; naive times; no server defaults', async () => {
    const { columns } = await shape(db);
    const byTable: Record<string, string[]> = {};
    for (const c of columns) (byTable[c.table_name] ??= []).push(c.column_name);
    assert.deepEqual(byTable, await sqliteColumns());
    const type = (t: string, c: string) =>
      columns.find((x) => x.table_name === t && x.column_name === c)?.udt_name;
    assert.deepEqual(
      [type('runs', 'state'), type('phases', 'state'), type('tiers', 'state')],
      ['runstate', 'phasestate', 'tierstate'],
    );
    for (const c of columns.filter((x) => /_at$|^timestamp$/.test(x.column_name)))
      assert.equal(c.data_type, 'timestamp without time zone', `${c.table_name}.${c.column_name}`);
    const defaults = columns.filter((c) => c.column_default !== null && !/^nextval\(/.test(c.column_default));
    assert.deepEqual(defaults, [], 'only the SERIAL keys have a default');
    const key = (t: string) => columns.find((c) => c.table_name === t && c.column_name === 'event_id');
    assert.ok(
      key('token_estimation_v2_events') && key('token_budget_escalation_events'),
      'keyed by event_id',
    );
  });

  test('Autopack’s indexes by their names, and the enum values', async () => {
    const { indexes } = await shape(db);
    const names = new Set(indexes.map((i) => i.indexname));
    const ddl = await readFile(AUTOPACK_SQLITE_DDL_FILE, 'utf8');
    for (const m of ddl.matchAll(/CREATE INDEX IF NOT EXISTS (\w+) ON/g)) assert.ok(names.has(m[1]), m[1]);
    const { rows: e } = await db.query(
      `SELECT enum_range(NULL::phasestate)::text AS p, enum_range(NULL::tierstate)::text AS t,
              array_length(enum_range(NULL::runstate), 1) AS r`,
    );
    assert.deepEqual(e[0], {
      p: '{QUEUED,EXECUTING,GATE,CI_RUNNING,COMPLETE,FAILED,SKIPPED}',
      t: '{PENDING,IN_PROGRESS,COMPLETE,FAILED,SKIPPED}',
      r: 13,
    });
  });

  test('008 (and 001 again) change nothing on Autopack’s shape', async () => {
    const before = await shape(db);
    await db.query(await migrationSql('008_'));
    await db.query(await migrationSql('001_'));
    assert.deepEqual(await shape(db), before);
  });

  test('nothing after 001 needs Autopack’s tables: 003 and 008 in a schema without them create none', async () => {
    const c = await db.connect();
    try {
      await c.query('CREATE SCHEMA records_only');
      await c.query('SET search_path = records_only');
      await c.query(await migrationSql('003_'));
      await c.query(await migrationSql('008_'));
      const { rows: r } = await c.query(
        `SELECT (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'records_only'::regnamespace) AS relations,
                (SELECT count(*)::int FROM pg_type WHERE typnamespace = 'records_only'::regnamespace AND typtype = 'e') AS enums`,
      );
      assert.deepEqual(r[0], { relations: 0, enums: 0 });
    } finally {
      await c.query('RESET search_path').catch(() => {});
      c.release();
    }
  });
});

describe('a database made by an earlier release (the old 001), migrated by 008', () => {
  let db: pg.Pool;
  let applied: string[];
  const p1 = { runId: 'old-run', phaseId: 'p1' };
  const p2 = { runId: 'old-run', phaseId: 'p2' };
  const builtAt = Date.now();

  before(async () => {
    db = await database('old_shape');
    await db.query(await readFile(OLD_001, 'utf8'));
    await db.query(
      `CREATE TABLE drain_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
       INSERT INTO drain_migrations (version, name) VALUES (1, 'autopack_tables')`,
    );
    // As the old seeds and executor wrote them: defaults, timestamptz, text states, telemetry `id`.
    await db.query(
      `INSERT INTO runs (id, state) VALUES ('old-run', 'DONE_FAILED_REQUIRES_HUMAN_REVIEW');
       INSERT INTO phases (run_id, phase_id, phase_index, name, state, last_failure_reason, started_at, completed_at,
                           created_at, updated_at)
       VALUES ('old-run', 'p1', 0, 'p1', 'FAILED', 'patch apply failed', '2026-03-01 10:00:00+00',
               '2026-03-01 10:05:00.5+00', '2026-03-01 09:00:00+00', '2026-03-01 10:05:00.5+00'),
              ('old-run', 'p2', 1, 'p2', 'QUEUED', NULL, NULL, NULL, '2026-03-01 09:00:00+00', '2026-03-01 09:00:00+00');
       INSERT INTO token_estimation_v2_events (run_id, phase_id, timestamp, category, complexity, deliverable_count,
                                               predicted_output_tokens, actual_output_tokens, success)
       VALUES ('old-run', 'p1', '2026-03-01 10:01:02.123456+00', 'implementation', 'medium', 1, 1000, 900, true);
       INSERT INTO token_budget_escalation_events (run_id, phase_id, timestamp, attempt_index, reason, was_truncated,
                                                   base_value, retry_max_tokens)
       VALUES ('old-run', 'p1', '2026-03-01 10:02:00+00', 1, 'truncation', true, 4096, 8192)`,
    );
    applied = await migrate(db);
  });

  test('008 ran (and the new 001 did not: the database had applied the old one)', () => {
    assert.ok(applied.includes('008_autopack_shape'), applied.join(', '));
    assert.ok(!applied.some((a) => a.startsWith('001_')), applied.join(', '));
  });

  test('telemetry keyed by event_id; times naive UTC with the same instants; every row kept', async () => {
    const { columns } = await shape(db);
    const has = (t: string, c: string) => columns.some((x) => x.table_name === t && x.column_name === c);
    for (const t of ['token_estimation_v2_events', 'token_budget_escalation_events']) {
      assert.ok(has(t, 'event_id') && !has(t, 'id'), `${t} keyed by event_id`);
    }
    for (const c of columns.filter((x) => /_at$|^timestamp$/.test(x.column_name)))
      assert.equal(c.data_type, 'timestamp without time zone', `${c.table_name}.${c.column_name}`);

    const phase = await db.query(
      `SELECT started_at, completed_at, created_at, to_char(completed_at, 'YYYY-MM-DD HH24:MI:SS.US') AS text
         FROM phases WHERE phase_id = 'p1'`,
    );
    assert.deepEqual(phase.rows[0], {
      started_at: new Date('2026-03-01T10:00:00Z'),
      completed_at: new Date('2026-03-01T10:05:00.500Z'),
      created_at: new Date('2026-03-01T09:00:00Z'),
      text: '2026-03-01 10:05:00.500000',
    });
    const est = await db.query(
      `SELECT event_id, to_char(timestamp, 'YYYY-MM-DD HH24:MI:SS.US') AS ts, created_at = timestamp AS created
         FROM token_estimation_v2_events`,
    );
    assert.deepEqual(est.rows, [{ event_id: 1, ts: '2026-03-01 10:01:02.123456', created: true }]);
    const esc = await db.query(`SELECT event_id, timestamp FROM token_budget_escalation_events`);
    assert.deepEqual(esc.rows, [{ event_id: 1, timestamp: new Date('2026-03-01T10:02:00Z') }]);
    // A default now() of the old shape, converted: the run's creation is still the moment it was made.
    const run = await db.query(`SELECT created_at FROM runs WHERE id = 'old-run'`);
    assert.ok(
      Math.abs(run.rows[0].created_at.getTime() - builtAt) < 10 * 60_000,
      String(run.rows[0].created_at),
    );
    const counts = await db.query(
      `SELECT (SELECT count(*)::int FROM runs) AS runs, (SELECT count(*)::int FROM phases) AS phases,
              (SELECT count(*)::int FROM token_estimation_v2_events) AS est,
              (SELECT count(*)::int FROM token_budget_escalation_events) AS esc`,
    );
    assert.deepEqual(counts.rows[0], { runs: 1, phases: 2, est: 1, esc: 1 });
  });

  test('Autopack’s NOT NULL columns our statements read are there (tokens_used 0); states stay text', async () => {
    const { rows: r } = await db.query(
      `SELECT p.tokens_used AS phase, r.tokens_used AS run, pg_typeof(p.state)::text AS state_type
         FROM phases p JOIN runs r ON r.id = p.run_id WHERE p.phase_id = 'p1'`,
    );
    assert.deepEqual(r[0], { phase: 0, run: 0, state_type: 'text' });
    assert.ok((await db.query(`SELECT to_regclass('tiers') IS NOT NULL AS t`)).rows[0].t, 'a tiers table');
  });

  test('the one writer, the executor’s transitions and our statements work on the converted tables', async () => {
    await seedPhases(db, [
      { runId: 'old-run', phaseId: 'p1', lastFailureReason: 'patch apply failed' },
      { runId: 'new-run', phaseId: 'n1', state: 'QUEUED' },
    ]);
    const tiers = await db.query(
      `SELECT p.phase_id, t.run_id FROM phases p LEFT JOIN tiers t ON t.id = p.tier_id ORDER BY p.phase_id`,
    );
    assert.deepEqual(
      tiers.rows.map((x) => [x.phase_id, x.run_id]),
      [
        ['n1', 'new-run'],
        ['p1', 'old-run'], // reseeded: given its run's tier
        ['p2', null], // left as it was
      ],
    );
    assert.equal(await rows.requeuePhase(db, p1, 'FAILED'), true);
    assert.equal(await rows.startPhase(db, p1), true);
    await rows.insertEstimationEvent(db, p1, {
      category: 'implementation',
      complexity: 'medium',
      deliverableCount: 1,
      predictedOutputTokens: 1000,
      actualOutputTokens: 700,
      success: true,
    });
    await rows.insertEscalationEvent(db, p1, { attemptIndex: 2, baseValue: 4096, tokensUsed: 300 });
    assert.equal(await rows.setPhaseState(db, p1, 'COMPLETE'), 1);
    const row = await getPhase(db, p1.runId, p1.phaseId);
    assert.equal(row?.state, 'COMPLETE');
    assert.ok(
      Math.abs(row!.updated_at!.getTime() - Date.now()) < 60_000,
      `updated_at ${row!.updated_at!.toISOString()}`,
    );
    assert.deepEqual((await phaseFacts(db, p1.runId, p1.phaseId)).telemetry, {
      phase: 4,
      global: 4,
      byTable: { token_estimation_v2_events: 2, token_budget_escalation_events: 2 },
    });
    const tok = await db.query(`SELECT tokens_used FROM phases WHERE phase_id = 'p1'`);
    assert.equal(tok.rows[0].tokens_used, 1000);

    assert.equal(await rows.startPhase(db, p2), true);
    assert.equal(await handBackStrandedPhase(db, p2.runId, p2.phaseId, 'stopped by drain'), true);
    const back = await getPhase(db, p2.runId, p2.phaseId);
    assert.deepEqual([back?.state, back?.last_failure_reason], ['FAILED', 'stopped by drain']);
    assert.ok(
      Math.abs(back!.updated_at!.getTime() - Date.now()) < 60_000,
      `updated_at ${back!.updated_at!.toISOString()}`,
    );
  });

  test('migrating again applies nothing', async () => {
    assert.deepEqual(await migrate(db), []);
  });
});

describe('our statements on Autopack’s shape (enum states, naive times) with TimeZone not UTC', () => {
  let db: pg.Pool;
  before(async () => {
    db = await database('stranded');
    await migrate(db);
    await seedPhases(db, [{ runId: 'r', phaseId: 'x', state: 'EXECUTING' }]);
  });

  test('handBackStrandedPhase writes a naive UTC updated_at that reads back as now', async () => {
    const t0 = Date.now();
    assert.equal(await handBackStrandedPhase(db, 'r', 'x', 'stopped'), true);
    const row = await getPhase(db, 'r', 'x');
    assert.equal(row?.state, 'FAILED');
    assert.ok(
      Math.abs(row!.updated_at!.getTime() - t0) < 60_000,
      `updated_at ${row!.updated_at!.toISOString()}`,
    );
    const { rows: r } = await db.query(
      `SELECT abs(extract(epoch FROM updated_at - (now() AT TIME ZONE 'UTC'))) < 60 AS utc FROM phases WHERE phase_id = 'x'`,
    );
    assert.equal(r[0].utc, true);
    assert.equal(await handBackStrandedPhase(db, 'r', 'x', 'again'), false, 'a terminal phase is left alone');
  });
});
