/** `drain schedule describe`, `pause` and `unpause`: a schedule's view and its paused state. */
import type { Command } from 'commander';
import { addConnFlags, withClient, type ConnFlags } from '../../conn.js';
import { formatScheduleView } from '../../schedule-format.js';
import { onSchedule, view } from './shared.js';

export function registerScheduleDescribe(schedule: Command): void {
  addConnFlags(
    schedule
      .command('describe <scheduleId>')
      .description('spec, input, next action times, recent and running sessions, paused/note'),
  )
    .option('--json', 'print it as JSON')
    .action(async (id: string, flags: ConnFlags & { json?: boolean }) => {
      await withClient(flags, async (client) => {
        const v = await view(client, id);
        console.log(flags.json ? JSON.stringify(v, null, 2) : formatScheduleView(v));
      });
    });
}

export function registerSchedulePause(schedule: Command): void {
  for (const [verb, what] of [
    ['pause', 'no new sessions start until unpaused; a running session goes on'],
    ['unpause', 'sessions start again at the cron times'],
  ] as const) {
    addConnFlags(schedule.command(`${verb} <scheduleId>`).description(`${verb} a schedule: ${what}`))
      .option('--note <text>', 'why (shown by describe)')
      .action(async (id: string, flags: ConnFlags & { note?: string }) => {
        await withClient(flags, async (client) => {
          const note = flags.note ?? `${verb}d with drain schedule ${verb}`;
          await onSchedule(client, id, (h) => (verb === 'pause' ? h.pause(note) : h.unpause(note)));
          console.log(`Schedule ${id} ${verb}d: ${what}.`);
        });
      });
  }
}
