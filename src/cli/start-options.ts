import { Command, InvalidArgumentError, Option } from 'commander';
import { DRAIN_MODES, DRAIN_ORDERS, type DrainInput } from '../domain/types.js';
import { InputError, parseDrainInput } from '../domain/input.js';
import { UsageError } from './env.js';

const int = (name: string) => (v: string) => {
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
  return Number(v);
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n))
    throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
  return n;
};
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Size, time and repeat limits of the session (the original's first flags). */
function addLimitFlags(cmd: Command): Command {
  return cmd
    .option('--batch-size <n>', 'phases to drain in this session (default 10)', int('--batch-size'))
    .option('--run-id <id>', 'only drain phases of this run')
    .option(
      '--phase-timeout-seconds <s>',
      'timeout per phase in seconds (default 900)',
      num('--phase-timeout-seconds'),
    )
    .option(
      '--max-total-minutes <m>',
      'stop the session after this many minutes (default unlimited)',
      num('--max-total-minutes'),
    )
    .option(
      '--max-timeouts-per-run <n>',
      'stop draining a run after this many timeouts (default 2)',
      int('--max-timeouts-per-run'),
    )
    .option(
      '--max-attempts-per-phase <n>',
      'attempts per phase in one session (default 2)',
      int('--max-attempts-per-phase'),
    )
    .option(
      '--max-fingerprint-repeats <n>',
      'stop a failure fingerprint after this many repeats (default 3)',
      int('--max-fingerprint-repeats'),
    )
    .option(
      '--max-consecutive-zero-yield <n>',
      'end the session after this many attempts in a row without telemetry (default unlimited)',
      int('--max-consecutive-zero-yield'),
    );
}

/** Which phases: runs with QUEUED phases, skipped prefixes, the mode, a dry run. */
function addSelectionFlags(cmd: Command): Command {
  return cmd
    .option('--skip-runs-with-queued', 'skip runs that have QUEUED phases (default on)')
    .option(
      '--no-skip-runs-with-queued',
      'also retry FAILED phases of runs that have QUEUED phases (not recommended)',
    )
    .option('--skip-run-prefix <prefix>', 'skip runs whose id starts with this (repeatable)', collect)
    .addOption(new Option('--mode <mode>', 'what to drain (default failed)').choices([...DRAIN_MODES]))
    .option('--dry-run', 'show the phases that would be drained, in order; change nothing');
}

/** How a phase is drained: the API server, the executor and its workspace, baselines, kills and tries. */
function addExecutorFlags(cmd: Command): Command {
  return cmd
    .option('--api-url <url>', 'AUTOPACK_API_URL given to the executor (reuse one API server)')
    .option(
      '--executor <template>',
      "executor command template with {run_id} {phase_id} (default: the worker's)",
    )
    .option(
      '--workspace <dir>',
      "directory the executor runs in and where session files go (default: the worker's)",
    )
    .option('--baseline-command <template>', 'T0 baseline command, run once per workspace commit')
    .option(
      '--kill-grace-seconds <s>',
      'seconds between SIGTERM and SIGKILL of a timed-out executor (default 10)',
      num('--kill-grace-seconds'),
    )
    .option(
      '--on-kill <leave|fail>',
      'a phase whose executor autopack-drain stopped (timeout, cancel) and left non-terminal: leave it (default, as the original) or set it back to FAILED with a reason saying what happened, so the next session can retry it',
    )
    .option(
      '--max-drain-tries <n>',
      'tries of one drain when its workers keep dying, before the attempt is recorded abandoned (default 5)',
      int('--max-drain-tries'),
    );
}

/** Failure memory, order, stalls, extended timeouts, token budgets and slots. */
function addMemoryAndBudgetFlags(cmd: Command): Command {
  return cmd
    .option(
      '--max-attempts-per-phase-total <n>',
      'attempts of one phase across all sessions, counted from the failure memory (default unlimited)',
      int('--max-attempts-per-phase-total'),
    )
    .option(
      '--ignore-memory',
      'do not pass over fingerprints earlier sessions stopped (a fresh look; memory is kept, see drain memory)',
    )
    .addOption(
      new Option(
        '--order <order>',
        'order within a priority group: priority (default, the original order) or yield (runs whose past attempts produced more telemetry per minute first; runs without history first)',
      ).choices([...DRAIN_ORDERS]),
    )
    .option(
      '--stall-seconds <s>',
      'stop an executor that wrote no output (stdout/stderr) and changed nothing in the database (its phase row, its telemetry rows) for this long; recorded as a timeout that stalled, fingerprint STALLED|stalled, zero-yield reason stalled (default off)',
      num('--stall-seconds'),
    )
    .option(
      '--max-phase-timeout-seconds <s>',
      'let a phase that keeps writing output run past --phase-timeout-seconds, up to this, within the session budget; "keeps writing" = output within the last W = min(--stall-seconds or 60, --phase-timeout-seconds) seconds when the timeout is reached, and again within every W seconds after it (default off)',
      num('--max-phase-timeout-seconds'),
    )
    .option(
      '--max-tokens <n>',
      "token budget of the session: no new phase starts once its attempts (all slots) have spent this many tokens (their phases' tokens_used); the stop reason says so (default off)",
      int('--max-tokens'),
    )
    .option(
      '--max-tokens-per-phase <n>',
      'stop a running executor once its phase has spent more than this many tokens in the attempt (phases.tokens_used, read by the database watch that detects stalls); recorded as a token-cap stop, fingerprint TOKEN_CAP|token-cap, zero-yield reason token_cap (default off)',
      int('--max-tokens-per-phase'),
    )
    .option(
      '--concurrency <n>',
      'phases of this session drained at once, never two of one run (default 1)',
      int('--concurrency'),
    );
}

/** The original controller's flags (same names) plus ours; shared by `start` and `schedule create`. */
export function addDrainFlags(cmd: Command): Command {
  return addMemoryAndBudgetFlags(addExecutorFlags(addSelectionFlags(addLimitFlags(cmd))));
}

/** The workflow input of the flags, validated here so a bad flag fails before anything starts. */
export function validatedDrainInput(o: Record<string, unknown>): DrainInput {
  const input = drainInputFromFlags(o);
  try {
    parseDrainInput(input);
  } catch (err) {
    if (err instanceof InputError) throw new UsageError(err.message);
    throw err;
  }
  return input;
}

/** Commander options → workflow input (only what was given; the workflow fills defaults). */
function drainInputFromFlags(o: Record<string, unknown>): DrainInput {
  const input: DrainInput = {};
  const map: [keyof DrainInput, string][] = [
    ['batchSize', 'batchSize'],
    ['runId', 'runId'],
    ['phaseTimeoutSeconds', 'phaseTimeoutSeconds'],
    ['maxTotalMinutes', 'maxTotalMinutes'],
    ['maxTimeoutsPerRun', 'maxTimeoutsPerRun'],
    ['maxAttemptsPerPhase', 'maxAttemptsPerPhase'],
    ['maxFingerprintRepeats', 'maxFingerprintRepeats'],
    ['maxConsecutiveZeroYield', 'maxConsecutiveZeroYield'],
    ['skipRunPrefixes', 'skipRunPrefix'],
    ['mode', 'mode'],
    ['dryRun', 'dryRun'],
    ['apiUrl', 'apiUrl'],
    ['executor', 'executor'],
    ['workspace', 'workspace'],
    ['baselineCommand', 'baselineCommand'],
    ['killGraceSeconds', 'killGraceSeconds'],
    ['onKill', 'onKill'],
    ['maxDrainTries', 'maxDrainTries'],
    ['maxAttemptsPerPhaseTotal', 'maxAttemptsPerPhaseTotal'],
    ['ignoreMemory', 'ignoreMemory'],
    ['order', 'order'],
    ['stallSeconds', 'stallSeconds'],
    ['maxPhaseTimeoutSeconds', 'maxPhaseTimeoutSeconds'],
    ['concurrency', 'concurrency'],
    ['maxTokens', 'maxTokens'],
    ['maxTokensPerPhase', 'maxTokensPerPhase'],
  ];
  for (const [field, flag] of map) {
    if (o[flag] !== undefined) (input as Record<string, unknown>)[field] = o[flag];
  }
  if (o.skipRunsWithQueued === false) input.skipRunsWithQueued = false;
  return input;
}
