/** Operator control of a running session: pause, resume, stop (signals) and cancel. */
import type { Command } from 'commander';
import { pauseSignal, resumeSignal, stopSignal } from '../../domain/messages.js';
import { addConnFlags, runningSession, withClient, type ConnFlags } from '../conn.js';

type Flags = ConnFlags & { reason?: string };

/** `drain pause` and `drain resume`. */
function registerPauseResume(program: Command): void {
  addConnFlags(
    program
      .command('pause <sessionId>')
      .description(
        'pause a session: the current phase (if any) finishes, then no new phase starts until `drain resume`',
      )
      .option('--reason <text>', 'why (kept with the pause signal in the workflow history)'),
  ).action(async (id: string, flags: Flags) => {
    await withClient(flags, async (client) => {
      await runningSession(client, id);
      await client.workflow.getHandle(id).signal(pauseSignal, flags.reason);
      console.log(`Pause requested for session ${id}${flags.reason ? ` (reason: ${flags.reason})` : ''}.`);
      console.log(
        '  The current phase, if one is running, finishes and is recorded; then the session waits.',
      );
      console.log(`  Continue with: drain resume ${id}    End it with a summary: drain stop ${id}`);
    });
  });

  addConnFlags(
    program
      .command('resume <sessionId>')
      .description('resume a paused session: it goes on selecting and draining phases'),
  ).action(async (id: string, flags: Flags) => {
    await withClient(flags, async (client) => {
      await runningSession(client, id);
      await client.workflow.getHandle(id).signal(resumeSignal);
      console.log(
        `Resume requested for session ${id}: it goes on with the next phase (no effect if it was not paused).`,
      );
    });
  });
}

/** `drain stop` (graceful, with a summary) and `drain cancel` (now). */
function registerStopCancel(program: Command): void {
  addConnFlags(
    program
      .command('stop <sessionId>')
      .description(
        'stop a session gracefully: the current phase (if any) finishes, then the session completes normally with a full summary',
      )
      .option(
        '--reason <text>',
        "why: the session's stop reason becomes 'stop requested by operator: <text>'",
      ),
  ).action(async (id: string, flags: Flags) => {
    await withClient(flags, async (client) => {
      await runningSession(client, id);
      await client.workflow.getHandle(id).signal(stopSignal, flags.reason);
      console.log(`Stop requested for session ${id}${flags.reason ? ` (reason: ${flags.reason})` : ''}.`);
      console.log(
        '  The current phase, if one is running, finishes and is recorded; no new phase starts (also when paused).',
      );
      console.log(
        "  The session then completes normally with stop reason 'stop requested by operator' (plus --reason) and writes its summary.",
      );
      console.log(`  Follow it with: drain watch ${id}    Summary afterwards: drain summary ${id}`);
    });
  });

  addConnFlags(
    program
      .command('cancel <sessionId>')
      .description(
        "cancel a session now: the running executor's process group is killed, the attempt is recorded as cancelled, and the session ends CANCELLED",
      ),
  ).action(async (id: string, flags: ConnFlags) => {
    await withClient(flags, async (client) => {
      await runningSession(client, id);
      await client.workflow.getHandle(id).cancel();
      console.log(`Cancellation requested for session ${id}.`);
      console.log(
        '  The running executor (if any) gets SIGTERM on its whole process group, SIGKILL after the kill grace;',
      );
      console.log(
        "  its drain_attempts row is marked 'cancelled', the run lease is released, a session report is written,",
      );
      console.log(
        '  and the workflow ends with status CANCELLED. For a graceful end use `drain stop` instead.',
      );
    });
  });
}

export function registerControl(program: Command): void {
  registerPauseResume(program);
  registerStopCancel(program);
}
