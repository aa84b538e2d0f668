import type { WorkflowHandle } from '@temporalio/client';
import { progressQuery, type Progress, type SessionResult } from '../domain/messages.js';
import type { ResultDigest } from '../domain/session-state.js';

export function digestLine(d: ResultDigest, index: number, total: number): string {
  const tag = d.success ? '[OK]' : d.timedOut ? '[TIMEOUT]' : d.cancelled ? '[CANCELLED]' : '[FAIL]';
  const lines = [
    `[${index}/${total}] ${d.runId} / ${d.phaseId} (attempt ${d.attempt})`,
    `  ${tag} ${d.success ? 'Success' : 'Failed'}: ${d.finalState ?? 'unknown state'} in ${d.durationSeconds.toFixed(1)}s`,
  ];
  if (!d.success && d.errorMessage) lines.push(`    Error: ${d.errorMessage}`);
  const rate = d.durationSeconds > 0 ? (d.events / d.durationSeconds) * 60 : 0;
  lines.push(`    [TELEMETRY] +${d.events} events (${rate.toFixed(2)}/min)`);
  return lines.join('\n');
}

/**
 * Prints a session's results as they happen (polling the `progress` query) until it ends
 * or `stop` resolves. Returns the session result, or null when interrupted.
 */
export async function followSession(
  handle: WorkflowHandle,
  o: { print: (s: string) => void; stop?: Promise<unknown>; intervalMs?: number },
): Promise<SessionResult | null> {
  const seen = new Set<string>();
  const seenSkips = new Set<string>();
  let interrupted = false;
  void o.stop?.then(() => (interrupted = true));
  const result = handle.result() as Promise<SessionResult>;
  let done = false;
  void result.then(
    () => (done = true),
    () => (done = true),
  );
  let announced = '';
  const poll = async () => {
    let p: Progress;
    try {
      p = await handle.query(progressQuery);
    } catch {
      return;
    }
    p.recent.forEach((d, i) => {
      const k = `${d.runId}\u0000${d.phaseId}\u0000${d.attempt}`;
      if (!seen.has(k)) {
        seen.add(k);
        o.print(digestLine(d, p.processed - p.recent.length + i + 1, p.batchSize));
      }
    });
    for (const s of p.skipped) {
      const k = `${s.runId}\u0000${s.phaseId}\u0000${s.reason}`;
      if (!seenSkips.has(k)) {
        seenSkips.add(k);
        o.print(`  [SKIP] ${s.runId}/${s.phaseId}: ${s.reason}`);
      }
    }
    if (p.current) {
      const k = `${p.current.runId}/${p.current.phaseId}#${p.current.attempt}`;
      if (k !== announced) {
        announced = k;
        o.print(
          `  Draining: ${p.current.runId} / ${p.current.phaseId} (timeout ${p.current.timeoutSeconds}s)`,
        );
      }
    }
  };
  while (!done && !interrupted) {
    await poll();
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 1000));
  }
  if (interrupted && !done) return null;
  await poll().catch(() => {});
  return result;
}
