/** `drain list`: recent and running drain sessions, from Temporal visibility and the sessions' memos. */
import { Command, InvalidArgumentError } from 'commander';
import { formatColumns } from '../../domain/text-table.js';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { addConnFlags, withClient, type ConnFlags } from '../conn.js';

const RECENT_HOURS = 24;

/** One session as `drain list` shows it: its Temporal execution and the memo its workflow keeps. */
export interface SessionListing {
  sessionId: string;
  status: string;
  drainStatus: string | null;
  startTime: string;
  closeTime: string | null;
  processed: number | null;
  batchSize: number | null;
  succeeded: number | null;
  failed: number | null;
  runFilter: string | null;
  stopReason: string | null;
  sessionJson: string | null;
}

const num = (v: unknown) => (typeof v === 'number' ? v : null);
const str = (v: unknown) => (typeof v === 'string' ? v : null);

export function sessionRow(w: WorkflowExecutionInfo): SessionListing {
  const m = (w.memo ?? {}) as Record<string, unknown>;
  return {
    sessionId: w.workflowId,
    status: w.status.name,
    drainStatus: str(m.status),
    startTime: w.startTime.toISOString(),
    closeTime: w.closeTime ? w.closeTime.toISOString() : null,
    processed: num(m.processed),
    batchSize: num(m.batchSize),
    succeeded: num(m.succeeded),
    failed: num(m.failed),
    runFilter: str(m.runFilter),
    stopReason: str(m.stopReason),
    sessionJson: str(m.sessionJson),
  };
}

/** The visibility query: running sessions plus those closed in the last day, or every session. */
export function listQuery(all: boolean, now = new Date()): string {
  const base = "WorkflowType = 'batchDrain'";
  if (all) return base;
  const since = new Date(now.getTime() - RECENT_HOURS * 3600_000).toISOString();
  return `${base} AND (ExecutionStatus = 'Running' OR CloseTime > '${since}')`;
}

const time = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
const orDash = (v: number | string | null) => (v == null ? '-' : String(v));

export function formatSessionTable(rows: SessionListing[]): string {
  const head = [
    'SESSION',
    'STATUS',
    'STARTED',
    'CLOSED',
    'PROCESSED',
    'OK/FAILED',
    'RUN FILTER',
    'STOP REASON',
  ];
  const body = rows.map((r) => [
    r.sessionId,
    r.status === 'RUNNING' && r.drainStatus && r.drainStatus !== 'running'
      ? `RUNNING (${r.drainStatus})`
      : r.status,
    time(r.startTime),
    time(r.closeTime),
    `${orDash(r.processed)}/${orDash(r.batchSize)}`,
    `${orDash(r.succeeded)}/${orDash(r.failed)}`,
    orDash(r.runFilter),
    orDash(r.stopReason),
  ]);
  return formatColumns(head, body);
}

const limitArg = (v: string) => {
  if (!/^\d+$/.test(v.trim()))
    throw new InvalidArgumentError(`--limit must be a whole number >= 0, got "${v}"`);
  return Number(v);
};

export function registerList(program: Command): void {
  addConnFlags(
    program
      .command('list')
      .description(
        `drain sessions, newest first: running ones and those closed in the last ${RECENT_HOURS} hours`,
      )
      .option('--all', 'every session the Temporal server still keeps, not only recent ones')
      .option('--limit <n>', 'show at most this many sessions (0 = no limit)', limitArg, 20)
      .option('--json', 'print the sessions as a JSON array'),
  ).action(async (flags: ConnFlags & { all?: boolean; limit: number; json?: boolean }) => {
    await withClient(flags, async (client) => {
      const found: WorkflowExecutionInfo[] = [];
      for await (const w of client.workflow.list({ query: listQuery(Boolean(flags.all)) })) found.push(w);
      found.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
      const rows = (flags.limit > 0 ? found.slice(0, flags.limit) : found).map(sessionRow);
      if (flags.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) {
        console.log(
          flags.all
            ? 'No drain sessions.'
            : `No running drain sessions, none closed in the last ${RECENT_HOURS} hours (try --all).`,
        );
        return;
      }
      console.log(formatSessionTable(rows));
      if (rows.length < found.length) console.log(`(${found.length - rows.length} more; raise --limit)`);
    });
  });
}
