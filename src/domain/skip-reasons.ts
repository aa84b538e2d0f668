/**
 * Skip reasons in workflow payloads. A session carries the phases it passed over (the last 100,
 * with why) in every continue-as-new input and in every session report it hands to an
 * activity; as text, a hundred failure-memory reasons ("fingerprint … stopped by session … at …
 * (failure memory: …)") are tens of kilobytes. Packed, each reason is a code and what varies,
 * and every distinct string (run, phase, fingerprint, session, time) is stored once; the text
 * is rebuilt exactly for display. Pure.
 */
import type { SkipRecord } from './types.js';

/** Reason formats: [code, parser, text]. A reason that matches none is kept as text. */
const FORMATS: Array<[string, RegExp, (v: string[]) => string]> = [
  [
    'memory',
    /^fingerprint ([\s\S]*) stopped by session ([\s\S]*) at (\S+) \(failure memory: drain memory clear, or --ignore-memory\)$/,
    ([fp, s, at]) =>
      `fingerprint ${fp} stopped by session ${s} at ${at} (failure memory: drain memory clear, or --ignore-memory)`,
  ],
  [
    'total',
    /^phase attempted (\d+) times across sessions \(limit: (\d+), --max-attempts-per-phase-total\)$/,
    ([n, limit]) =>
      `phase attempted ${n} times across sessions (limit: ${limit}, --max-attempts-per-phase-total)`,
  ],
  [
    'attempts',
    /^phase already attempted (\d+) times \(limit: (\d+)\)$/,
    ([n, limit]) => `phase already attempted ${n} times (limit: ${limit})`,
  ],
  [
    'queued',
    /^run ([\s\S]*) has (\d+) queued phase\(s\) \(skip-runs-with-queued\)$/,
    ([run, n]) => `run ${run} has ${n} queued phase(s) (skip-runs-with-queued)`,
  ],
  [
    'timeouts',
    /^run ([\s\S]*) has (\d+) timeouts \(limit: (\d+)\)$/,
    ([run, n, limit]) => `run ${run} has ${n} timeouts (limit: ${limit})`,
  ],
  [
    'taken',
    /^run ([\s\S]*) was taken by another session between pick and lease$/,
    ([run]) => `run ${run} was taken by another session between pick and lease`,
  ],
  [
    'lease',
    /^run ([\s\S]*) is being drained by session ([\s\S]*)$/,
    ([run, s]) => `run ${run} is being drained by session ${s}`,
  ],
  [
    'prefix',
    /^run ([\s\S]*) matches skip-run-prefix ([\s\S]*)$/,
    ([run, prefix]) => `run ${run} matches skip-run-prefix ${prefix}`,
  ],
];
const TEXT = 'text';
const BY_CODE = new Map(FORMATS.map(([code, , text]) => [code, text]));

/**
 * Skips as carried: distinct strings once; each skip as indices [run, phase, code, ...values];
 * the reasons of the progress log's skip events as [event index, code, ...values] (their text
 * emptied in the carried log).
 */
export interface PackedSkips {
  strings: string[];
  skips: number[][];
  log?: number[][];
}

/** A reason as its code and what varies (exact: the text rebuilt is the reason, or it stays text). */
export function reasonParts(reason: string): [string, string[]] {
  for (const [code, re, text] of FORMATS) {
    const m = re.exec(reason);
    if (m && text(m.slice(1)) === reason) return [code, m.slice(1)];
  }
  return [TEXT, [reason]];
}

/** The text of a reason from its code and what varies. */
export function reasonText(code: string, values: string[]): string {
  const text = BY_CODE.get(code);
  return text ? text(values) : (values[0] ?? '');
}

/** Interns strings into one table: each distinct string once, referred to by index. */
function interner(): { strings: string[]; at: (s: string) => number; reason: (r: string) => number[] } {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const at = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) index.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const reason = (r: string): number[] => {
    const [code, values] = reasonParts(r);
    return [at(code), ...values.map(at)];
  };
  return { strings, at, reason };
}

/** A progress-log event, as far as packing its reason goes. */
interface LogEvent {
  kind: string;
  reason?: string;
}

/** Packs skips and the reasons of the log's skip events; returns the events with those emptied. */
export function packSkips<E extends LogEvent>(
  list: readonly SkipRecord[],
  events: readonly E[] = [],
): { packed: PackedSkips; events: E[] } {
  const t = interner();
  const skips = list.map((s) => [t.at(s.runId), t.at(s.phaseId), ...t.reason(s.reason)]);
  const log: number[][] = [];
  const out = events.map((e, i) => {
    if (e.kind !== 'skip' || typeof e.reason !== 'string') return e;
    log.push([i, ...t.reason(e.reason)]);
    return { ...e, reason: '' };
  });
  return { packed: { strings: t.strings, skips, ...(log.length ? { log } : {}) }, events: out };
}

/** Rebuilds skips and log reasons from a payload (one of an earlier release has records already). */
export function unpackSkips<E extends LogEvent>(
  p: PackedSkips,
  events: readonly E[] = [],
): { skipped: SkipRecord[]; events: E[] } {
  const s = (i: number): string => p.strings[i] ?? '';
  const text = ([code, ...values]: number[]): string => reasonText(s(code), values.map(s));
  const skipped = p.skips.map(([run, phase, ...reason]) => ({
    runId: s(run),
    phaseId: s(phase),
    reason: text(reason),
  }));
  const reasons = new Map((p.log ?? []).map(([i, ...reason]) => [i, text(reason)]));
  const out = events.map((e, i) => (reasons.has(i) ? { ...e, reason: reasons.get(i)! } : e));
  return { skipped, events: out };
}
