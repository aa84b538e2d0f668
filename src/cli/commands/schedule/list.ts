/** `drain schedule list`: the drain schedules with state, cron, next action and last session. */
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { formatTable } from '../../../domain/text-table.js';
import { addConnFlags, withClient, type ConnFlags } from '../../conn.js';

interface ScheduleListing {
  scheduleId: string;
  paused: boolean;
  cron: string | null;
  next: string | null;
  last: string | null;
  note: string | null;
}

/** The schedules that start batchDrain, by id. */
async function listSchedules(client: Client): Promise<ScheduleListing[]> {
  const rows: ScheduleListing[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.workflowType !== 'batchDrain') continue;
    const memo = (s.memo ?? {}) as Record<string, unknown>;
    rows.push({
      scheduleId: s.scheduleId,
      paused: s.state.paused,
      cron: typeof memo.cron === 'string' ? memo.cron : null,
      next: s.info.nextActionTimes[0]?.toISOString() ?? null,
      last: s.info.recentActions.at(-1)?.action.workflow.workflowId ?? null,
      note: s.state.note || null,
    });
  }
  return rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

function formatScheduleList(rows: ScheduleListing[]): string {
  const head = ['SCHEDULE', 'STATE', 'CRON', 'NEXT', 'LAST SESSION', 'NOTE'];
  const body = rows.map((r) => [
    r.scheduleId,
    r.paused ? 'paused' : 'active',
    r.cron ?? '-',
    r.next ?? '-',
    r.last ?? '-',
    r.note ?? '',
  ]);
  return formatTable(head, body, { trimEnd: true });
}

export function registerScheduleList(schedule: Command): void {
  addConnFlags(
    schedule.command('list').description('drain schedules: state, cron, next action, last session'),
  )
    .option('--json', 'print them as JSON')
    .action(async (flags: ConnFlags & { json?: boolean }) => {
      await withClient(flags, async (client) => {
        const rows = await listSchedules(client);
        if (flags.json) return console.log(JSON.stringify(rows, null, 2));
        if (!rows.length) return console.log('No drain schedules (create one with `drain schedule create`).');
        console.log(formatScheduleList(rows));
      });
    });
}
