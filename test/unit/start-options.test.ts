import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addDrainFlags, validatedDrainInput } from '../../src/cli/start-options.js';
import { UsageError } from '../../src/cli/env.js';

/** The workflow input `drain start <argv>` would send. */
function inputOf(argv: string[]) {
  const cmd = addDrainFlags(new Command('start').exitOverride().configureOutput({ writeErr: () => {} }));
  cmd.parse(argv, { from: 'user' });
  return validatedDrainInput(cmd.opts());
}

test('--concurrency N becomes the input field concurrency', () => {
  assert.deepEqual(inputOf(['--concurrency', '4']), { concurrency: 4 });
  assert.deepEqual(inputOf(['--batch-size', '5']), { batchSize: 5 }, 'absent: the workflow default (1)');
});

test('--concurrency out of range or not an integer is a usage error', () => {
  assert.throws(() => inputOf(['--concurrency', '0']), UsageError);
  assert.throws(() => inputOf(['--concurrency', '65']), UsageError);
  assert.throws(() => inputOf(['--concurrency', 'two']), /--concurrency must be an integer/);
});
