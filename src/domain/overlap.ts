/**
 * Time spans of attempts: how many ran at once at most (a session's slots at work), and which
 * two attempts of one run overlapped (never allowed: a run is drained by one slot of one
 * session at a time). Pure; used by the session JSON, `drain verify`, the slots tests and
 * bench/parallel.
 */

export interface Span {
  runId: string;
  /** Epoch milliseconds. */
  from: number;
  to: number;
  label: string;
}

/** Spans from rows with ISO (or Date) start and end times; a row without an end is left out. */
export function spansOf<T>(
  rows: T[],
  pick: (r: T) => { runId: string; from: unknown; to: unknown; label: string },
): Span[] {
  const ms = (v: unknown): number =>
    v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return rows.flatMap((r) => {
    const p = pick(r);
    const from = ms(p.from);
    const to = ms(p.to);
    return Number.isFinite(from) && Number.isFinite(to) ? [{ runId: p.runId, from, to, label: p.label }] : [];
  });
}

/** The most spans open at one moment (a span ending when another starts does not overlap it). */
export function peakParallel(spans: Span[]): number {
  const edges = spans.flatMap((s) => [
    [s.from, 1],
    [s.to, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same instant
  let open = 0;
  let peak = 0;
  for (const [, d] of edges) {
    open += d;
    peak = Math.max(peak, open);
  }
  return peak;
}

/** Every pair of spans of one run that overlap in time, as "a overlaps b" lines. */
export function runOverlaps(spans: Span[]): string[] {
  const byRun = new Map<string, Span[]>();
  for (const s of spans) byRun.set(s.runId, [...(byRun.get(s.runId) ?? []), s]);
  const out: string[] = [];
  for (const list of byRun.values()) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length && list[j].from < list[i].to; j++) {
        out.push(`${list[i].label} overlaps ${list[j].label}`);
      }
    }
  }
  return out;
}
