/** Pure helpers of `drain schedule`: argument validation and the describe view. */
import type { ScheduleDescription } from '@temporalio/client';
import { formatDuration } from '../domain/format.js';
import { UsageError } from './env.js';

const CRON_FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];

/** A 5-field cron expression (minute hour day-of-month month day-of-week), else a UsageError. */
export function validateCron(expr: string): string {
  const fields = expr.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5) {
    throw new UsageError(
      `--cron must have 5 fields (${CRON_FIELDS.join(' ')}), e.g. "0 2 * * *"; got ${fields.length}: "${expr}"`,
    );
  }
  fields.forEach((f, i) => {
    if (!/^[0-9A-Za-z*?/,-]+$/.test(f)) {
      throw new UsageError(`--cron: invalid ${CRON_FIELDS[i]} field "${f}" in "${expr}"`);
    }
  });
  return fields.join(' ');
}

/** An IANA time zone name the runtime knows, else a UsageError. */
export function validateTimezone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new UsageError(
      `--timezone: unknown time zone "${tz}" (use an IANA name such as UTC or Europe/Berlin)`,
    );
  }
  return tz;
}

/** Schedule ids become part of workflow ids: keep them simple. */
export function validateScheduleId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(id)) {
    throw new UsageError(
      `schedule id "${id}" must be 1-200 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return id;
}

/** The action's workflow id; the server appends the action time to it for each session. */
export const sessionIdPrefix = (scheduleId: string) =>
  scheduleId.startsWith('batch-drain') ? scheduleId : `batch-drain-${scheduleId}`;

export interface ScheduleView {
  scheduleId: string;
  cron: string | null;
  timezone: string | null;
  calendars: unknown[];
  paused: boolean;
  note: string | null;
  workflowType: string;
  taskQueue: string;
  workflowId: string;
  input: unknown;
  overlap: string;
  catchupWindowSeconds: number;
  numActionsTaken: number;
  numActionsSkippedOverlap: number;
  numActionsMissedCatchupWindow: number;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; takenAt: string; workflowId: string }[];
  runningActions: string[];
  createdAt: string;
}

export function scheduleView(d: ScheduleDescription): ScheduleView {
  const memo = (d.memo ?? {}) as Record<string, unknown>;
  return {
    scheduleId: d.scheduleId,
    cron: typeof memo.cron === 'string' ? memo.cron : null,
    timezone: d.spec.timezone ?? (typeof memo.timezone === 'string' ? memo.timezone : null),
    calendars: d.spec.calendars ?? [],
    paused: d.state.paused,
    note: d.state.note || null,
    workflowType: d.action.workflowType,
    taskQueue: d.action.taskQueue,
    workflowId: d.action.workflowId,
    input: d.action.args?.[0] ?? null,
    overlap: String(d.policies.overlap),
    catchupWindowSeconds: d.policies.catchupWindow / 1000,
    numActionsTaken: d.info.numActionsTaken,
    numActionsSkippedOverlap: d.info.numActionsSkippedOverlap,
    numActionsMissedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
    runningActions: d.info.runningActions.map((a) => a.workflow.workflowId),
    createdAt: d.info.createdAt.toISOString(),
  };
}

export function formatScheduleView(v: ScheduleView, maxNext = 5): string {
  const spec = v.cron ? `cron "${v.cron}"` : `calendars ${JSON.stringify(v.calendars)}`;
  const lines = [
    `Schedule ${v.scheduleId}: ${v.paused ? 'PAUSED' : 'active'}${v.note ? ` (note: ${v.note})` : ''}`,
    `  spec:      ${spec} in ${v.timezone || 'UTC'}`,
    `  action:    ${v.workflowType} on task queue ${v.taskQueue}; session ids ${v.workflowId}-<action time>`,
    `  input:     ${JSON.stringify(v.input)}`,
    `  policies:  overlap ${v.overlap} (never two sessions at once), catch-up window ${formatDuration(v.catchupWindowSeconds)}`,
    `  actions:   ${v.numActionsTaken} taken, ${v.numActionsSkippedOverlap} skipped (a session was still running), ${v.numActionsMissedCatchupWindow} missed the catch-up window`,
    `  created:   ${v.createdAt}`,
  ];
  const next = v.nextActionTimes.slice(0, maxNext);
  const paused = v.paused ? ' (not taken while paused)' : '';
  lines.push(`  next:      ${next.length ? next.join(', ') : '(none)'}${paused}`);
  lines.push(`  running:   ${v.runningActions.length ? v.runningActions.join(', ') : '(none)'}`);
  lines.push(`  recent:    ${v.recentActions.length ? '' : '(none)'}`.trimEnd());
  for (const a of v.recentActions.slice(-10).reverse()) lines.push(`    ${a.takenAt}  ${a.workflowId}`);
  return lines.join('\n');
}
