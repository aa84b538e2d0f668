/** `drain schedule …`: recurring drain sessions as Temporal Schedules (overlap SKIP). */
import type { Command } from 'commander';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
} from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../../domain/task-queue.js';
import { formatTable } from '../../domain/text-table.js';
import { addDrainFlags, validatedDrainInput } from '../start-options.js';
import { UsageError } from '../env.js';
import { addConnFlags, withClient, type ConnFlags } from '../conn.js';
import {
  formatScheduleView,
  scheduleView,
  sessionIdPrefix,
  validateCron,
  validateScheduleId,
  validateTimezone,
  type ScheduleView,
} from '../schedule-format.js';

const CATCHUP_WINDOW = '10m';
/** Used when `schedule create` is given no id: its sessions are batch-drain-<timestamp>. */
const DEFAULT_SCHEDULE_ID = 'batch-drain';
const TRIGGER_WAIT_MS = 10_000;

/** Runs `fn` on the schedule's handle; a missing schedule becomes a clear error. */
async function onSchedule<T>(
  client: Client,
  id: string,
  fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>,
): Promise<T> {
  try {
    return await fn(client.schedule.getHandle(id));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new Error(
        `no schedule "${id}" in namespace ${client.options.namespace} (see \`drain schedule list\`)`,
      );
    }
    throw err;
  }
}

const view = async (client: Client, id: string) =>
  scheduleView(await onSchedule(client, id, (h) => h.describe()));

export function registerSchedule(program: Command): void {
  const schedule = program
    .command('schedule')
    .description(
      'recurring drain sessions as Temporal Schedules: never two sessions of one schedule at once (overlap SKIP)',
    );

  addConnFlags(
    addDrainFlags(
      schedule
        .command('create [scheduleId]')
        .description(
          `create a schedule (id default "${DEFAULT_SCHEDULE_ID}") that starts a drain session (batchDrain) at every cron time; a session still running makes the next one skip; catch-up window ${CATCHUP_WINDOW}`,
        )
        .requiredOption(
          '--cron <expr>',
          'when, as 5 cron fields: minute hour day-of-month month day-of-week (e.g. "0 2 * * *")',
        )
        .option('--timezone <tz>', 'IANA time zone of the cron times', 'UTC')
        .option('--note <text>', 'a note kept on the schedule (shown by describe)')
        .option('--paused', 'create it paused (start it with `drain schedule unpause`)'),
    ).option('--task-queue <name>', 'task queue of the workers', DEFAULT_TASK_QUEUE),
  ).action(async (given: string | undefined, flags: Record<string, unknown> & ConnFlags) => {
    const id = given ?? DEFAULT_SCHEDULE_ID;
    validateScheduleId(id);
    const cron = validateCron(String(flags.cron));
    const timezone = validateTimezone(String(flags.timezone));
    const input = validatedDrainInput(flags);
    await withClient(flags, async (client) => {
      try {
        await client.schedule.create({
          scheduleId: id,
          spec: { cronExpressions: [cron], timezone },
          action: {
            type: 'startWorkflow',
            workflowType: 'batchDrain',
            args: [input],
            taskQueue: String(flags.taskQueue),
            workflowId: sessionIdPrefix(id),
            staticSummary: `scheduled batch drain (schedule ${id})`,
          },
          policies: {
            overlap: ScheduleOverlapPolicy.SKIP,
            catchupWindow: CATCHUP_WINDOW,
            pauseOnFailure: false,
          },
          state: { paused: Boolean(flags.paused), note: flags.note as string | undefined },
          memo: { cron, timezone, createdBy: 'drain schedule create' },
        });
      } catch (err) {
        if (err instanceof ScheduleAlreadyRunning) {
          throw new UsageError(
            `schedule "${id}" already exists; delete it first (drain schedule delete ${id}) or pick another id`,
          );
        }
        if (err instanceof TypeError && /spec|cron/i.test(err.message))
          throw new UsageError(`--cron: ${err.message}`);
        throw err;
      }
      console.log(`Created schedule ${id}${flags.paused ? ' (paused)' : ''}: cron "${cron}" in ${timezone}`);
      console.log(
        `  each session is a batchDrain workflow with id ${sessionIdPrefix(id)}-<action time>, input ${JSON.stringify(input)}`,
      );
      const v = await view(client, id).catch(() => null);
      if (v?.nextActionTimes.length) console.log(`  next: ${v.nextActionTimes.slice(0, 3).join(', ')}`);
      console.log(`  run one now: drain schedule trigger ${id}`);
    });
  });

  addConnFlags(
    schedule.command('list').description('drain schedules: state, cron, next action, last session'),
  )
    .option('--json', 'print them as JSON')
    .action(async (flags: ConnFlags & { json?: boolean }) => {
      await withClient(flags, async (client) => {
        const rows: {
          scheduleId: string;
          paused: boolean;
          cron: string | null;
          next: string | null;
          last: string | null;
          note: string | null;
        }[] = [];
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
        rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
        if (flags.json) return console.log(JSON.stringify(rows, null, 2));
        if (!rows.length) return console.log('No drain schedules (create one with `drain schedule create`).');
        const head = ['SCHEDULE', 'STATE', 'CRON', 'NEXT', 'LAST SESSION', 'NOTE'];
        const body = rows.map((r) => [
          r.scheduleId,
          r.paused ? 'paused' : 'active',
          r.cron ?? '-',
          r.next ?? '-',
          r.last ?? '-',
          r.note ?? '',
        ]);
        console.log(formatTable(head, body, { trimEnd: true }));
      });
    });

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
