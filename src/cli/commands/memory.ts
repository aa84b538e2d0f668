/** `drain memory list|clear`: what sessions learned across sessions (failure memory), and undoing it. */
import path from 'node:path';
import type { Command } from 'commander';
import type { Queryable } from '../../db/pool.js';
import { workspaceCommit } from '../../runtime/git.js';
import {
  clearCandidates,
  clearMemory,
  listMemoryStops,
  memoryHistory,
  phaseKnown,
  type ClearTarget,
  type HistoryRow,
  type StopRow,
} from '../../db/memory.js';
import { redactSecrets } from '../../domain/redact.js';
import { formatColumns } from '../../domain/text-table.js';
import { UsageError } from '../env.js';
import { withBacklogDatabase } from '../database.js';

const LIST_HELP = `
Failure memory is kept in the database (drain_memory_stops, drain_attempts):
  - a fingerprint a session stopped (it repeated --max-fingerprint-repeats times) stays
    stopped for later sessions on the same workspace commit: a phase whose last judged
    attempt failed with it, and whose last_failure_reason has not changed since, is passed
    over with a reason naming the fingerprint and the session that stopped it;
  - --max-attempts-per-phase-total N caps a phase's attempts across all sessions.
A new workspace commit, a changed last_failure_reason, \`drain memory clear\`, or
\`drain start --ignore-memory\` (one session) lifts a stop.

Shows the stops (newest first: IN FORCE on the --workspace commit, OTHER COMMIT, or
CLEARED) and, per run, what its judged attempts produced in all sessions (attempts,
successes, timeouts, telemetry events, minutes, events per minute, last fingerprint).
With --run, per phase of that run. --json prints {"commit", "stops": [...], "history": [...]}.

Database: DATABASE_URL, else this project's embedded Postgres. Temporal is not contacted.
Exit codes: 0 listed; 1 the database could not be read; 2 bad usage.
`;

const CLEAR_HELP = `
Targets:
  drain memory clear <fingerprint>          that fingerprint, every run and phase
  drain memory clear <run-id>               everything memory holds against the run's phases
  drain memory clear --run <run> <phase>    one phase
  drain memory clear --run <run>            the same as <run-id>
A target that is both a fingerprint and a run id needs --kind fingerprint|run. A clear is
recorded (drain_memory_clears): memory older than it no longer stops the target, and
--max-attempts-per-phase-total counts attempts made after it. History rows are kept.

Exit codes: 0 cleared; 1 the database could not be written; 2 bad usage or nothing matches.
`;

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : '(no git)');

function stopState(s: StopRow, commit: string | null): string {
  if (s.cleared) return 'CLEARED';
  return s.commit === commit ? 'IN FORCE' : `OTHER COMMIT`;
}

export function formatMemory(o: { commit: string | null; stops: StopRow[]; history: HistoryRow[] }): string {
  const stops = o.stops.length
    ? formatColumns(
        ['STATE', 'STOPPED AT', 'SESSION', 'COMMIT', 'REPEATS', 'FINGERPRINT'],
        o.stops.map((s) => [
          stopState(s, o.commit),
          s.stoppedAt,
          s.sessionId,
          short(s.commit),
          String(s.repeats),
          s.fingerprint,
        ]),
      )
    : 'No fingerprint stops.';
  const perPhase = o.history.some((h) => h.phaseId !== null);
  const history = o.history.length
    ? formatColumns(
        [
          perPhase ? 'PHASE' : 'RUN',
          'ATTEMPTS',
          'OK',
          'TIMEOUTS',
          'EVENTS',
          'MINUTES',
          'EV/MIN',
          'SESSIONS',
          'LAST FINGERPRINT',
        ],
        o.history.map((h) => [
          perPhase ? `${h.runId} / ${h.phaseId}` : h.runId,
          String(h.attempts),
          String(h.succeeded),
          String(h.timeouts),
          String(h.telemetryEvents),
          h.minutes.toFixed(2),
          h.yieldPerMinute === null ? '-' : h.yieldPerMinute.toFixed(2),
          String(h.sessions),
          h.lastFingerprint ?? '-',
        ]),
      )
    : 'No attempts recorded.';
  return redactSecrets(
    [`Workspace commit: ${short(o.commit)}`, '', 'Fingerprint stops:', stops, '', 'History:', history].join(
      '\n',
    ),
  );
}

