/**
 * A SQLite backlog (Autopack's `DATABASE_URL=sqlite:///autopack.db`), shared with an executor
 * that writes it through Python's sqlite3 (5 s lock wait, journal mode `delete`). The rules:
 *   - every read is one synchronous better-sqlite3 call: no read or transaction is ever held
 *     open across an await;
 *   - locks are waited on: a short busy timeout inside SQLite (so the worker's event loop is
 *     never blocked for long), then retries with backoff outside it, up to LOCK_WAIT_MS;
 *   - the journal mode is never changed (Autopack's processes expect `delete`);
 *   - the one write (`--on-kill fail`'s hand-back) is a short BEGIN IMMEDIATE transaction,
 *     with the upper-case state and a naive UTC time Autopack's ORM reads back.
 * Our records never go into this file: they live in PostgreSQL (records.ts).
 */
import Database from 'better-sqlite3';
import type { Queryable } from './pool.js';
import type { Backlog, SnapshotScope } from './backlog.js';
import type { BacklogLocation } from './database-url.js';
import type { BacklogCounts, PhaseRow } from './phases.js';
import { TELEMETRY_TABLES } from './telemetry.js';
import { factsFrom, type PhaseFacts } from './phase-facts.js';
import {
  SNAPSHOT_COLUMNS,
  scopeWhere,
  tablesNamedIn,
  toPgValue,
  withSnapshots,
  type BacklogTable,
  type ColumnArrays,
} from './backlog-snapshot.js';
import { fromNaiveUtc, naiveUtcText } from './autopack-time.js';
import type { TokenCounters } from '../domain/tokens.js';

/** How long one call waits for a lock in all (Python's sqlite3 waits 5 s; we are more patient). */
export const LOCK_WAIT_MS = 30_000;
/** SQLite's own busy wait per try: short, because it blocks the event loop while it waits. */
const BUSY_SLICE_MS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isBusy = (err: unknown) => /SQLITE_BUSY|SQLITE_LOCKED/.test((err as { code?: string }).code ?? '');

/**
 * A Windows drive path (sqlite:///C:/…) opens only on Windows (the client commands); a worker,
 * which runs on Linux (WSL2), must be given the file's WSL path.
 */
export function refuseWindowsPath(
  location: BacklogLocation & { kind: 'sqlite' },
  platform: NodeJS.Platform = process.platform,
): void {
  if (location.windows && platform !== 'win32')
    throw new Error(
      `${location.path} is a Windows path: run the worker in WSL2 with the .db file on WSL's own file system (see "Running from Windows" in the README)`,
    );
}

export class SqliteBacklog implements Backlog {
  readonly sharesRecords = false;
  private readonly db: Database.Database;
  private readonly columns = new Map<string, Set<string> | null>();

  constructor(
    readonly location: BacklogLocation & { kind: 'sqlite' },
    private readonly records: Queryable,
  ) {
    refuseWindowsPath(location);
    try {
      this.db = new Database(location.path, { fileMustExist: true, timeout: BUSY_SLICE_MS });
    } catch (err) {
      throw new Error(`cannot open the SQLite backlog ${location.path}: ${(err as Error).message}`);
    }
  }

