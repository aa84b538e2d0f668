/**
 * Starting and following a session from the CLI, shared by `drain start` and `drain forecast`
 * (which runs the dry run `drain start --dry-run --wait` runs): the DB identity banner, the
 * session flags, the start itself and following it to its result.
 */
import type { Command } from 'commander';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { startDrain, type SessionResult } from '../client.js';
import { databaseTargets } from '../db/targets.js';
import { reachableStores } from './database.js';
import { sessionIdProblem } from '../domain/files.js';
import type { DrainInput } from '../domain/types.js';
import { followSession } from './follow.js';
import { onceInterrupted, UsageError } from './env.js';
import { DEFAULT_TASK_QUEUE } from '../domain/task-queue.js';

/**
 * The DB identity banner; refuses an empty backlog unless allowed. Returns the database's
 * identity id (the session is pinned to it), or null when this machine cannot read it.
 */
async function banner(allowEmpty: boolean, quiet: boolean): Promise<string | null> {
  let reached: Awaited<ReturnType<typeof reachableStores>>;
  try {
    reached = await reachableStores();
  } catch (err) {
    // A named backlog (or records database) that cannot be opened is the operator's error.
    if (databaseTargets(process.env, process.cwd()).backlog) throw err;
    if (!quiet) console.log(`Database: ${(err as Error).message} (the worker's database is used)`);
    return null;
  }
  const { stores, named, label } = reached;
  if (!stores) {
    if (!quiet)
      console.log(
        named
          ? `Database: ${label} (our records' PostgreSQL is not reachable here; the worker's is used)`
          : "Database: (DATABASE_URL not set here; the worker's database is used)",
      );
    return null;
  }
  try {
    let c;
    try {
      c = await stores.backlog.backlogCounts();
    } catch (err) {
      const msg = `cannot read the backlog at ${label}: ${(err as Error).message}`;
      // DATABASE_URL was given: a wrong one is an error. The embedded database may simply
      // not be running here (the worker may be elsewhere): say so and go on.
      if (named) throw new Error(msg);
      if (!quiet)
        console.log(`Database: ${msg} (embedded database not running here; the worker's database is used)`);
      return null;
    }
    if (!quiet) {
      const states = Object.entries(c.byState)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ');
      console.log(`Database: ${label} — ${c.runs} runs, ${c.phases} phases${states ? ` (${states})` : ''}`);
    }
    if (c.phases === 0 && !allowEmpty) {
      throw new UsageError(
        `the database ${label} has no phases: is DATABASE_URL pointing at the right database? (--allow-empty-db to start anyway)`,
      );
    }
    return stores.database.id;
  } finally {
    await stores.close();
  }
}

/** The flags of starting a session beyond the drain flags (addDrainFlags). */
export function addSessionFlags(cmd: Command): Command {
  return cmd
    .option('--session-id <id>', 'session id = workflow id (default batch-drain-YYYYMMDD-HHMMSS)')
    .option('--task-queue <name>', 'task queue of the workers', DEFAULT_TASK_QUEUE)
    .option('--allow-empty-db', 'start even if the database has no phases')
    .option('--address <host:port>', 'Temporal address (default TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default TEMPORAL_NAMESPACE or default)');
}

/** --session-id checked, as a usage error. */
export function checkSessionIdFlag(flags: Record<string, unknown>): void {
  const idProblem = flags.sessionId === undefined ? null : sessionIdProblem(flags.sessionId);
  if (idProblem) throw new UsageError(`--session-id: ${idProblem}`);
}

/**
 * Prints the banner (unless quiet), then starts a session of `input` (pinned to the banner's
 * database unless it is a dry run). A session id already running is a usage error.
 */
export async function startSession(
  client: Client,
  input: DrainInput,
  flags: Record<string, unknown>,
  quiet: boolean,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const databaseId = await banner(Boolean(flags.allowEmptyDb), quiet);
  if (databaseId && !input.dryRun) input.databaseId = databaseId;
  try {
    return await startDrain(client, input, {
      sessionId: flags.sessionId as string | undefined,
      taskQueue: flags.taskQueue as string,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UsageError(
        `session ${err.workflowId} is already running; watch it with \`drain watch ${err.workflowId}\`, or use --resume / another --session-id`,
      );
    }
    throw err;
  }
}

/**
 * Follows the session (its progress lines unless quiet) to its result. Interrupted (Ctrl-C):
 * says the session goes on, sets exit code 130 and returns null.
 */
export async function followToResult(handle: WorkflowHandle, quiet: boolean): Promise<SessionResult | null> {
  const interrupted = onceInterrupted();
  let result;
  try {
    result = await followSession(handle, { print: quiet ? () => {} : console.log, stop: interrupted });
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new Error(`session ${handle.workflowId} failed: ${err.cause?.message ?? err.message}`);
    }
    throw err;
  }
  if (!result) {
    console.error(
      `\ninterrupted; the session goes on in Temporal. Stop it with: drain stop ${handle.workflowId}`,
    );
    process.exitCode = 130;
    return null;
  }
  return result;
}
