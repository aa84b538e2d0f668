/**
 * Counts the statements this process's `pg` clients send and the rows they get back, for tests
 * that guard a cost by counts (sizes and counts, not times): in-process workers use the same
 * `pg` module, so a session drained by one is counted whole (its try supervisors, other
 * processes, are not: two statements per try). Patches pg.Client.prototype.query until stop().
 */
import pg from 'pg';

interface PgCounts {
  statements: number;
  rows: number;
  stop(): void;
}

type Query = (...args: unknown[]) => unknown;
const rowsOf = (r: unknown): number => {
  const rows = (r as { rows?: unknown[] } | null)?.rows;
  return Array.isArray(rows) ? rows.length : 0;
};

export function countPgStatements(): PgCounts {
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  const counts: PgCounts = {
    statements: 0,
    rows: 0,
    stop: () => {
      proto.query = original;
    },
  };
  proto.query = function (this: unknown, ...args: unknown[]) {
    counts.statements += 1;
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb === 'function') {
      args[last] = (err: unknown, res: unknown) => {
        counts.rows += rowsOf(res);
        return (cb as (e: unknown, r: unknown) => unknown)(err, res);
      };
    }
    const out = original.apply(this, args);
    if (out && typeof (out as Promise<unknown>).then === 'function') {
      return (out as Promise<unknown>).then((res) => {
        counts.rows += rowsOf(res);
        return res;
      });
    }
    return out;
  };
  return counts;
}
