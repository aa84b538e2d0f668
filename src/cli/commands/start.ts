import type { Command } from 'commander';
import { connectClient } from '../../client.js';
import { reachableStores } from '../database.js';
import { formatSummary } from '../../domain/report.js';
import { addDrainFlags, validatedDrainInput } from '../start-options.js';
import { temporalTarget, UsageError } from '../env.js';
import { newestSession, readSessionJson } from '../session-lookup.js';
import { verdictLine, verifySession } from '../verify-session.js';
import { addSessionFlags, checkSessionIdFlag, followToResult, startSession } from '../start-session.js';
import { formatPlanWithForecast } from './forecast.js';

/** The verdict of `drain verify` for a finished session, when this machine reaches its database. */
async function verdictOf(sessionId: string): Promise<{ line: string; json: 'PASS' | 'FAIL' | null }> {
  const elsewhere = {
    line: `Verdict: not checked here (run \`drain verify ${sessionId}\` where DATABASE_URL reaches the backlog)`,
    json: null,
  };
  const stores = await reachableStores()
    .then((r) => r.stores)
    .catch(() => null);
  if (!stores) return elsewhere;
  try {
    const r = await verifySession(stores.backlog.sql(), sessionId);
    return { line: `${verdictLine(r)} — details: drain verify ${sessionId}`, json: r.verdict };
  } catch {
    return elsewhere;
  } finally {
    await stores.close();
  }
}

export function registerStart(program: Command): void {
  addSessionFlags(
    addDrainFlags(
      program
        .command('start')
        .description(
          'start a drain session (a batchDrain workflow); flags are those of the original controller',
        ),
    ),
  )
    .option(
      '--wait',
      'follow the session, print its summary and the verdict of drain verify; exit 1 if a phase is still failed at the end (its last attempt failed), 130 if interrupted',
    )
    .option(
      '--json',
      'machine-readable output (with --dry-run: {"planned":[{"runId","phaseId","phaseIndex","category"}],"skipped":[...]}; the forecast is in drain forecast --json)',
    )
    .option('--resume', 'attach to the newest running session instead of starting a second one')
    .addHelpText(
      'after',
      '\n--dry-run prints the plan with a forecast per phase (telemetry events and minutes from past attempts: see drain forecast --help), the batch forecast and the error of past forecasts.',
    )
    .action(async (flags: Record<string, unknown>) => {
      const input = validatedDrainInput(flags);
      checkSessionIdFlag(flags);
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
        handle = await startSession(client, input, flags, json);
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
      const result = await followToResult(handle, json);
      if (!result) return;
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
          console.log(await formatPlanWithForecast(result.planned));
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
