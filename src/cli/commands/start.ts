import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { connectClient, startDrain } from '../../client.js';
import { createPool } from '../../db/pool.js';
import { backlogCounts } from '../../db/phases.js';
import { readDatabaseIdentity } from '../../db/identity.js';
import { sessionIdProblem } from '../../domain/files.js';
import { formatPlan, formatSummary } from '../../domain/report.js';
import { redactUrl } from '../../domain/redact.js';
import { addDrainFlags, validatedDrainInput } from '../start-options.js';
import { followSession } from '../follow.js';
import { databaseUrlOrEmbedded, onceInterrupted, temporalTarget, UsageError } from '../env.js';
import { newestSession, readSessionJson } from '../session-lookup.js';
import { verdictLine, verifySession } from '../verify-session.js';
import { DEFAULT_TASK_QUEUE } from '../../worker.js';

/**
 * The DB identity banner; refuses an empty backlog unless allowed. Returns the database's
 * identity id (the session is pinned to it), or null when this machine cannot read it.
 */
async function banner(allowEmpty: boolean, quiet: boolean): Promise<string | null> {
  const url = databaseUrlOrEmbedded();
  if (!url) {
    if (!quiet) console.log("Database: (DATABASE_URL not set here; the worker's database is used)");
    return null;
  }
  const embedded = !process.env.DATABASE_URL;
  const pool = createPool(url, 1);
  try {
    let c;
    try {
      c = await backlogCounts(pool);
    } catch (err) {
      const msg = `cannot read the backlog at ${redactUrl(url)}: ${(err as Error).message}`;
      // DATABASE_URL was given: a wrong one is an error. The embedded database may simply
      // not be running here (the worker may be elsewhere): say so and go on.
      if (!embedded) throw new Error(msg);
      if (!quiet)
        console.log(`Database: ${msg} (embedded database not running here; the worker's database is used)`);
      return null;
    }
    if (!quiet) {
      const states = Object.entries(c.byState)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ');
      console.log(
        `Database: ${redactUrl(url)} — ${c.runs} runs, ${c.phases} phases${states ? ` (${states})` : ''}`,
      );
    }
    if (c.phases === 0 && !allowEmpty) {
      throw new UsageError(
        `the database ${redactUrl(url)} has no phases: is DATABASE_URL pointing at the right database? (--allow-empty-db to start anyway)`,
      );
    }
    return (await readDatabaseIdentity(pool).catch(() => null))?.id ?? null; // null: not migrated yet
  } finally {
    await pool.end();
  }
}

/** The verdict of `drain verify` for a finished session, when this machine reaches its database. */
async function verdictOf(sessionId: string): Promise<{ line: string; json: 'PASS' | 'FAIL' | null }> {
  const url = databaseUrlOrEmbedded();
  const elsewhere = {
    line: `Verdict: not checked here (run \`drain verify ${sessionId}\` where DATABASE_URL reaches the backlog)`,
    json: null,
  };
  if (!url) return elsewhere;
  const pool = createPool(url, 1);
  try {
    const r = await verifySession(pool, sessionId);
    return { line: `${verdictLine(r)} — details: drain verify ${sessionId}`, json: r.verdict };
  } catch {
    return elsewhere;
  } finally {
    await pool.end();
  }
}

export function registerStart(program: Command): void {
  addDrainFlags(
    program
      .command('start')
      .description(
        'start a drain session (a batchDrain workflow); flags are those of the original controller',
      ),
  )
    .option('--session-id <id>', 'session id = workflow id (default batch-drain-YYYYMMDD-HHMMSS)')
    .option('--task-queue <name>', 'task queue of the workers', DEFAULT_TASK_QUEUE)
    .option(
      '--wait',
      'follow the session, print its summary and the verdict of drain verify; exit 1 if a phase is still failed at the end (its last attempt failed), 130 if interrupted',
    )
    .option('--json', 'machine-readable output')
    .option('--resume', 'attach to the newest running session instead of starting a second one')
    .option('--allow-empty-db', 'start even if the database has no phases')
    .option('--address <host:port>', 'Temporal address (default TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default TEMPORAL_NAMESPACE or default)')
    .action(async (flags: Record<string, unknown>) => {
      const input = validatedDrainInput(flags);
      const idProblem = flags.sessionId === undefined ? null : sessionIdProblem(flags.sessionId);
      if (idProblem) throw new UsageError(`--session-id: ${idProblem}`);
      const json = Boolean(flags.json);
      const t = temporalTarget(flags as { address?: string; namespace?: string });
      const client = await connectClient(t.address, t.namespace);
      let handle;
      if (flags.resume) {
        const id = await newestSession(client);
        if (!id) throw new UsageError('--resume: no running drain session to attach to');
        handle = client.workflow.getHandle(id);
        if (!json) console.log(`Attached to running session ${id}`);
      } else {
        const databaseId = await banner(Boolean(flags.allowEmptyDb), json);
        if (databaseId && !input.dryRun) input.databaseId = databaseId;
        try {
          handle = await startDrain(client, input, {
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
        if (json && !flags.wait && !input.dryRun) {
          console.log(JSON.stringify({ sessionId: handle.workflowId, runId: handle.firstExecutionRunId }));
          return;
        }
        if (!json) console.log(`Started session ${handle.workflowId} (task queue ${flags.taskQueue})`);
      }
      if (!flags.wait && !input.dryRun) {
        console.log(`  watch it:   drain watch ${handle.workflowId}`);
        console.log(`  status:     drain status ${handle.workflowId}`);
        return;
      }
      const interrupted = onceInterrupted();
      let result;
      try {
        result = await followSession(handle, { print: json ? () => {} : console.log, stop: interrupted });
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
        return;
      }
      if (input.dryRun) {
        if (json) {
          const planned = result.planned.map((p) => ({
            runId: p.runId,
            phaseId: p.phaseId,
            phaseIndex: p.phaseIndex,
            category: p.category,
          }));
          console.log(JSON.stringify({ planned, skipped: result.skipped }));
        } else {
          console.log(formatPlan(result.planned));
        }
        return;
      }
      const verdict = await verdictOf(handle.workflowId);
      if (json) console.log(JSON.stringify({ ...result, verdict: verdict.json }));
      else {
        const { json: session } = await readSessionJson(client, handle.workflowId).catch(() => ({
          json: null,
        }));
        console.log(session ? formatSummary(session) : JSON.stringify(result, null, 2));
        console.log(`\n${verdict.line}`);
      }
      // A phase that failed and then succeeded on a retry is not a failure of the session.
      process.exitCode = result.phasesStillFailed > 0 ? 1 : 0;
    });
}
