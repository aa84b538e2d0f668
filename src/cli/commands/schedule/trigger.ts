/** `drain schedule trigger` and `delete`: one session now, or the schedule gone. */
import type { Command } from 'commander';
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { addConnFlags, withClient, type ConnFlags } from '../../conn.js';
import type { ScheduleView } from '../../schedule-format.js';
import { onSchedule, view } from './shared.js';

const TRIGGER_WAIT_MS = 10_000;

/** Waits briefly for the scheduler to take or skip the triggered action and says which. */
async function waitForTrigger(client: Client, id: string, before: ScheduleView): Promise<string> {
  const until = Date.now() + TRIGGER_WAIT_MS;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 300));
    const v = await view(client, id);
    if (v.numActionsTaken > before.numActionsTaken) {
      const started = v.recentActions.at(-1)?.workflowId ?? '?';
      return `Triggered schedule ${id}: started session ${started}\n  watch it: drain watch ${started}`;
    }
    if (v.numActionsSkippedOverlap > before.numActionsSkippedOverlap) {
      const running =
        v.runningActions.join(', ') || before.runningActions.join(', ') || 'a session of this schedule';
      return `Triggered schedule ${id}: skipped, ${running} is still running (overlap policy SKIP)`;
    }
  }
  return `Triggered schedule ${id} (overlap SKIP); the scheduler has not acted yet: see \`drain schedule describe ${id}\``;
}

export function registerScheduleTrigger(schedule: Command): void {
  addConnFlags(
    schedule
      .command('trigger <scheduleId>')
      .description(
        'start a session of the schedule now, unless one of its sessions is still running (then it is skipped)',
      ),
  ).action(async (id: string, flags: ConnFlags) => {
    await withClient(flags, async (client) => {
      const before = await view(client, id);
      await onSchedule(client, id, (h) => h.trigger(ScheduleOverlapPolicy.SKIP));
      const outcome = await waitForTrigger(client, id, before);
      console.log(outcome);
    });
  });
}

export function registerScheduleDelete(schedule: Command): void {
  addConnFlags(
    schedule
      .command('delete <scheduleId>')
      .description('delete a schedule; sessions it started are not affected (running ones go on)'),
  ).action(async (id: string, flags: ConnFlags) => {
    await withClient(flags, async (client) => {
      await onSchedule(client, id, (h) => h.delete());
      console.log(`Deleted schedule ${id}; its sessions (running or finished) are not affected.`);
    });
  });
}
