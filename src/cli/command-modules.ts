/**
 * The command modules of `drain`, in the order their commands appear in `drain --help`, each with
 * the top-level commands it registers. main.ts imports only the module of the command being run
 * (all of them for `drain --help`, `drain help …`, no command or an unknown one), so that a client
 * command never loads what it does not use: `worker`, `dev` and `demo` import src/worker.ts and
 * with it @temporalio/worker and its native core bridge, activities/ and the process-control
 * modules (containment, orphans, API servers). test/unit/command-modules.test.ts checks the names.
 */
import type { Command } from 'commander';

interface CommandModule {
  /** The top-level commands the module registers. */
  names: readonly string[];
  /** Imports the module; resolves to its register function. */
  load: () => Promise<(program: Command) => void>;
}

export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['dev', 'worker'], load: async () => (await import('./commands/serve.js')).registerServe },
  { names: ['start'], load: async () => (await import('./commands/start.js')).registerStart },
  { names: ['forecast'], load: async () => (await import('./commands/forecast.js')).registerForecast },
  { names: ['status', 'summary'], load: async () => (await import('./commands/status.js')).registerStatus },
  { names: ['verify'], load: async () => (await import('./commands/verify.js')).registerVerify },
  { names: ['report'], load: async () => (await import('./commands/report.js')).registerReport },
  { names: ['watch'], load: async () => (await import('./commands/watch.js')).registerWatch },
  { names: ['list'], load: async () => (await import('./commands/list.js')).registerList },
  {
    names: ['pause', 'resume', 'stop', 'cancel'],
    load: async () => (await import('./commands/control.js')).registerControl,
  },
  { names: ['schedule'], load: async () => (await import('./commands/schedule.js')).registerSchedule },
  { names: ['db'], load: async () => (await import('./commands/db.js')).registerDb },
  { names: ['demo'], load: async () => (await import('./commands/demo.js')).registerDemo },
  { names: ['tidy'], load: async () => (await import('./commands/tidy.js')).registerTidy },
  { names: ['stranded'], load: async () => (await import('./commands/stranded.js')).registerStranded },
  { names: ['memory'], load: async () => (await import('./commands/memory.js')).registerMemory },
  { names: ['analyze'], load: async () => (await import('./commands/analyze.js')).registerAnalyze },
  { names: ['notify'], load: async () => (await import('./commands/notify.js')).registerNotify },
];

/** The modules to import for a command line (the arguments after `drain`). */
export function modulesFor(args: readonly string[]): readonly CommandModule[] {
  const own = COMMAND_MODULES.find((m) => m.names.includes(args[0]));
  return own ? [own] : COMMAND_MODULES;
}
