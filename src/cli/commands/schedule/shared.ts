/** What the `drain schedule` sub-commands share: the schedule's handle and its view. */
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { scheduleView } from '../../schedule-format.js';

export const CATCHUP_WINDOW = '10m';
/** Used when `schedule create` is given no id: its sessions are batch-drain-<timestamp>. */
export const DEFAULT_SCHEDULE_ID = 'batch-drain';

/** Runs `fn` on the schedule's handle; a missing schedule becomes a clear error. */
export async function onSchedule<T>(
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

export const view = async (client: Client, id: string) =>
  scheduleView(await onSchedule(client, id, (h) => h.describe()));
