/**
 * The command table main.ts loads from (src/cli/command-modules.ts): each module registers exactly
 * the top-level commands the table names for it (else `drain <command>` would load the wrong
 * module and not find its command), and a command line loads only its own module unless it needs
 * them all (help, no command, an unknown command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { COMMAND_MODULES, modulesFor } from '../../src/cli/command-modules.js';

test('each command module registers exactly the commands the table names for it', async () => {
  for (const m of COMMAND_MODULES) {
    const program = new Command('drain');
    (await m.load())(program);
    assert.deepEqual(
      program.commands.map((c) => c.name()),
      [...m.names],
    );
  }
});

test('no command is named by two modules', () => {
  const names = COMMAND_MODULES.flatMap((m) => m.names);
  assert.equal(new Set(names).size, names.length);
});

const cases: Array<[args: string[], modules: string[][] | 'all']> = [
  [['list', '--help'], [['list']]],
  [['status'], [['status', 'summary']]],
  [['summary', 'batch-drain-1'], [['status', 'summary']]],
  [['cancel', 'x'], [['pause', 'resume', 'stop', 'cancel']]],
  [['schedule', 'create', '--help'], [['schedule']]],
  [['worker'], [['dev', 'worker']]],
  [['demo', '--help'], [['demo']]],
  [[], 'all'],
  [['--help'], 'all'],
  [['-h'], 'all'],
  [['help', 'list'], 'all'],
  [['wroker'], 'all'],
];

for (const [args, want] of cases) {
  test(`drain ${args.join(' ') || '(nothing)'} loads ${want === 'all' ? 'every module' : want[0].join('/')}`, () => {
    const got = modulesFor(args).map((m) => [...m.names]);
    assert.deepEqual(got, want === 'all' ? COMMAND_MODULES.map((m) => [...m.names]) : want);
  });
}
