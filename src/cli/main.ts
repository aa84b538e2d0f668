import { Command, CommanderError } from 'commander';
import { redactSecrets } from '../domain/redact.js';
import { UsageError } from './env.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerControl } from './commands/control.js';
import { registerDb } from './commands/db.js';
import { registerDemo } from './commands/demo.js';
import { registerForecast } from './commands/forecast.js';
import { registerList } from './commands/list.js';
import { registerReport } from './commands/report.js';
import { registerSchedule } from './commands/schedule.js';
import { registerServe } from './commands/serve.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerStranded } from './commands/stranded.js';
import { registerMemory } from './commands/memory.js';
import { registerTidy } from './commands/tidy.js';
import { registerVerify } from './commands/verify.js';
import { registerWatch } from './commands/watch.js';

const program = new Command('drain')
  .description(
    'autopack-drain: a durable, Temporal-orchestrated batch drain controller for Autopack backlogs',
  )
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerServe(program);
registerStart(program);
registerForecast(program);
registerStatus(program);
registerVerify(program);
registerReport(program);
registerWatch(program);
registerList(program);
registerControl(program);
registerSchedule(program);
registerDb(program);
registerDemo(program);
registerTidy(program);
registerStranded(program);
registerMemory(program);
registerAnalyze(program);

try {
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
