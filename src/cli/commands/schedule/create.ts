/** `drain schedule create`: a schedule that starts a drain session at every cron time. */
import type { Command } from 'commander';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../../../domain/task-queue.js';
import type { DrainInput } from '../../../domain/types.js';
import { addDrainFlags, validatedDrainInput } from '../../start-options.js';
import { UsageError } from '../../env.js';
import { addConnFlags, withClient, type ConnFlags } from '../../conn.js';
import {
  sessionIdPrefix,
  validateCron,
  validateScheduleId,
  validateTimezone,
} from '../../schedule-format.js';
import { CATCHUP_WINDOW, DEFAULT_SCHEDULE_ID, view } from './shared.js';

interface CreateSpec {
  id: string;
  cron: string;
  timezone: string;
  input: DrainInput;
  taskQueue: string;
  paused: boolean;
  note: string | undefined;
}

async function createSchedule(client: Client, s: CreateSpec): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: s.id,
      spec: { cronExpressions: [s.cron], timezone: s.timezone },
      action: {
        type: 'startWorkflow',
        workflowType: 'batchDrain',
        args: [s.input],
        taskQueue: s.taskQueue,
        workflowId: sessionIdPrefix(s.id),
        staticSummary: `scheduled batch drain (schedule ${s.id})`,
      },
      policies: {
        overlap: ScheduleOverlapPolicy.SKIP,
        catchupWindow: CATCHUP_WINDOW,
        pauseOnFailure: false,
      },
      state: { paused: s.paused, note: s.note },
      memo: { cron: s.cron, timezone: s.timezone, createdBy: 'drain schedule create' },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) {
      throw new UsageError(
        `schedule "${s.id}" already exists; delete it first (drain schedule delete ${s.id}) or pick another id`,
      );
    }
    if (err instanceof TypeError && /spec|cron/i.test(err.message))
      throw new UsageError(`--cron: ${err.message}`);
    throw err;
  }
}

export function registerScheduleCreate(schedule: Command): void {
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
      const [paused, note] = [Boolean(flags.paused), flags.note as string | undefined];
      await createSchedule(client, {
        id,
        cron,
        timezone,
        input,
        taskQueue: String(flags.taskQueue),
        paused,
        note,
      });
      console.log(`Created schedule ${id}${flags.paused ? ' (paused)' : ''}: cron "${cron}" in ${timezone}`);
      console.log(
        `  each session is a batchDrain workflow with id ${sessionIdPrefix(id)}-<action time>, input ${JSON.stringify(input)}`,
      );
      const v = await view(client, id).catch(() => null);
      if (v?.nextActionTimes.length) console.log(`  next: ${v.nextActionTimes.slice(0, 3).join(', ')}`);
      console.log(`  run one now: drain schedule trigger ${id}`);
    });
  });
}
