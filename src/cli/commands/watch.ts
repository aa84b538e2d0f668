/** `drain watch`: a live progress bar of one session until it ends. */
import type { Command } from 'commander';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { progressQuery, type Progress } from '../../domain/messages.js';
import { renderProgress } from '../progress-bar.js';
import { onceInterrupted } from '../env.js';
import { addConnFlags, describeSession, withClient, type ConnFlags } from '../conn.js';
import { sessionIdOrNewest } from '../session-lookup.js';
import { followSession } from '../follow.js';

const POLL_MS = 1000;
const RPC_DEADLINE_MS = 5000;

/** Redraws a block of lines in place (TTY) or prints one line per change (plain). */
class Display {
  private drawn = 0;
  private lastKey = '';
  constructor(private readonly tty: boolean) {}

  show(lines: string[], key: string): void {
    if (this.tty) {
      const width = Math.max(20, (process.stdout.columns || 80) - 1);
      const fitted = lines.map((l) =>
        [...l].length > width ? `${[...l].slice(0, width - 1).join('')}…` : l,
      );
      let out = this.drawn > 0 ? `\x1b[${this.drawn}A\r` : '';
      for (const l of fitted) out += `\x1b[2K${l}\n`;
      for (let i = fitted.length; i < this.drawn; i++) out += '\x1b[2K\n';
      if (this.drawn > fitted.length) out += `\x1b[${this.drawn - fitted.length}A`;
      process.stdout.write(out);
      this.drawn = fitted.length;
    } else if (key !== this.lastKey) {
      this.lastKey = key;
      const t = new Date().toISOString().slice(11, 19);
      console.log(`${t} ${lines.filter(Boolean).join('  |  ')}`);
    }
  }

  /** Leaves the drawn block alone and prints below it. */
  print(line: string): void {
    this.drawn = 0;
    this.lastKey = '';
    console.log(line);
  }
}

/** What counts as a change in plain mode (not the ticking clocks). */
const changeKey = (p: Progress, note: string) =>
  JSON.stringify([
    p.status,
    p.paused,
    p.stopRequested,
    p.processed,
    p.succeeded,
    p.failed,
    p.timeouts,
    p.telemetryEvents,
    p.current && [p.current.runId, p.current.phaseId, p.current.attempt],
    (p.slots ?? []).map((c) => c && [c.runId, c.phaseId, c.attempt]),
    note,
  ]);

const sleep = (ms: number, stop: Promise<unknown>) =>
  Promise.race([new Promise((r) => setTimeout(r, ms)), stop]);
const errText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

function finalLine(d: WorkflowExecutionDescription): string {
  const m = (d.memo ?? {}) as Record<string, unknown>;
  const parts = [`Session ${d.workflowId} ended: ${d.status.name}`];
  if (d.closeTime) parts.push(`at ${d.closeTime.toISOString()}`);
  if (typeof m.processed === 'number') {
    parts.push(
      `— processed ${m.processed}/${m.batchSize ?? '?'}, ok ${m.succeeded ?? '?'}, failed ${m.failed ?? '?'}`,
    );
  }
  if (typeof m.stopReason === 'string') parts.push(`— stop reason: ${m.stopReason}`);
  return parts.join(' ');
}

async function watch(
  client: Client,
  sessionId: string,
  tty: boolean,
  stop: Promise<unknown>,
): Promise<boolean> {
  const handle = client.workflow.getHandle(sessionId);
  const display = new Display(tty);
  const deadline = <T>(fn: () => Promise<T>) => client.withDeadline(Date.now() + RPC_DEADLINE_MS, fn);
  let stopped = false;
  void stop.then(() => (stopped = true));
  let last: Progress | null = null;
  let note = '';
  const width = () => (tty ? Math.max(20, (process.stdout.columns || 80) - 1) : 1000);
  while (!stopped) {
    let d: WorkflowExecutionDescription | null = null;
    try {
      d = await deadline(() => handle.describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new Error(`session ${sessionId} no longer exists on the server`);
      note = `(cannot reach Temporal, retrying: ${errText(err)})`;
    }
    if (d && d.status.name !== 'RUNNING') {
      const final = await deadline(() => handle.query(progressQuery)).catch(() => null);
      if (final) display.show(renderProgress(final, width()), changeKey(final, 'final'));
      display.print(finalLine(d));
      return true;
    }
    if (d) {
      try {
        last = await deadline(() => handle.query(progressQuery));
        note = '';
      } catch (err) {
        note = `(progress query failed, retrying: ${errText(err)})`;
      }
    }
    if (last) display.show([...renderProgress(last, width()), note], changeKey(last, note));
    else if (note) display.show([note], note);
    await sleep(POLL_MS, stop);
  }
  return false;
}

export function registerWatch(program: Command): void {
  addConnFlags(
    program
      .command('watch [sessionId]')
      .description(
        'live progress bar of a session until it ends (default: the newest running session, else the newest one); Ctrl-C only stops watching',
      )
      .option(
        '--plain',
        'print one line per change instead of redrawing (the default when stdout is not a terminal)',
      )
      .option(
        '--log',
        "print the session's progress lines in the original controller's format ([3/10] Selecting next phase..., [SKIP], Draining:, [OK]/[FAIL], [TELEMETRY]) as they happen, instead of a progress bar",
      ),
  ).action(async (id: string | undefined, flags: ConnFlags & { plain?: boolean; log?: boolean }) => {
    await withClient(flags, async (client) => {
      const sessionId = await sessionIdOrNewest(client, id);
      await describeSession(client, sessionId);
      if (flags.log) {
        const handle = client.workflow.getHandle(sessionId);
        const result = await followSession(handle, { print: console.log, stop: onceInterrupted() }).catch(
          () => undefined, // a failed or terminated session: its lines were printed; say how it ended
        );
        if (result === null) {
          console.error(
            `\nstopped watching; session ${sessionId} goes on (drain stop ${sessionId} to end it)`,
          );
          process.exitCode = 130;
        } else {
          console.log(finalLine(await handle.describe()));
        }
        return;
      }
      const tty = Boolean(process.stdout.isTTY) && !flags.plain;
      if (!tty) console.log(`Watching session ${sessionId} (polling every ${POLL_MS / 1000}s)`);
      const ended = await watch(client, sessionId, tty, onceInterrupted());
      if (!ended) {
        console.error(`\nstopped watching; session ${sessionId} goes on (drain stop ${sessionId} to end it)`);
        process.exitCode = 130;
      }
    });
  });
}
