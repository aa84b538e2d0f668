/** `drain analyze`: yield, fingerprints, runs worth another drain and wasted minutes, from drain_attempts. */
import path from 'node:path';
import type { Command } from 'commander';
import { workspaceCommit } from '../../runtime/git.js';
import {
  analyzeTotals,
  openRunsWithTelemetry,
  sessionKnown,
  tokensByRun,
  topFingerprints,
} from '../../db/history.js';
import { memoryStopsInForce, phasesStoppedByMemory } from '../../db/memory.js';
import {
  buildAnalysis,
  formatAnalysis,
  TOP_FINGERPRINTS,
  TOP_RUNS,
  type AnalyzeScope,
} from '../../domain/analyze.js';
import { redactSecrets } from '../../domain/redact.js';
import { parseAge } from '../../domain/tidy-plan.js';
import { withBacklogDatabase } from '../database.js';
import { UsageError } from '../env.js';

const HELP = `
Scope: every attempt in drain_attempts; a session id limits it to that session, --since to
attempts that started within the age (14d, 12h, 30m; by the database's clock); both combine.

What it reports (definitions in src/domain/analyze.ts):
  judged attempts       rows with status finished or reconciled, and the share of them
                        with at least one telemetry event
  yield                 median and nearest-rank P90 of their events per minute (an attempt
                        without events counts as 0)
  nothing produced      every try that ended (any status but running) without a telemetry
                        event: how many, and the minutes they took
  top fingerprints      the ${TOP_FINGERPRINTS} most frequent failure fingerprints of judged attempts, with
                        attempt and run counts, and whether failure memory stops them now:
                        a stop in force for the commit of --workspace (a later session on
                        that commit honours it; outside a git checkout, stops without a commit)
  runs worth another drain
                        runs that still have FAILED or QUEUED phases, whose judged attempts
                        in the scope produced telemetry (yield > 0), and of whose FAILED and
                        QUEUED phases at least one is not passed over by failure memory;
                        highest yield (events per minute in the scope) first

--json prints
  {"scope": {"sessionId", "since", "commit"}, "judgedAttempts", "attemptsWithTelemetry",
   "telemetryShare", "events", "minutes", "yieldPerMinute": {"median", "p90"},
   "topFingerprints": [{"fingerprint", "attempts", "runs", "lastSeen", "stoppedByMemory",
                        "stop": {"sessionId", "stoppedAt"} | null}],
   "runsWorthAnotherDrain": [{"runId", "failed", "queued", "stoppedByMemory", "attempts",
                              "events", "minutes", "yieldPerMinute"}],
   "runsWorthAnotherDrainTotal", "emptyAttempts": {"tries", "minutes"}}
(shares are fractions 0..1; numbers rounded to 3 decimals; null where there is no data).

Database: DATABASE_URL, else this project's embedded Postgres (started for the call if it
is not running). Temporal is not contacted. Read-only.

Exit codes: 0 printed; 1 the database could not be read; 2 bad usage or an unknown session.
`;

interface AnalyzeFlags {
  since?: string;
  json?: boolean;
  workspace?: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description(
      'telemetry share, yield, top fingerprints (and whether memory stops them), runs worth another drain and minutes spent on attempts that produced nothing',
    )
    .argument('[session]', 'only this session (default: every session)')
    .option('--since <age>', 'only attempts that started within this age: 7d, 12h, 30m')
    .option(
      '--workspace <dir>',
      'the workspace whose git commit decides which memory stops are in force (default: the current directory)',
    )
    .option('--json', 'print the analysis as JSON')
    .addHelpText('after', HELP)
    .action(async (session: string | undefined, flags: AnalyzeFlags) => {
      if (session !== undefined && session.trim() === '') throw new UsageError('the session id is empty');
      let sinceMs: number | null = null;
      if (flags.since !== undefined) {
        sinceMs = parseAge(flags.since);
        if (sinceMs === null)
          throw new UsageError(
            `--since must be a whole number followed by d, h or m (7d, 12h, 30m), got "${flags.since}"`,
          );
      }
      const scope: AnalyzeScope = { sessionId: session ?? null, sinceMs };
      const commit = await workspaceCommit(path.resolve(flags.workspace ?? process.cwd()));
      const analysis = await withBacklogDatabase(async (pool) => {
        if (scope.sessionId !== null && !(await sessionKnown(pool, scope.sessionId))) {
          throw new UsageError(
            `unknown session ${redactSecrets(scope.sessionId)}: no records of it in this database`,
          );
        }
        const totals = await analyzeTotals(pool, scope);
        const fingerprints = await topFingerprints(pool, scope, TOP_FINGERPRINTS);
        const stops = await memoryStopsInForce(pool, commit);
        // '' is no session's id: every stop counts, as for a later session on this commit.
        const stopped = await phasesStoppedByMemory(pool, { commit, sessionId: '', runId: null });
        const openRuns = await openRunsWithTelemetry(pool, scope, stopped);
        const runTokens = await tokensByRun(pool, scope, TOP_RUNS);
        return buildAnalysis({
          runTokens,
          stoppedPhases: stopped,
          scope,
          since: flags.since ?? null,
          commit,
          totals,
          fingerprints,
          stops,
          openRuns,
        });
      });
      console.log(flags.json ? JSON.stringify(analysis, null, 2) : formatAnalysis(analysis));
    });
}
