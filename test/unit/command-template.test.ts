import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderCommand, splitCommand } from '../../src/domain/command-template.js';

const DEFAULT = 'python scripts/drain_one_phase.py --run-id {run_id} --phase-id {phase_id} --force';

const splits: Array<[template: string, expected: string[]]> = [
  [
    DEFAULT,
    ['python', 'scripts/drain_one_phase.py', '--run-id', '{run_id}', '--phase-id', '{phase_id}', '--force'],
  ],
  ['  a \t b\n c  ', ['a', 'b', 'c']],
  ["'a b' c", ['a b', 'c']],
  ['\'a "b" \\n $x\'', ['a "b" \\n $x']],
  ['"a \\"b\\" \\\\ \\$x \\` \\n"', ['a "b" \\ $x ` \\n']],
  ['a\\ b c', ['a b', 'c']],
  ["a\\'b", ["a'b"]],
  ['a\\\nb', ['ab']], // backslash-newline continuation
  ["''", ['']],
  ['"" x', ['', 'x']],
  ["pre'mid dle'post", ['premid dlepost']],
  ['node -e "console.log(1)"', ['node', '-e', 'console.log(1)']],
  ['echo $HOME; rm -rf / | cat', ['echo', '$HOME;', 'rm', '-rf', '/', '|', 'cat']],
  ['"C:\\Program Files\\x.exe" {run_id}', ['C:\\Program Files\\x.exe', '{run_id}']],
  ["'C:\\dev\\x.py'", ['C:\\dev\\x.py']],
  ['ünï 🚀 "x y"', ['ünï', '🚀', 'x y']],
];

for (const [template, expected] of splits) {
  test(`splitCommand(${JSON.stringify(template)})`, () => {
    assert.deepEqual(splitCommand(template), expected);
  });
}

const splitErrors: Array<[template: string, message: RegExp]> = [
  ['', /empty/],
  ['   \n\t ', /empty/],
  ["a 'b", /unbalanced single quote/],
  ['a "b', /unbalanced double quote/],
  ['a "b\\"', /unbalanced double quote/],
  ['a \\', /lone backslash/],
  ['a\u0000b', /NUL/],
];

for (const [template, message] of splitErrors) {
  test(`splitCommand(${JSON.stringify(template)}) throws ${message}`, () => {
    assert.throws(() => splitCommand(template), message);
  });
}

const vars = (phase: string, run = 'run-1') => ({ run_id: run, phase_id: phase });
const tail = (phase: string) => renderCommand(DEFAULT, vars(phase)).slice(4);

const oddPhaseIds: string[] = [
  'plain-phase',
  'with space',
  'it\'s "quoted"',
  'a; rm -rf / #',
  '$(touch /tmp/pwned)',
  '`id`',
  'line1\nline2\r\n',
  '{run_id}',
  '{phase_id}',
  '{unknown}',
  '--force',
  '-',
  '',
  '*',
  '\\',
  '🚀 ünïcödé',
  '%s %d ${HOME}',
  'x'.repeat(10000),
];

for (const phase of oddPhaseIds) {
  test(`renderCommand keeps phase id ${JSON.stringify(phase).slice(0, 40)} as one literal argument`, () => {
    assert.deepEqual(tail(phase), ['--phase-id', phase, '--force']);
    assert.equal(renderCommand(DEFAULT, vars(phase))[3], 'run-1');
  });
}

const renders: Array<[template: string, v: Record<string, string>, expected: string[]]> = [
  [
    DEFAULT,
    vars('p1', 'r1'),
    ['python', 'scripts/drain_one_phase.py', '--run-id', 'r1', '--phase-id', 'p1', '--force'],
  ],
  ['x --id={run_id}:{phase_id}', vars('p', 'r'), ['x', '--id=r:p']],
  ["x '{run_id} {phase_id}'", vars('p q', 'r'), ['x', 'r p q']],
  ['x {run_id}{run_id}', vars('p', 'r'), ['x', 'rr']],
  ['x {} {1} { run_id } \'{"a":1}\'', vars('p'), ['x', '{}', '{1}', '{', 'run_id', '}', '{"a":1}']],
  ['x {phase_id}', { phase_id: '{run_id}', run_id: 'r' }, ['x', '{run_id}']],
  ['no placeholders', {}, ['no', 'placeholders']],
];

for (const [template, v, expected] of renders) {
  test(`renderCommand(${JSON.stringify(template)})`, () => {
    assert.deepEqual(renderCommand(template, v), expected);
  });
}

const renderErrors: Array<[template: string, v: Record<string, string>, message: RegExp]> = [
  ['x {session}', vars('p'), /unknown placeholder \{session\}.*known placeholders: \{phase_id\}, \{run_id\}/],
  ['x {constructor}', vars('p'), /unknown placeholder \{constructor\}/],
  ['x {__proto__}', vars('p'), /unknown placeholder \{__proto__\}/],
  ['x {a}', {}, /unknown placeholder \{a\}.*\(none\)/],
  ['x {phase_id}', vars('a\u0000b'), /NUL/],
  ['', vars('p'), /empty/],
  ['x "{phase_id}', vars('p'), /unbalanced/],
];

for (const [template, v, message] of renderErrors) {
  test(`renderCommand(${JSON.stringify(template)}) throws ${message}`, () => {
    assert.throws(() => renderCommand(template, v), message);
  });
}

test('splitCommand: 1 MB template is fast', () => {
  const t0 = performance.now();
  const args = splitCommand('a "b c" \'d\' e\\ f '.repeat((1 << 20) / 18));
  assert.ok(args.length > 1000);
  assert.ok(performance.now() - t0 < 3000);
});
