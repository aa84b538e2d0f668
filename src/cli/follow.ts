import type { WorkflowHandle } from '@temporalio/client';
import { progressQuery, type Progress, type SessionResult } from '../domain/messages.js';
import { linesSince } from '../domain/progress-log.js';

/**
 * Prints a session's progress lines in the original's format, in order, as they happen
 * (polling the `progress` query), until it ends or `stop` resolves. Returns the session
 * result, or null when interrupted. `fromStart: false` skips what happened before.
 */
export async function followSession(
  handle: WorkflowHandle,
  o: { print: (s: string) => void; stop?: Promise<unknown>; intervalMs?: number; fromStart?: boolean },
): Promise<SessionResult | null> {
  let printed = 0;
  let first = true;
  let interrupted = false;
  void o.stop?.then(() => (interrupted = true));
  const result = handle.result() as Promise<SessionResult>;
  let done = false;
  void result.then(
    () => (done = true),
    () => (done = true),
  );
  const poll = async () => {
    let p: Progress;
    try {
      p = await handle.query(progressQuery);
    } catch {
      return;
    }
    if (first && o.fromStart === false) printed = p.log.seq;
    first = false;
    const next = linesSince(p.log, printed);
    next.lines.forEach((l) => o.print(l));
    printed = next.seq;
  };
  while (!done && !interrupted) {
    await poll();
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
  }
  if (interrupted && !done) return null;
  await poll().catch(() => {});
  return result;
}
