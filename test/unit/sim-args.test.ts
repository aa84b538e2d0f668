import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSimArgs } from '../../src/sim/args.js';

describe('parseSimArgs', () => {
  const ok: [string, string[], { runId: string; phaseId: string; force: boolean }][] = [
    ['space-separated', ['--run-id', 'r', '--phase-id', 'p'], { runId: 'r', phaseId: 'p', force: false }],
    [
      'with --force first',
      ['--force', '--run-id', 'r', '--phase-id', 'p'],
      { runId: 'r', phaseId: 'p', force: true },
    ],
    ['= form', ['--run-id=r', '--phase-id=p', '--force'], { runId: 'r', phaseId: 'p', force: true }],
    [
      '= form keeps later =',
      ['--run-id=a=b', '--phase-id', 'c=d'],
      { runId: 'a=b', phaseId: 'c=d', force: false },
    ],
    [
      'value starting with a dash',
      ['--run-id', '-r', '--phase-id', '--force'],
      { runId: '-r', phaseId: '--force', force: false },
    ],
    [
      'spaces, slashes, quotes, unicode',
      ['--run-id', 'run 1/α', '--phase-id', `p "q" 'x' 日本 🧪`],
      { runId: 'run 1/α', phaseId: `p "q" 'x' 日本 🧪`, force: false },
    ],
  ];
  for (const [title, argv, args] of ok) {
    test(title, () => assert.deepEqual(parseSimArgs(argv), { ok: true, args }));
  }

  const bad: [string, string[], RegExp][] = [
    ['nothing', [], /--run-id is required/],
    ['no phase', ['--run-id', 'r'], /--phase-id is required/],
    ['missing value', ['--run-id', 'r', '--phase-id'], /--phase-id needs a value/],
    ['empty value', ['--run-id=', '--phase-id', 'p'], /--run-id must not be empty/],
    ['twice', ['--run-id', 'r', '--run-id', 's', '--phase-id', 'p'], /given twice/],
    ['unknown flag', ['--run-id', 'r', '--phase-id', 'p', '--verbose'], /unexpected argument "--verbose"/],
    ['positional', ['r', 'p'], /unexpected argument "r"/],
  ];
  for (const [title, argv, error] of bad) {
    test(title, () => {
      const r = parseSimArgs(argv);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }

  test('--help', () => assert.deepEqual(parseSimArgs(['--run-id', 'r', '--help']), { ok: true, help: true }));
});
