/** `drain stranded`: phases left EXECUTING by an attempt of ours that timed out, was cancelled or killed. */
import type { Command } from 'commander';
import {
  listStrandedPhases,
  STRANDING_STATUSES,
  toStrandedPhase,
  type StrandedPhase,
} from '../../db/stranded.js';
import { UsageError } from '../env.js';
import { plural } from '../../domain/format.js';
import { withBacklogDatabase } from '../database.js';
import { fenceBounds } from '../../domain/fence.js';

export const STRANDED_HINT =
  'hand them back with `drain start --on-kill fail` next time, or set them FAILED yourself';

/** Instead of the hint, for phases with a try that may still be alive. */
export const STILL_RUNNING_HINT =
  'do not set a phase FAILED by hand while a try of it is still running: its supervisor ends it (or it ends by itself); run `drain stranded` again once it has';

const HELP = `
Lists phases that are EXECUTING now and whose latest drain_attempts row (by id) timed
out or ended with status ${STRANDING_STATUSES.join(', ')}: autopack-drain stopped
(or lost) their executor mid-work, so nothing will move them out of EXECUTING, and an
EXECUTING phase is never selected (a drain takes FAILED and QUEUED phases only).

Text output: one block per phase (run, phase, the attempt's session, attempt, try, status
and finish time, its error message and log paths), then a hint. Read-only: nothing is changed.

A phase of which a try may still be alive (running or interrupted, no end of its executor
recorded, its fence renewed by its supervisor within S seconds: DRAIN_FENCE_SECONDS and
DRAIN_FENCE_RENEW_MS, as the workers have them) says "a try is still running on host X (fence
renewed Ns ago)" instead: it is not to be set FAILED by hand until that try has ended.

--json prints
  {"stranded": [{"runId", "phaseId", "phaseIndex", "phaseState", "phaseUpdatedAt",
                 "attempt": {"id", "sessionId", "attempt", "try", "status", "timedOut",
                             "returnCode", "signal", "startedAt", "finishedAt",
                             "errorMessage", "stdoutPath", "stderrPath"},
                 "runningTry": null | {"id", "sessionId", "try", "host", "fenceRenewedSecondsAgo"}}]}
(times are ISO 8601 strings or null; "id" is the drain_attempts id as a string).

Database: DATABASE_URL, else this project's embedded Postgres (started for the call if it
is not running). Temporal is not contacted.

Exit codes: 0 listed (also when none is stranded); 1 the database could not be read; 2 bad usage.
`;

/** `a try is still running on host X (fence renewed Ns ago)` for a phase with a try that may be alive. */
export function stillRunningLine(r: NonNullable<StrandedPhase['runningTry']>): string {
  return `a try is still running on host ${r.host ?? '(not recorded)'} (fence renewed ${r.fenceRenewedSecondsAgo}s ago): session ${r.sessionId}, try ${r.try}`;
}

/** One block: the phase, then its last attempt, error and logs (and a try still running). */
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
    ...(s.runningTry ? [`  ${stillRunningLine(s.runningTry)}`] : []),
  ].join('\n');
}

/** The hints after the blocks: hand back only the phases without a try still running. */
function strandedHints(list: readonly StrandedPhase[]): string[] {
  const running = list.filter((s) => s.runningTry).length;
  if (running === 0) return [STRANDED_HINT];
  const others = list.length > running;
  return [
    ...(others ? [`for the phases without a try still running: ${STRANDED_HINT}`] : []),
    STILL_RUNNING_HINT,
  ];
}

export function formatStrandedText(list: readonly StrandedPhase[]): string {
  if (list.length === 0) return 'No stranded phases.';
  const head = `${plural(list.length, 'stranded phase')} (EXECUTING; the last drain attempt was timed out or stopped):`;
  return [head, ...list.map(formatStrandedBlock), ...strandedHints(list)].join('\n\n');
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
      const aliveWithin = fenceBounds(process.env).overAfterSeconds;
      const rows = await withBacklogDatabase((pool) =>
        listStrandedPhases(pool, flags.run ?? null, aliveWithin),
      );
      const list = rows.map(toStrandedPhase);
      console.log(flags.json ? JSON.stringify({ stranded: list }, null, 2) : formatStrandedText(list));
    });
}