async function resolveTarget(
  pool: Queryable,
  target: string | undefined,
  flags: { run?: string; kind?: string },
): Promise<ClearTarget> {
  if (flags.run !== undefined) {
    if (flags.run.trim() === '') throw new UsageError('--run needs a run id');
    if (target === undefined) return { kind: 'run', runId: flags.run };
    if (!(await phaseKnown(pool, flags.run, target)))
      throw new UsageError(`run ${flags.run} has no phase ${target} (in the backlog or in drain_attempts)`);
    return { kind: 'phase', runId: flags.run, phaseId: target };
  }
  if (target === undefined || target === '')
    throw new UsageError('say what to clear: a fingerprint, a run id, or --run <run> <phase>');
  const c = await clearCandidates(pool, target);
  const kind =
    flags.kind ??
    (c.fingerprint && c.run ? 'ambiguous' : c.fingerprint ? 'fingerprint' : c.run ? 'run' : 'none');
  if (kind === 'ambiguous')
    throw new UsageError(
      `"${target}" is both a fingerprint and a run id: add --kind fingerprint or --kind run`,
    );
  if (kind === 'none')
    throw new UsageError(
      `nothing in memory matches "${target}" (not a fingerprint or run id seen by any session)`,
    );
  if (kind !== 'fingerprint' && kind !== 'run')
    throw new UsageError(`--kind must be fingerprint or run, got "${kind}"`);
  return kind === 'fingerprint' ? { kind, fingerprint: target } : { kind, runId: target };
}

const described = (t: ClearTarget) =>
  t.kind === 'fingerprint'
    ? `fingerprint ${t.fingerprint}`
    : t.kind === 'run'
      ? `run ${t.runId}`
      : `phase ${t.runId} / ${t.phaseId}`;

export function registerMemory(program: Command): void {
  const memory = program
    .command('memory')
    .description('failure memory across sessions: list what sessions stopped and learned, or clear it');
  memory
    .command('list')
    .description('fingerprint stops and per-run (or per-phase) history across sessions')
    .option('--run <runId>', 'per phase of this run')
    .option(
      '--workspace <dir>',
      'whose git commit decides which stops are in force (default: current directory)',
    )
    .option('--json', 'print JSON')
    .addHelpText('after', LIST_HELP)
    .action(async (flags: { run?: string; workspace?: string; json?: boolean }) => {
      if (flags.run !== undefined && flags.run.trim() === '') throw new UsageError('--run needs a run id');
      const commit = await workspaceCommit(path.resolve(flags.workspace ?? '.'));
      const out = await withBacklogDatabase(async (pool) => ({
        commit,
        stops: await listMemoryStops(pool, flags.run ?? null),
        history: await memoryHistory(pool, flags.run ?? null),
      }));
      console.log(flags.json ? redactSecrets(JSON.stringify(out, null, 2)) : formatMemory(out));
    });
  memory
    .command('clear [target]')
    .description('clear a fingerprint, a run or a phase from failure memory')
    .option('--run <runId>', 'the run of the phase to clear (or the run to clear)')
    .option('--kind <kind>', 'fingerprint or run, when the target is both')
    .addHelpText('after', CLEAR_HELP)
    .action(async (target: string | undefined, flags: { run?: string; kind?: string }) => {
      const t = await withBacklogDatabase(async (pool) => {
        const t = await resolveTarget(pool, target, flags);
        await clearMemory(pool, t);
        return t;
      });
      console.log(redactSecrets(`Cleared ${described(t)} from failure memory.`));
    });
}
