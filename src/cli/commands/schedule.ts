/**
 * `drain schedule …`: recurring drain sessions as Temporal Schedules (overlap SKIP). One module
 * per sub-command under ./schedule/, registered here in the order of `drain schedule --help`.
 */
import type { Command } from 'commander';
import { registerScheduleCreate } from './schedule/create.js';
import { registerScheduleList } from './schedule/list.js';
import { registerScheduleDescribe, registerSchedulePause } from './schedule/state.js';
import { registerScheduleDelete, registerScheduleTrigger } from './schedule/trigger.js';

export function registerSchedule(program: Command): void {
  const schedule = program
    .command('schedule')
    .description(
      'recurring drain sessions as Temporal Schedules: never two sessions of one schedule at once (overlap SKIP)',
    );
  registerScheduleCreate(schedule);
  registerScheduleList(schedule);
  registerScheduleDescribe(schedule);
  registerSchedulePause(schedule);
  registerScheduleTrigger(schedule);
  registerScheduleDelete(schedule);
}
