import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_FILE_LINES,
  MAX_FUNCTION_LINES,
  findingLine,
  findingsIn,
  functionLengths,
  lineCount,
} from '../../scripts/long-code.js';

/** `n` statement lines, indented. */
const body = (n: number, indent = '  ') =>
  Array.from({ length: n }, (_, i) => `${indent}x${i}();`).join('\n');

const cases: { name: string; source: string; want: { name: string; line: number; lines: number }[] }[] = [
  {
    name: 'function declaration: first line to closing brace',
    source: `function f() {\n${body(3)}\n}\n`,
    want: [{ name: 'f', line: 1, lines: 5 }],
  },
  {
    name: 'one-line arrow function bound to a const',
    source: `// a comment\nconst g = (a: number) => a + 1;\n`,
    want: [{ name: 'g', line: 2, lines: 1 }],
  },
  {
    name: 'arrow function with a block body, exported',
    source: `export const h = async () => {\n${body(2)}\n};\n`,
    want: [{ name: 'h', line: 1, lines: 4 }],
  },
  {
    name: 'leading doc comment and decorators-free export are not counted',
    source: `/**\n * doc\n */\nexport function k() {\n${body(1)}\n}\n`,
    want: [{ name: 'k', line: 4, lines: 3 }],
  },
  {
    name: 'class methods, constructor and accessors',
    source: [
      'class C {',
      '  constructor() {',
      body(2, '    '),
      '  }',
      '  m(): void {',
      body(1, '    '),
      '  }',
      '  get v() {',
      '    return 1;',
      '  }',
      '  field = () => 2;',
      '}',
      '',
    ].join('\n'),
    want: [
      { name: 'C.constructor', line: 2, lines: 4 },
      { name: 'C.m', line: 6, lines: 3 },
      { name: 'get C.v', line: 9, lines: 3 },
      { name: 'C.field', line: 12, lines: 1 },
    ],
  },
  {
    name: 'nested functions: the outer counts the inner lines too, both listed',
    source: [
      'function outer() {',
      '  const inner = () => {',
      body(2, '    '),
      '  };',
      '  function deeper() {',
      '    return 1;',
      '  }',
      '  return inner() + deeper();',
      '}',
      '',
    ].join('\n'),
    want: [
      { name: 'outer', line: 1, lines: 10 },
      { name: 'inner', line: 2, lines: 4 },
      { name: 'deeper', line: 6, lines: 3 },
    ],
  },
  {
    name: 'object-literal methods and function-valued properties',
    source: [
      'const api = {',
      '  async start() {',
      body(2, '    '),
      '  },',
      '  stop: function () {',
      '    return 0;',
      '  },',
      "  'quoted-key': (x: number) => x,",
      '};',
      '',
    ].join('\n'),
    want: [
      { name: 'api.start', line: 2, lines: 4 },
      { name: 'api.stop', line: 6, lines: 3 },
      { name: 'api.quoted-key', line: 9, lines: 1 },
    ],
  },
  {
    name: 'methods of a returned object literal, callbacks and anonymous functions',
    source: [
      'function make() {',
      '  return {',
      '    run() {',
      '      return [1].map((n) => n * 2);',
      '    },',
      '  };',
      '}',
      'export default function () {}',
      '',
    ].join('\n'),
    want: [
      { name: 'make', line: 1, lines: 7 },
      { name: '<returned>.run', line: 3, lines: 3 },
      { name: '<callback of [1].map>', line: 4, lines: 1 },
      { name: 'default', line: 8, lines: 1 },
    ],
  },
  {
    name: 'callbacks are named by their callee and a string title (describe, test)',
    source:
      "describe('the drain', () => {\n  test(`a ${'very'} long title of a test that goes on and on`, async () => {});\n});\n",
    want: [
      { name: '<callback of describe "the drain">', line: 1, lines: 3 },
      { name: '<callback of test>', line: 2, lines: 1 },
    ],
  },
  {
    name: 'no-substitution template titles, cut at 40 characters',
    source: 'test(`a long title of a test that goes on and on and on`, () => {});\n',
    want: [{ name: '<callback of test "a long title of a test that goes on and …">', line: 1, lines: 1 }],
  },
  {
    name: 'overload signatures and interface methods have no body: not functions',
    source: 'interface I {\n  m(): void;\n}\nfunction o(a: string): void;\nfunction o(a: unknown) {}\n',
    want: [{ name: 'o', line: 5, lines: 1 }],
  },
  {
    name: 'plain JavaScript (bin/*.js)',
    source: 'module.exports = function named() {\n  return 1;\n};\n',
    want: [{ name: 'named', line: 1, lines: 3 }],
  },
];

for (const c of cases) {
  test(`functionLengths: ${c.name}`, () => {
    const file = c.name.startsWith('plain JavaScript') ? 'x.js' : 'x.ts';
    assert.deepEqual(functionLengths(file, c.source), c.want);
  });
}

test('lineCount: a final newline ends the last line', () => {
  assert.equal(lineCount(''), 0);
  assert.equal(lineCount('a'), 1);
  assert.equal(lineCount('a\n'), 1);
  assert.equal(lineCount('a\nb'), 2);
  assert.equal(lineCount('a\n\n'), 2);
});

test(`findingsIn: functions over ${MAX_FUNCTION_LINES} lines and files over ${MAX_FILE_LINES} lines, nothing at the limits`, () => {
  const at = (n: number) => `function f${n}() {\n${body(n - 2)}\n}\n`; // exactly n lines
  assert.deepEqual(findingsIn('a.ts', at(MAX_FUNCTION_LINES)), []);
  const over = findingsIn('a.ts', at(MAX_FUNCTION_LINES + 1));
  assert.deepEqual(over, [{ file: 'a.ts', name: `f${MAX_FUNCTION_LINES + 1}`, line: 1, lines: 81 }]);
  assert.equal(findingLine(over[0]), 'a.ts:1 f81 81 lines');

  const lines = (n: number) => Array.from({ length: n }, (_, i) => `const v${i} = ${i};`).join('\n') + '\n';
  assert.deepEqual(findingsIn('b.ts', lines(MAX_FILE_LINES)), []);
  const long = findingsIn('b.ts', lines(MAX_FILE_LINES + 1));
  assert.deepEqual(long, [{ file: 'b.ts', name: '(file)', line: 1, lines: 401 }]);
  assert.equal(findingLine(long[0]), 'b.ts:1 (file) 401 lines');
});
