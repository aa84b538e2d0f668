import { Command, CommanderError } from 'commander';
import { redactSecrets } from '../domain/redact.js';
import { modulesFor } from './command-modules.js';
import { UsageError } from './env.js';
import { hostPlatform, WORKER_COMMANDS, workerRefusal, workerWarning } from './platform.js';

const program = new Command('drain')
  .description(
    'autopack-drain: a durable, Temporal-orchestrated batch drain controller for Autopack backlogs',
  )
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

/** Stops a worker command where no worker can run (exit 2, with what to do instead). */
function refuseWorkerPlatform(command: string): void {
  const refusal = workerRefusal(hostPlatform(), command);
  if (refusal) throw new UsageError(refusal);
}

const args = process.argv.slice(2);
try {
  // `drain worker` on Windows stops here, before any command module (and so the worker) is
  // loaded. Not when help is asked for; the preAction hook below refuses whatever this lets by.
  if (WORKER_COMMANDS.includes(args[0]) && !args.some((a) => a === '-h' || a === '--help'))
    refuseWorkerPlatform(args[0]);
  // Only the module of the command being run is imported (command-modules.ts).
  for (const m of modulesFor(args)) (await m.load())(program);
  for (const cmd of program.commands) {
    if (!WORKER_COMMANDS.includes(cmd.name())) continue;
    cmd.addHelpText(
      'after',
      '\nOn Windows, run it inside WSL2: a worker needs Linux (README.md, "Running from Windows").',
    );
  }
  program.hook('preAction', (_program, action) => {
    if (action.parent !== program || !WORKER_COMMANDS.includes(action.name())) return;
    refuseWorkerPlatform(action.name());
    const warning = workerWarning(hostPlatform(), action.name());
    if (warning) console.error(`drain: warning: ${warning}`);
  });
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    console.error(`drain: ${redactSecrets(msg)}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}
