/**
 * Command-line arguments of the reference executor. Pure, so it is unit-testable.
 * A value is taken verbatim from the next argument (or after `=`), so phase ids may contain
 * anything, including a leading dash, spaces, slashes, quotes and non-ASCII text.
 */

export const USAGE = `usage: drain-sim --run-id RUN_ID --phase-id PHASE_ID [--force]

Reference executor for autopack-drain: drains one phase of DATABASE_URL's backlog by
acting out the scenario stored in phases.scope.sim (see src/sim/scenario.ts).

  --run-id ID     run the phase belongs to (runs.id)
  --phase-id ID   phase id within that run (phases.phase_id)
  --force         requeue a phase that is not QUEUED (e.g. FAILED) before draining it
  -h, --help      show this help

exit codes: 0 COMPLETE (or already COMPLETE), 1 phase failed, 2 usage / configuration /
missing phase / invalid scenario, 3 phase not QUEUED without --force (crash scenario: 3 too),
143 terminated by SIGTERM`;

interface SimArgs {
  runId: string;
  phaseId: string;
  force: boolean;
}

type ArgsResult = { ok: true; args: SimArgs } | { ok: true; help: true } | { ok: false; error: string };

export function parseSimArgs(argv: readonly string[]): ArgsResult {
  let runId: string | undefined;
  let phaseId: string | undefined;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return { ok: true, help: true };
    if (arg === '--force') {
      force = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (flag !== '--run-id' && flag !== '--phase-id') {
      return { ok: false, error: `unexpected argument ${JSON.stringify(arg)}` };
    }
    let value: string;
    if (flag !== arg) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) return { ok: false, error: `${flag} needs a value` };
      value = argv[++i];
    }
    if (value === '') return { ok: false, error: `${flag} must not be empty` };
    if (flag === '--run-id') {
      if (runId !== undefined) return { ok: false, error: '--run-id given twice' };
      runId = value;
    } else {
      if (phaseId !== undefined) return { ok: false, error: '--phase-id given twice' };
      phaseId = value;
    }
  }
  if (runId === undefined) return { ok: false, error: '--run-id is required' };
  if (phaseId === undefined) return { ok: false, error: '--phase-id is required' };
  return { ok: true, args: { runId, phaseId, force } };
}
