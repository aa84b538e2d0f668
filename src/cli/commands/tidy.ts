/** `drain tidy`: removes old session JSONs, session log directories and stray temp files. */
import { InvalidArgumentError, type Command } from 'commander';
import {
  DEFAULT_PROTECTED,
  formatAction,
  formatTotals,
  listedActions,
  parseAge,
  planTidy,
  type TidyAction,
} from '../../domain/tidy-plan.js';
import { addConnFlags, withClient, type ConnFlags } from '../conn.js';
import { temporalTarget, UsageError } from '../env.js';
import { removePath, scanSessionTree, tidyRoot } from '../tidy-scan.js';

const RUNNING_QUERY = "WorkflowType = 'batchDrain' AND ExecutionStatus = 'Running'";

const HELP = `
What it removes, under <workspace>/.autonomous_runs/batch_drain_sessions/:
  <session>.json                    session JSONs
  <session>/                        session directories with their logs
  *.tmp                             stray temp files of interrupted atomic writes
A session's age is the newest mtime of anything it has (its JSON, temp files, every file
in its directory): one recent log file keeps the whole session. Other files are kept.

What it never touches:
  - the files of a running session: it asks Temporal which batchDrain workflows are
    running (WorkflowType = 'batchDrain' AND ExecutionStatus = 'Running', in the namespace
    of --namespace) and keeps every file named after them (the session id made a file name,
    as the worker names them). If Temporal cannot be reached it removes nothing and exits 1,
    unless --assume-none-running.
  - protected names, anywhere in the tree: api_server.log, plus every --protect NAME and
    every name in DRAIN_TIDY_PROTECT (comma-separated). A directory holding a protected file
    stays; only its other files go.
  - the --keep N newest sessions (running ones count), whatever their age.

Output: one line per path removed, "remove <path> (<age>, <bytes>)", and per path kept for
a reason, "keep <path>: running session <id>" / "keep <path>: protected name <name>" /
"keep <path>: among the <N> newest" / "keep <path>: not a drain session file"; paths kept
only for being younger than the age are counted in the totals line, not listed. With
--dry-run nothing is removed; without it the same lines are printed in the past tense
("removed", "kept") as it goes.

Ages: a whole number and a unit, d (days), h (hours) or m (minutes): 14d, 12h, 30m;
0d means any age.

Exit codes: 0 done (also when there was nothing to do); 1 Temporal could not be asked, or
a path could not be removed; 2 bad usage.
`;

interface TidyFlags extends ConnFlags {
  olderThan: string;
  dryRun?: boolean;
  keep: number;
  workspace?: string;
  protect?: string[];
  assumeNoneRunning?: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

const keepArg = (v: string) => {
  if (!/^\d+$/.test(v.trim()))
    throw new InvalidArgumentError(`--keep must be a whole number >= 0, got "${v}"`);
  return Number(v);
};

const badName = (name: string) => !name || /[/\\]/.test(name) || name === '.' || name === '..';

/** The protected base names: the defaults, DRAIN_TIDY_PROTECT and --protect. */
export function protectedNames(flags: string[], env = process.env): string[] {
  const fromEnv = (env.DRAIN_TIDY_PROTECT ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [source, names] of [
    ['--protect', flags],
    ['DRAIN_TIDY_PROTECT', fromEnv],
  ] as const) {
    const bad = names.find(badName);
    if (bad !== undefined)
      throw new UsageError(`${source} takes file or directory names without a path, got "${bad}"`);
  }
  return [...new Set([...DEFAULT_PROTECTED, ...fromEnv, ...flags])];
}

function parseFlags(flags: TidyFlags): { olderThanMs: number; keep: number; protect: string[] } {
  const olderThanMs = parseAge(flags.olderThan);
  if (olderThanMs === null) {
    throw new UsageError(
      `--older-than must be a whole number followed by d, h or m (14d, 12h, 30m, 0d), got "${flags.olderThan}"`,
    );
  }
  return { olderThanMs, keep: flags.keep, protect: protectedNames(flags.protect ?? []) };
}

/** Ids of the running batchDrain workflows; refuses (an Error, exit 1) when Temporal cannot answer. */
async function runningSessionIds(flags: ConnFlags): Promise<string[]> {
  const t = temporalTarget(flags);
  try {
    return await withClient(flags, async (client) => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({ query: RUNNING_QUERY })) ids.push(w.workflowId);
      return ids;
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot ask Temporal (${t.address}, namespace ${t.namespace}) which sessions are running: ${msg}\n` +
        'nothing was removed; pass --assume-none-running if you know that no drain session is running',
    );
  }
}

/** Removes and prints as it goes; returns the paths that could not be removed. */
async function apply(actions: readonly TidyAction[]): Promise<Set<string>> {
  const failed = new Set<string>();
  for (const a of listedActions(actions)) {
    if (a.op === 'remove') {
      try {
        await removePath(a.path);
      } catch (err) {
        failed.add(a.path);
        console.error(`drain: could not remove ${a.path}: ${(err as Error).message}`);
        continue;
      }
    }
    console.log(formatAction(a, true));
  }
  return failed;
}

async function tidy(flags: TidyFlags): Promise<void> {
  const o = parseFlags(flags);
  const root = tidyRoot(flags.workspace ?? process.env.DRAIN_WORKSPACE ?? process.cwd());
  const entries = await scanSessionTree(root);
  console.log(`${flags.dryRun ? 'Dry run, nothing is removed: ' : ''}session files in ${root}`);
  if (entries.length === 0) {
    console.log('nothing to tidy (no session files)');
    return;
  }
  const running = flags.assumeNoneRunning ? [] : await runningSessionIds(flags);
  const note = flags.assumeNoneRunning ? ' (assumed: --assume-none-running)' : '';
  console.log(`running sessions: ${running.length ? running.join(', ') : 'none'}${note}`);
  const plan = planTidy(entries, Date.now(), o, running);
  if (flags.dryRun) {
    for (const a of listedActions(plan)) console.log(formatAction(a, false));
    console.log(formatTotals(plan, false));
    return;
  }
  const failed = await apply(plan);
  console.log(
    formatTotals(
      plan.filter((a) => !failed.has(a.path)),
      true,
    ),
  );
  if (failed.size) {
    console.error(`drain: ${failed.size} path(s) could not be removed`);
    process.exitCode = 1;
  }
}

export function registerTidy(program: Command): void {
  addConnFlags(
    program
      .command('tidy')
      .description('remove old session JSONs, session log directories and stray temp files')
      .requiredOption('--older-than <age>', 'remove what is at least this old: 14d, 12h, 30m (0d: any age)')
      .option('--dry-run', 'list what would be removed and what is kept, remove nothing')
      .option('--keep <n>', 'always keep the N newest sessions, whatever their age', keepArg, 0)
      .option('--workspace <dir>', 'the workspace of the sessions (default DRAIN_WORKSPACE, else .)')
      .option(
        '--protect <name>',
        'never touch files or directories with this name (repeatable; api_server.log always)',
        collect,
      )
      .option('--assume-none-running', 'do not ask Temporal which sessions are running: assume none is'),
  )
    .addHelpText('after', HELP)
    .action(tidy);
}
