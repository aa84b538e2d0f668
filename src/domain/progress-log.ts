/**
 * The session's progress lines in the original controller's format, as events the workflow
 * appends as they happen (select → skips → draining → result) and any follower prints in
 * order: `drain start --wait`, `drain watch --log`. Pure; bounded.
 */
import type { ResultDigest } from './session-state.js';
import type { SkipRecord } from './types.js';
import { oneLine } from './one-line.js';
import { formatTokens } from './tokens.js';

/**
 * `slot` (1-based) is set only in sessions with several slots, whose lines interleave: each
 * line then starts with `[slot N]`, and a result line names its phase.
 */
export type ProgressEvent = { slot?: number } & (
  | { seq: number; kind: 'select'; index: number; total: number }
  | { seq: number; kind: 'skip'; runId: string; phaseId: string; reason: string }
  | { seq: number; kind: 'skips-omitted'; count: number }
  | { seq: number; kind: 'draining'; runId: string; phaseId: string; phaseIndex: number; attempt: number }
  | { seq: number; kind: 'result'; digest: ResultDigest }
);

type NewEvent = ProgressEvent extends infer E ? (E extends ProgressEvent ? Omit<E, 'seq'> : never) : never;

/** Events kept for followers; one that falls further behind is told how many it missed. */
export const MAX_LOG_KEPT = 60;
/** Skip lines per selection; the rest are counted in one line. */
export const MAX_SKIP_LINES = 20;

export interface ProgressLog {
  /** Sequence number of the last event (0: none yet). */
  seq: number;
  events: ProgressEvent[];
}

export const emptyLog = (): ProgressLog => ({ seq: 0, events: [] });

export function appendEvents(log: ProgressLog, add: NewEvent[]): ProgressLog {
  if (add.length === 0) return log;
  let seq = log.seq;
  const stamped = add.map((e) => ({ ...e, seq: ++seq }) as ProgressEvent);
  return { seq, events: [...log.events, ...stamped].slice(-MAX_LOG_KEPT) };
}

/** `{ slot }` for a session with several slots (`slot` 0-based), else nothing. */
export const slotTag = (slot: number | undefined): { slot?: number } =>
  slot === undefined ? {} : { slot: slot + 1 };

/** The skip events of one selection: at most MAX_SKIP_LINES, then a count of the rest. */
export function skipEvents(skips: SkipRecord[], tag: { slot?: number } = {}): NewEvent[] {
  const shown: NewEvent[] = skips
    .slice(0, MAX_SKIP_LINES)
    .map((s) => ({ kind: 'skip', runId: s.runId, phaseId: s.phaseId, reason: s.reason, ...tag }));
  if (skips.length > MAX_SKIP_LINES)
    shown.push({ kind: 'skips-omitted', count: skips.length - MAX_SKIP_LINES, ...tag });
  return shown;
}

const rate = (events: number, seconds: number) => (seconds > 0 ? (events / seconds) * 60 : 0).toFixed(2);

/** The result lines of one attempt, as the original prints them. */
export function resultLines(d: ResultDigest): string[] {
  if (d.unjudged) {
    const tag = d.unjudged === 'lost' ? '[LOST]' : '[ABANDONED]';
    return [`  ${tag} Not judged: ${oneLine(d.errorMessage ?? d.unjudged)}`];
  }
  const lines = d.success
    ? [`  [OK] Success: ${oneLine(d.finalState ?? 'COMPLETE')}`]
    : [
        `  ${d.tokenCapped ? '[TOKEN CAP]' : d.stalled ? '[STALLED]' : d.timedOut ? '[TIMEOUT]' : d.cancelled ? '[CANCELLED]' : '[FAIL]'} Failed: ${oneLine(d.finalState ?? 'UNKNOWN')}`,
      ];
  if (!d.success && d.errorMessage) lines.push(`    Error: ${oneLine(d.errorMessage)}`);
  lines.push(`    [TELEMETRY] +${d.events} events (${rate(d.events, d.durationSeconds)}/min)`);
  if (d.tokens !== undefined)
    lines.push(`    [TOKENS] ${d.tokens === null ? 'n/a' : `+${formatTokens(d.tokens)}`}`);
  return lines;
}

/** The lines of one event (with its slot, when it has one). */
export function eventLines(e: ProgressEvent): string[] {
  const lines = plainLines(e);
  if (e.slot === undefined) return lines;
  if (e.kind === 'result' && lines.length)
    lines[0] += ` (${oneLine(e.digest.runId)} / ${oneLine(e.digest.phaseId)})`;
  return lines.map((l) => `[slot ${e.slot}] ${l}`);
}

function plainLines(e: ProgressEvent): string[] {
  switch (e.kind) {
    case 'select':
      return [`[${e.index}/${e.total}] Selecting next phase...`];
    case 'skip':
      return [`  [SKIP] ${oneLine(e.runId)}/${oneLine(e.phaseId)}: ${oneLine(e.reason)}`];
    case 'skips-omitted':
      return [`  [SKIP] ... and ${e.count} more phases passed over`];
    case 'draining':
      return [`  Draining: ${oneLine(e.runId)} / ${oneLine(e.phaseId)} (index ${e.phaseIndex})`];
    case 'result':
      return resultLines(e.digest);
  }
}

/**
 * The lines a follower that has printed up to `printedSeq` prints now, and the new mark.
 * Events that fell out of the kept window are reported as one line, never silently lost.
 */
export function linesSince(log: ProgressLog, printedSeq: number): { lines: string[]; seq: number } {
  const fresh = log.events.filter((e) => e.seq > printedSeq);
  const lines: string[] = [];
  const first = fresh[0]?.seq ?? log.seq + 1;
  if (first > printedSeq + 1 && log.seq > printedSeq) {
    lines.push(`  ... ${first - printedSeq - 1} earlier progress lines not shown (follower fell behind)`);
  }
  for (const e of fresh) lines.push(...eventLines(e));
  return { lines, seq: Math.max(printedSeq, log.seq) };
}