  /** Runs `fn` (synchronous SQLite work), retrying while the file is locked by another process. */
  private async locked<T>(fn: () => T): Promise<T> {
    const until = Date.now() + LOCK_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err) || Date.now() > until) throw err;
      }
      await sleep(pause);
    }
  }

  /** The columns a table has in this file (null: no such table). */
  private tableColumns(table: string): Set<string> | null {
    if (!this.columns.has(table)) {
      const rows = this.db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[];
      this.columns.set(table, rows.length ? new Set(rows.map((r) => r.name)) : null);
    }
    return this.columns.get(table) ?? null;
  }

  private readArrays(table: BacklogTable, scope: SnapshotScope): ColumnArrays {
    const cols = SNAPSHOT_COLUMNS[table];
    const have = this.tableColumns(table);
    if (!have) throw new Error(`the SQLite backlog ${this.location.path} has no table ${table}`);
    const { where, values } = scopeWhere(table, scope);
    const list = cols.map(([c]) => (have.has(c) ? `"${c}"` : 'NULL')).join(', ');
    const rows = this.db
      .prepare(`SELECT ${list} FROM "${table}" ${where}`)
      .raw()
      .all(...values) as unknown[][];
    return cols.map(([, type], i) => rows.map((r) => toPgValue(r[i], type)));
  }

  sql(scope: SnapshotScope = {}): Queryable {
    const query = async (text: string, values: unknown[] = []) => {
      const tables = tablesNamedIn(text);
      const snap = await this.locked(() => {
        const m = new Map<BacklogTable, ColumnArrays>();
        for (const t of tables) m.set(t, this.readArrays(t, scope));
        return m;
      });
      const q = withSnapshots(text, values, snap);
      return this.records.query(q.text, q.values);
    };
    return { query } as unknown as Queryable;
  }

  getPhase(runId: string, phaseId: string): Promise<PhaseRow | null> {
    return this.locked(() => this.readPhase(runId, phaseId));
  }

  private readPhase(runId: string, phaseId: string): PhaseRow | null {
    const r = this.db
      .prepare(
        `SELECT run_id, phase_id, state, last_failure_reason, updated_at FROM phases WHERE run_id = ? AND phase_id = ?`,
      )
      .get(runId, phaseId) as (Omit<PhaseRow, 'updated_at'> & { updated_at: string | null }) | undefined;
    return r ? { ...r, updated_at: fromNaiveUtc(r.updated_at) } : null;
  }

  backlogCounts(): Promise<BacklogCounts> {
    return this.locked(() => {
      const rows = this.db.prepare('SELECT state, count(*) AS n FROM phases GROUP BY state').all() as {
        state: string;
        n: number;
      }[];
      const runs = (this.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
      const byState = Object.fromEntries(rows.map((r) => [r.state, r.n]));
      return { runs, phases: rows.reduce((s, r) => s + r.n, 0), byState };
    });
  }

  /** The phase facts a try reads at its start and end (phase-facts.ts), in one read transaction. */
  phaseFacts(runId: string, phaseId: string): Promise<PhaseFacts> {
    return this.locked(() => this.db.transaction(() => this.readFacts(runId, phaseId)).deferred());
  }

  private readFacts(runId: string, phaseId: string): PhaseFacts {
    const counts = this.db
      .prepare('SELECT state, count(*) AS n FROM phases WHERE run_id = ? GROUP BY state')
      .all(runId) as { state: string; n: number }[];
    const telemetry = TELEMETRY_TABLES.map((t) =>
      this.tableColumns(t)
        ? {
            phase: this.phaseRows(t, runId, phaseId),
            all: this.count(`SELECT count(*) AS n FROM ${t}`),
          }
        : { phase: 0, all: 0 },
    );
    const tokens = this.readTokens(runId, phaseId);
    return factsFrom({
      phase: this.readPhase(runId, phaseId),
      runCounts: Object.fromEntries(counts.map((r) => [r.state, r.n])),
      est: telemetry[0].phase,
      esc: telemetry[1].phase,
      global: telemetry[0].all + telemetry[1].all,
      phaseTokens: tokens.phase,
      runTokens: tokens.run,
    });
  }

  countPhaseTelemetry(runId: string, phaseId: string): Promise<number> {
    return this.locked(() =>
      TELEMETRY_TABLES.filter((t) => this.tableColumns(t)).reduce(
        (s, t) => s + this.phaseRows(t, runId, phaseId),
        0,
      ),
    );
  }

  tokensOf(runId: string, phaseId: string): Promise<TokenCounters> {
    return this.locked(() => this.readTokens(runId, phaseId));
  }

  private readTokens(runId: string, phaseId: string): TokenCounters {
    // A file without the column (older schemas): null, never 0.
    const col = (t: string) => (this.tableColumns(t)?.has('tokens_used') ? 'tokens_used' : 'NULL');
    const r = this.db
      .prepare(
        `SELECT (SELECT ${col('phases')} FROM phases WHERE run_id = ? AND phase_id = ?) AS phase,
                (SELECT ${col('runs')} FROM runs WHERE id = ?) AS run`,
      )
      .get(runId, phaseId, runId) as { phase: number | null; run: number | null } | undefined;
    const num = (v: unknown) => (typeof v === 'number' || typeof v === 'bigint' ? Number(v) : null);
    return { phase: num(r?.phase), run: num(r?.run) };
  }

  /** Rows of one run/phase in telemetry table `t`. */
  private phaseRows(t: string, runId: string, phaseId: string): number {
    return this.count(`SELECT count(*) AS n FROM ${t} WHERE run_id = ? AND phase_id = ?`, runId, phaseId);
  }

  private count(text: string, ...args: unknown[]): number {
    return (this.db.prepare(text).get(...args) as { n: number }).n;
  }

  handBackStrandedPhase(runId: string, phaseId: string, reason: string): Promise<boolean> {
    const update = this.db.prepare(
      `UPDATE phases SET state = 'FAILED', last_failure_reason = ?, updated_at = ?
       WHERE run_id = ? AND phase_id = ? AND state NOT IN ('COMPLETE', 'FAILED', 'SKIPPED')`,
    );
    const tx = this.db.transaction(
      () => update.run(reason, naiveUtcText(new Date()), runId, phaseId).changes,
    );
    return this.locked(() => tx.immediate() > 0);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
