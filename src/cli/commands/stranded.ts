/** `drain stranded`: phases left EXECUTING by an attempt of ours that timed out, was cancelled or killed. */
import type { Command } from 'commander';
import {
  listStrandedPhases,
  STRANDING_STATUSES,
  toStrandedPhase,
  type StrandedPhase,
} from '../../db/stranded.js';
import { UsageError } from '../env.js';
import { withBacklogDatabase } from '../database.js';

export const STRANDED_HINT =
  'hand them back with `drain start --on-kill fail` next time, or set them FAILED yourself';

const HELP = `
Lists phases that are EXECUTING now and whose latest drain_attempts row (by id) timed
out or ended with status ${STRANDING_STATUSES.join(', ')}: autopack-drain stopped
(or lost) their executor mid-work, so nothing will move them out of EXECUTING, and an
EXECUTING phase is never selected (a drain takes FAILED and QUEUED phases only).

Text output: one block per phase (run, phase, the attempt's session, attempt, try, status
and finish time, its error message and log paths), then a hint. Read-only: nothing is changed.

--json prints
  {"stranded": [{"runId", "phaseId", "phaseIndex", "phaseState", "phaseUpdatedAt",
                 "attempt": {"id", "sessionId", "attempt", "try", "status", "timedOut",
                             "returnCode", "signal", "startedAt", "finishedAt",
                             "errorMessage", "stdoutPath", "stderrPath"}}]}
(times are ISO 8601 strings or null; "id" is the drain_attempts id as a string).

Database: DATABASE_URL, else this project's embedded Postgres (started for the call if it
is not running). Temporal is not contacted.

Exit codes: 0 listed (also when none is stranded); 1 the database could not be read; 2 bad usage.
`;

/** One block: the phase, then its last attempt, error and logs. */
export function formatStrandedBlock(s: StrandedPhase): string {
  const a = s.attempt;
  const ended = a.timedOut ? `${a.status}, timed out` : a.status;
  const exit = a.signal
    ? `signal ${a.signal}`
    : a.returnCode === null
      ? 'no exit code'
      : `exit ${a.returnCode}`;
  return [
    `${s.runId} / ${s.phaseId} (phase index ${s.phaseIndex}): ${s.phaseState} (phase updated ${s.phaseUpdatedAt ?? '-'})`,
    `  last attempt: session ${a.sessionId}, attempt ${a.attempt}, try ${a.try}, ${ended} (${exit}), finished ${a.finishedAt ?? '-'}`,
    `  error: ${a.errorMessage ?? '(none recorded)'}`,
    `  stdout: ${a.stdoutPath ?? '-'}`,
    `  stderr: ${a.stderrPath ?? '-'}`,
  ].join('\n');
}

export function formatStrandedText(list: readonly StrandedPhase[]): string {
  if (list.length === 0) return 'No stranded phases.';
  const head = `${list.length} stranded phase${list.length === 1 ? '' : 's'} (EXECUTING; the last drain attempt was timed out or stopped):`;
  return [head, ...list.map(formatStrandedBlock), STRANDED_HINT].join('\n\n');
}

export function registerStranded(program: Command): void {
  program
    .command('stranded')
    .description('phases left EXECUTING after autopack-drain timed out, cancelled or lost their executor')
    .option('--run <runId>', 'only phases of this run')
    .option('--json', 'print the phases as JSON')
    .addHelpText('after', HELP)
    .action(async (flags: { run?: string; json?: boolean }) => {
      if (flags.run !== undefined && flags.run.trim() === '') throw new UsageError('--run needs a run id');
      const rows = await withBacklogDatabase((pool) => listStrandedPhases(pool, flags.run ?? null));
      const list = rows.map(toStrandedPhase);
      console.log(flags.json ? JSON.stringify({ stranded: list }, null, 2) : formatStrandedText(list));
    });
}
