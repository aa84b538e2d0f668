/**
 * The live progress display of `drain watch`, as a pure function of the `progress` query
 * result and the terminal width (no clock, no I/O), so it is table-testable.
 */
import type { Progress } from '../domain/messages.js';
import { formatDuration } from '../domain/format.js';

export { formatDuration };

/**
 * Seconds until the batch is done: the average seconds per processed phase times the
 * phases left, capped by the remaining time budget. Null before the first phase ends.
 */
export function etaSeconds(p: Progress): number | null {
  if (p.processed <= 0) return null;
  const left = Math.max(0, p.batchSize - p.processed);
  const eta = (p.elapsedSeconds / p.processed) * left;
  return p.remainingSeconds == null ? eta : Math.min(eta, p.remainingSeconds);
}

const ENDED = new Set(['completed', 'cancelled']);

function etaText(p: Progress): string {
  if (ENDED.has(p.status)) return p.status === 'completed' ? 'done' : 'cancelled';
  if (p.paused && !p.stopRequested) return 'ETA paused';
  if (p.stopRequested) return 'ETA after the current phase';
  const eta = etaSeconds(p);
  return `ETA ${eta == null ? '?' : formatDuration(eta)}`;
}

/** Cuts a line to `width` characters (code points), marking the cut with `…`. */
export function fit(line: string, width: number): string {
  const chars = [...line];
  const w = Math.max(1, Math.floor(width));
  return chars.length <= w ? line : `${chars.slice(0, w - 1).join('')}…`;
}

/** `[#####-----]`: `cells` cells filled in proportion to done/total (0 when total is 0). */
export function bar(done: number, total: number, cells: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.floor(frac * cells);
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}]`;
}

function stateLine(p: Progress): string {
  const budget = p.remainingSeconds == null ? '' : `  budget left ${formatDuration(p.remainingSeconds)}`;
  const head = `${p.sessionId}  elapsed ${formatDuration(p.elapsedSeconds)}${budget}`;
  if (ENDED.has(p.status))
    return `${head}  ${p.status.toUpperCase()}${p.stopReason ? `: ${p.stopReason}` : ''}`;
  if (p.stopRequested) return `${head}  STOPPING: ends after the current phase`;
  if (p.paused) return `${head}  PAUSED: no new phase starts until resumed`;
  return `${head}  ${p.status}${p.dryRun ? ' (dry run)' : ''}`;
}

function phaseText(c: Progress['current'], p: Progress): string {
  if (!c) return ENDED.has(p.status) ? 'no phase running' : 'no phase running (selecting or waiting)';
  return `phase ${c.runId} / ${c.phaseId} (attempt ${c.attempt}) running ${formatDuration(c.runningSeconds)} of ${formatDuration(c.timeoutSeconds)}`;
}

/** One line for the only slot; one per slot (`slot 2: phase …`) when the session has several. */
function phaseLines(p: Progress): string[] {
  const slots = p.slots ?? [];
  if (slots.length <= 1) return [phaseText(p.current, p)];
  return slots.map((c, i) => `slot ${i + 1}: ${phaseText(c, p)}`);
}

/**
 * Three lines (one more per slot beyond the first), each at most `width` characters:
 *   [#####-----] 4/10  ok 3  fail 1  timeouts 0  events 12  ETA 2m10s
 *   phase <run> / <phase> (attempt 1) running 12s of 15m00s     (or: slot 1: phase …, slot 2: …)
 *   <session>  elapsed 3m02s  budget left 12m00s  running|PAUSED|STOPPING|COMPLETED: reason
 */
export function renderProgress(p: Progress, width: number): string[] {
  const cells = width >= 80 ? 20 : 10;
  const counts = `${p.processed}/${p.batchSize}  ok ${p.succeeded}  fail ${p.failed}  timeouts ${p.timeouts}  events ${p.telemetryEvents}`;
  return [
    `${bar(p.processed, p.batchSize, cells)} ${counts}  ${etaText(p)}`,
    ...phaseLines(p),
    stateLine(p),
  ].map((l) => fit(l, width));
}
