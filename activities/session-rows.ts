/**
 * The session JSON is written after every phase. Instead of reading every row of the session
 * each time, a worker keeps the rows it has read per session and asks the database only for
 * what may have changed since: new rows, and the rows it holds that were still running or not
 * yet judged (the only rows that change after they are written: a try ends, is marked
 * interrupted, or gets its verdict). So a write reads O(rows changed), not O(rows). Which of
 * its failures were already known when they started (src/db/tokens.ts) is kept the same way:
 * asked again only for the rows read since the last ask.
 */
import type { Queryable } from '../src/db/pool.js';
import { listSessionAttempts, listSessionAttemptsChanged, type AttemptRow } from '../src/db/attempts.js';
import { knownFailureAttempts, type KnownFailure } from '../src/db/tokens.js';

/** A held row that may still change. */
function mayStillChange(row: Pick<AttemptRow, 'status'> & { failure_category?: string | null }): boolean {
  return row.status === 'running' || (row.status !== 'interrupted' && row.failure_category == null);
}

interface Held {
  rows: Map<string, AttemptRow>;
  maxId: string;
  /** Row id → known failure, for every held row but those in `knownStale`. */
  known: Record<string, KnownFailure>;
  /** Rows read since the last ask of knownFailuresOf (null: never asked). */
  knownStale: Set<string> | null;
}

const MAX_SESSIONS_HELD = 32;

/** Rows the session JSON writers of this process read from the database (counts, not times). */
export const sessionRowsRead = { rows: 0, writes: 0 };

export class SessionRows {
  private readonly held = new Map<string, Held>();

  constructor(private readonly db: Queryable) {}

  /** Every row of the session, in id order, reading only what may have changed. */
  async rowsOf(sessionId: string): Promise<AttemptRow[]> {
    let h = this.held.get(sessionId);
    let fresh: AttemptRow[];
    if (!h) {
      fresh = await listSessionAttempts(this.db, sessionId);
      h = { rows: new Map(), maxId: '0', known: {}, knownStale: null };
    } else {
      const unsettled = [...h.rows.values()].filter(mayStillChange).map((r) => String(r.id));
      fresh = await listSessionAttemptsChanged(this.db, sessionId, h.maxId, unsettled);
    }
    sessionRowsRead.rows += fresh.length;
    sessionRowsRead.writes += 1;
    for (const r of fresh) {
      h.rows.set(String(r.id), r);
      h.knownStale?.add(String(r.id));
      if (BigInt(r.id) > BigInt(h.maxId)) h.maxId = String(r.id);
    }
    this.held.delete(sessionId); // re-insert: the map's order is least recently used first
    this.held.set(sessionId, h);
    while (this.held.size > MAX_SESSIONS_HELD) this.held.delete(this.held.keys().next().value as string);
    return [...h.rows.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  /**
   * The session's failed attempts whose failure was known when they started (row id → why),
   * asking only about the rows read by rowsOf since the last call: a row's answer depends only
   * on stops and clears from before its start, so it changes only while the row does.
   */
  async knownFailuresOf(sessionId: string): Promise<Record<string, KnownFailure>> {
    const h = this.held.get(sessionId);
    if (!h) return knownFailureAttempts(this.db, sessionId);
    const stale = h.knownStale === null ? null : [...h.knownStale];
    if (stale === null || stale.length > 0) {
      const got = await knownFailureAttempts(this.db, sessionId, stale);
      for (const id of stale ?? Object.keys(h.known)) delete h.known[id];
      Object.assign(h.known, got);
    }
    h.knownStale = new Set();
    return { ...h.known };
  }

  /** A finished session's rows are not needed again. */
  forget(sessionId: string): void {
    this.held.delete(sessionId);
  }
}
