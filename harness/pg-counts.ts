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
  /** Statements and rows by the statement's text (whitespace folded, first 100 characters). */
  byText: Map<string, { statements: number; rows: number }>;
  /** The `n` texts that read the most rows, for a failure message. */
  top(n: number): string;
  /** Statements whose whole text (whitespace folded) matches `re`. */
  matching(re: RegExp): number;
  stop(): void;
}

type Query = (...args: unknown[]) => unknown;
const fullTextOf = (q: unknown): string => {
  const t = typeof q === 'string' ? q : ((q as { text?: unknown } | null)?.text ?? '');
  return String(t).replace(/\s+/g, ' ').trim();
};
const rowsOf = (r: unknown): number => {
  const rows = (r as { rows?: unknown[] } | null)?.rows;
  return Array.isArray(rows) ? rows.length : 0;
};

export function countPgStatements(): PgCounts {
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  const full = new Map<string, number>();
  const counts: PgCounts = {
    statements: 0,
    rows: 0,
    byText: new Map(),
    top: (n) =>
      [...counts.byText]
        .sort((a, b) => b[1].rows - a[1].rows)
        .slice(0, n)
        .map(([t, c]) => `${c.rows} rows in ${c.statements}× ${t}`)
        .join('\n'),
    matching: (re) => [...full].reduce((n, [t, c]) => n + (re.test(t) ? c : 0), 0),
    stop: () => {
      proto.query = original;
    },
  };
  proto.query = function (this: unknown, ...args: unknown[]) {
    counts.statements += 1;
    const whole = fullTextOf(args[0]);
    full.set(whole, (full.get(whole) ?? 0) + 1);
    const text = whole.slice(0, 100);
    const mine = counts.byText.get(text) ?? { statements: 0, rows: 0 };
    counts.byText.set(text, mine);
    mine.statements += 1;
    const add = (res: unknown) => {
      counts.rows += rowsOf(res);
      mine.rows += rowsOf(res);
    };
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb === 'function') {
      args[last] = (err: unknown, res: unknown) => {
        add(res);
        return (cb as (e: unknown, r: unknown) => unknown)(err, res);
      };
    }
    const out = original.apply(this, args);
    if (out && typeof (out as Promise<unknown>).then === 'function') {
      return (out as Promise<unknown>).then((res) => {
        add(res);
        return res;
      });
    }
    return out;
  };
  return counts;
}
