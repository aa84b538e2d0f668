/**
 * The docs name only commands that exist (issue 20: "Every command and output shown in the docs is
 * one a test or a script really ran"). Every CLI line in a fenced code block of README.md and
 * docs/*.md — `npx drain …`, `drain …`, `node bin/drain.js …`, also after `VAR=value` prefixes and
 * `$ ` prompts and inside `&&` chains, comments after `#` left out — is checked against the commander
 * program the CLI really builds (every command module loaded, as for `drain --help`; nothing
 * connects): the sub-command path exists, every flag is an option of that command or of one above
 * it, a value given to an option with choices is one of them, and the required arguments are there.
 * `npm run <script>` / `npm test` name scripts of package.json (`npm run demo -- --sqlite`: the
 * script's drain command with the extra arguments); `npx tsx <file>`, `bash <file>` and `node <file>`
 * name files of the repository (as do their further path-like arguments); the JSON of a `temporal
 * workflow start --input` passes the workflow's own input validation. Inline code spans of the prose
 * (`drain report --html`) are checked the same way, except for the required arguments.
 *
 * Blocks scanned: ```bash/sh/shell/zsh/console every line; ``` without a language every line unless
 * it is a diagram (box-drawing characters); any block (```text too) that holds `$ ` prompts only
 * its prompt lines. A bare word after a pipe is a command of its own (`drain list | grep X`) unless
 * it names a sibling sub-command (`drain schedule pause X | unpause X`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, type Option } from 'commander';
import { modulesFor } from '../../src/cli/command-modules.js';
import { DEFAULTS, parseDrainInput } from '../../src/domain/input.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The program `drain --help` describes: main.ts's module selection for `--help`, all loaded. */
async function buildProgram(): Promise<Command> {
  const program = new Command('drain');
  for (const m of modulesFor(['--help'])) (await m.load())(program);
  return program;
}

const SHELL_LANGS = new Set(['bash', 'sh', 'shell', 'zsh', 'console', 'shell-session']);
const DIAGRAM = /[\u2500-\u257f\u25b2-\u25c4]/;
const PROMPT = /^\s*\$ /;

/** A command line of a doc: where it is and its text (continuation lines joined). */
interface DocLine {
  file: string;
  line: number;
  text: string;
  /** An inline code span of the prose (`drain report --html`): a flag may be shown without the arguments. */
  inline?: boolean;
}

/** The shell lines of the fenced code blocks of a markdown text. */
function shellLines(file: string, markdown: string): DocLine[] {
  const [out, lines]: [DocLine[], string[]] = [[], markdown.split('\n')];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const body: Array<{ n: number; text: string }> = [];
    for (i++; i < lines.length && !lines[i].trimStart().startsWith(open[1]); i++)
      body.push({ n: i + 1, text: lines[i] });
    const lang = open[2].toLowerCase();
    const prompts = body.some((l) => PROMPT.test(l.text));
    if (!prompts && !SHELL_LANGS.has(lang) && !(lang === '' && !body.some((l) => DIAGRAM.test(l.text))))
      continue;
    for (let k = 0; k < body.length; k++) {
      if (prompts && !PROMPT.test(body[k].text)) continue;
      const start = body[k].n;
      let text = body[k].text.replace(PROMPT, '');
      while (/\\$/.test(text) && k + 1 < body.length) text = text.slice(0, -1) + ' ' + body[++k].text;
      out.push({ file, line: start, text });
    }
  }
  return out;
}

/** The inline code spans of the prose (outside fenced blocks); a span with an escaped backtick is left out. */
function inlineSpans(file: string, markdown: string): DocLine[] {
  let fenced = false;
  return markdown.split('\n').flatMap((text, i) => {
    if (/^\s*(```|~~~)/.test(text)) fenced = !fenced;
    if (fenced || /^\s*(```|~~~)/.test(text)) return [];
    return [...text.matchAll(/`([^`]+)`/g)]
      .filter((m) => !m[1].endsWith('\\'))
      .map((m) => ({ file, line: i + 1, text: m[1], inline: true }));
  });
}

/**
 * A shell line as simple commands (token lists): quotes and backslashes as the shell reads them,
 * `#` at a word's start ends the line, `&&`, `||`, `|`, `;`, `&` and parentheses separate commands.
 */
function simpleCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  const end = () => {
    if (word !== null) commands[commands.length - 1].push(word);
    word = null;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      const to = close < 0 ? line.length : close;
      word = (word ?? '') + line.slice(i + 1, to).replace(c === '"' ? /\\(["\\$`])/g : /$^/, '$1');
      i = to;
    } else if (c === '\\') {
      word = (word ?? '') + (line[++i] ?? '');
    } else if (/\s/.test(c)) {
      end();
    } else if (c === '#' && word === null) {
      break;
    } else if ('&|;()'.includes(c)) {
      end();
      if (commands[commands.length - 1].length) commands.push([]);
      if (line[i + 1] === c && c !== '(' && c !== ')') i++;
    } else {
      word = (word ?? '') + c;
    }
  }
  end();
  return commands.filter((c) => c.length);
}

/** What a simple command invokes: the drain CLI, an npm script, a file run by a program, or none. */
type Invocation =
  | { kind: 'drain'; args: string[] }
  | { kind: 'npm-script'; script: string; args: string[] }
  | { kind: 'file'; runner: string; file: string; args: string[] }
  | { kind: 'workflow-input'; json: string }
  | null;

function invocation(tokens: readonly string[]): Invocation {
  let t = [...tokens];
  while (t.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(t[0]) || ['env', 'time', 'exec'].includes(t[0])))
    t = t.slice(1);
  if (t[0] === 'npx') {
    t = t.slice(1);
    while (t[0]?.startsWith('-')) t = t.slice(1);
    if (t[0] === 'tsx' && t[1]) return { kind: 'file', runner: 'npx tsx', file: t[1], args: t.slice(2) };
  }
  if (t[0] === 'drain') return { kind: 'drain', args: t.slice(1) };
  if (t[0] === 'node' && (t[1] === 'bin/drain.js' || t[1] === './bin/drain.js'))
    return { kind: 'drain', args: t.slice(2) };
  if ((t[0] === 'node' || t[0] === 'bash' || t[0] === 'tsx') && t[1] && !t[1].startsWith('-'))
    return { kind: 'file', runner: t[0], file: t[1], args: t.slice(2) };
  if (t[0] === 'temporal' && t[1] === 'workflow' && t[2] === 'start') {
    const i = t.findIndex((x) => x === '--input' || x.startsWith('--input='));
    if (i >= 0)
      return { kind: 'workflow-input', json: t[i].startsWith('--input=') ? t[i].slice(8) : (t[i + 1] ?? '') };
  }
  if (t[0] === 'npm' && (t[1] === 'run' || t[1] === 'run-script') && t[2])
    return { kind: 'npm-script', script: t[2], args: t.slice(t.indexOf('--', 3) + 1 || t.length) };
  if (t[0] === 'npm' && ['test', 't', 'start', 'stop', 'restart'].includes(t[1]))
    return {
      kind: 'npm-script',
      script: t[1] === 't' ? 'test' : t[1],
      args: t.slice(t.indexOf('--', 2) + 1 || t.length),
    };
  return null;
}

/** The command a `drain` argument list runs, the path to it and the arguments after the path. */
function resolvePath(program: Command, args: readonly string[]) {
  let cmd = program;
  const names: string[] = [];
  let i = 0;
  for (; i < args.length && cmd.commands.length && !args[i].startsWith('-'); i++) {
    if (args[i] === 'help') {
      names.push('help');
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === args[i] || c.aliases().includes(args[i]));
    if (!sub) return { cmd, names, rest: args.slice(i), unknown: args[i] };
    cmd = sub;
    names.push(sub.name());
  }
  return { cmd, names, rest: args.slice(i), unknown: undefined };
}

/** The option a flag names on a command or a command above it (the `--help` of any command, a stub). */
function findOption(cmd: Command, flag: string): Option | 'help' | undefined {
  if (flag === '--help' || flag === '-h') return 'help';
  for (let c: Command | null = cmd; c; c = c.parent) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o) return o;
  }
  return undefined;
}

/** A stand-in a doc writes for a value: `N`, `DIR`, `<file>`, `{…}`, `…`. */
const PLACEHOLDER = /^([A-Z][A-Z0-9_-]*|<.*>|\{.*\}|.*….*)$/;

/** What is wrong with a `drain` argument list (empty: nothing). */
function drainProblems(program: Command, args: readonly string[], arity = true): string[] {
  const { cmd, names, rest, unknown } = resolvePath(program, args);
  const at = ['drain', ...names].join(' ');
  if (unknown !== undefined && /^<.*>$/.test(unknown)) return []; // `drain <command> --help`
  if (unknown !== undefined) return [`\`${at}\` has no sub-command "${unknown}"`];
  if (names.includes('help')) return [];
  const problems: string[] = [];
  let positional = 0;
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i].replace(/^\[+/, '').replace(/\]+$/, '');
    if (!/^-[A-Za-z]$|^--[A-Za-z0-9]/.test(token)) {
      if (token) positional++;
      continue;
    }
    const [flag, inline] = token.split(/=(.*)/s, 2);
    const option = findOption(cmd, flag);
    if (!option) {
      problems.push(`${flag} is not an option of \`${at}\``);
      continue;
    }
    if (option === 'help' || !(option.required || option.optional) || inline !== undefined) {
      if (option !== 'help' && inline !== undefined) problems.push(...choiceProblems(option, inline, at));
      continue;
    }
    const next = rest[i + 1];
    if (next === undefined || (option.optional && next.startsWith('-'))) continue;
    i++;
    problems.push(...choiceProblems(option, next.replace(/\]+$/, ''), at));
  }
  const required = cmd.registeredArguments.filter((a) => a.required).length;
  if (arity && positional < required)
    problems.push(`\`${at}\` needs ${required} argument(s) (${cmd.usage()}), the doc gives ${positional}`);
  return problems;
}

function choiceProblems(option: Option, value: string, at: string): string[] {
  if (!option.argChoices || PLACEHOLDER.test(value) || option.argChoices.includes(value)) return [];
  return [`${option.long} ${value}: \`${at}\` takes ${option.argChoices.join(', ')}`];
}

/** What is wrong with a `temporal workflow start --input` (the workflow's own validation). */
function workflowInputProblems(json: string): string[] {
  if (json === '' || json.includes('…')) return []; // none shown, or '{…}': a stand-in
  try {
    parseDrainInput(JSON.parse(json));
    return [];
  } catch (err) {
    return [`--input ${json}: ${err instanceof Error ? err.message : String(err)}`];
  }
}

/** What is wrong with one invocation (empty: nothing). */
function invocationProblems(inv: Invocation, inline = false): string[] {
  if (!inv) return [];
  if (inv.kind === 'drain') return drainProblems(program, inv.args, !inline);
  if (inv.kind === 'workflow-input') return workflowInputProblems(inv.json);
  if (inv.kind === 'npm-script') {
    if (!Object.hasOwn(scripts, inv.script)) return [`package.json has no script "${inv.script}"`];
    // A script that runs the CLI (`npm run demo -- --sqlite`): its command line with the extra arguments.
    const body = invocation(simpleCommands(scripts[inv.script])[0] ?? []);
    return body?.kind === 'drain' ? drainProblems(program, [...body.args, ...inv.args], !inline) : [];
  }
  const paths = [inv.file, ...inv.args.filter((a) => /^[\w.-]+(\/[\w.-]+)+\.\w+$/.test(a))];
  return paths
    .filter((p) => !PLACEHOLDER.test(p) && !fs.existsSync(path.join(root, p)))
    .map((p) => `${inv.runner} ${inv.file}: no file ${p} in the repository`);
}

/**
 * `drain schedule pause nightly | unpause nightly | delete nightly`: a command after a `drain …`
 * on the same line that starts with a sibling sub-command's name is that sub-command, spelt out.
 */
function withAlternatives(commands: string[][]): string[][] {
  let parent: string[] | null = null;
  return commands.map((tokens) => {
    const inv = invocation(tokens);
    if (inv?.kind === 'drain') {
      const { names } = resolvePath(program, inv.args);
      parent = names.length ? names.slice(0, -1) : null;
      return tokens;
    }
    if (!inv && parent && resolvePath(program, [...parent, tokens[0]]).unknown === undefined)
      return ['drain', ...parent, ...tokens];
    return tokens;
  });
}

/** Every invocation in the docs, with where it is. */
function docInvocations(): Array<DocLine & { inv: NonNullable<Invocation>; command: string }> {
  const files = [
    'README.md',
    ...fs
      .readdirSync(path.join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
  return files.flatMap((file) => {
    const markdown = fs.readFileSync(path.join(root, file), 'utf8');
    return [...shellLines(file, markdown), ...inlineSpans(file, markdown)].flatMap((l) =>
      withAlternatives(simpleCommands(l.text)).flatMap((tokens) => {
        const inv = invocation(tokens);
        return inv ? [{ ...l, inv, command: tokens.join(' ') }] : [];
      }),
    );
  });
}

const program = await buildProgram();
const pkg = fs.readFileSync(path.join(root, 'package.json'), 'utf8');
const scripts = (JSON.parse(pkg) as { scripts: Record<string, string> }).scripts;

// The checker itself: what it finds on a line, and what it says is wrong.
const cases: Array<[line: string, problems: string[]]> = [
  ['npx drain start --batch-size 10 --wait', []],
  ['npx drain start --batch-sise 10', ['--batch-sise is not an option of `drain start`']],
  ['npx drain start --no-skip-runs-with-queued --mode=queued', []],
  ['npx drain start --mode all', ['--mode all: `drain start` takes failed, queued, queued-then-failed']],
  ['npx drain start --no-wait', ['--no-wait is not an option of `drain start`']],
  ['DRAIN_WORKSPACE=/x npx drain worker --metrics-port 9464  # --not-a-flag', []],
  ['$ drain memory list --json', []],
  ['npm ci && node bin/drain.js db migrate --sample', ['--sample is not an option of `drain db migrate`']],
  ['npx drain db seed --sample; npx drain db rollback', ['`drain db` has no sub-command "rollback"']],
  ['npx drain wroker', ['`drain` has no sub-command "wroker"']],
  ['npx drain schedule create nightly --cron "0 2 * * * --bogus" --paused', []],
  ['npx drain verify', ['`drain verify` needs 1 argument(s) ([options] <sessionId>), the doc gives 0']],
  ['npx drain stranded [--run R] [--json] | npx drain watch [session-id] --log', []],
  ['npx drain notify test --help && npx drain help schedule', []],
  ['npm run typecheck && npm test && npm run tpyecheck', ['package.json has no script "tpyecheck"']],
  [
    'bash scripts/test.sh e2e test/e2e/nope.test.ts',
    ['bash scripts/test.sh: no file test/e2e/nope.test.ts in the repository'],
  ],
  ['npm run demo -- --sqlite', []],
  ['npm run demo -- --sqlit', ['--sqlit is not an option of `drain demo`']],
  ['npx tsx bench/nope.ts', ['npx tsx bench/nope.ts: no file bench/nope.ts in the repository']],
  ['npx drain schedule pause nightly | unpause nightly | delete nightly | grep x', []],
  [
    'npx drain schedule pause nightly | unpause nightly --bogus',
    ['--bogus is not an option of `drain schedule unpause`'],
  ],
  ['temporal workflow start --type batchDrain --input \'{"batchSize": 10}\'', []],
  [
    'temporal workflow start --input \'{"batchsize": 10}\'',
    [
      `--input {"batchsize": 10}: unknown input field "batchsize"; known fields: ${Object.keys(DEFAULTS).join(', ')}`,
    ],
  ],
];

for (const [line, want] of cases) {
  test(`checker: ${line}`, () => {
    const got = shellLines('x.md', `\`\`\`bash\n${line}\n\`\`\`\n`).flatMap((l) =>
      withAlternatives(simpleCommands(l.text)).flatMap((t) => invocationProblems(invocation(t))),
    );
    assert.deepEqual(got, want);
  });
}

test('blocks: diagrams and output are not commands, prompts and continuations are', () => {
  const md = `\`\`\`
drain start / watch --not-a-flag
   │ ▼
\`\`\`
\`\`\`text
$ drain memory list \\
    --json
drain output line --not-a-flag
\`\`\`
\`\`\`json
"drain start --x"
\`\`\``;
  assert.deepEqual(shellLines('x.md', md), [
    { file: 'x.md', line: 6, text: 'drain memory list      --json' },
  ]);
});

test('inline spans: prose commands are checked without their arguments, fenced blocks are not spans', () => {
  const md =
    'Run `drain report --html` or `npx drain <command> --help`, not `drain report --htm`.\n```\n`drain x`\n```';
  const spans = inlineSpans('x.md', md);
  assert.deepEqual(
    spans.map((l) => l.text),
    ['drain report --html', 'npx drain <command> --help', 'drain report --htm'],
  );
  assert.deepEqual(
    spans.flatMap((l) => simpleCommands(l.text).flatMap((t) => invocationProblems(invocation(t), true))),
    ['--htm is not an option of `drain report`'],
  );
});

const found = docInvocations();

test('the docs show CLI commands (the extraction finds them)', () => {
  const drain = found.filter((f) => f.inv.kind === 'drain' && !f.inline).length;
  assert.ok(drain >= 40, `only ${drain} drain commands found in fenced blocks`);
});

test('every command in README.md and docs/*.md exists, with the flags it shows', () => {
  const problems = found.flatMap((f) =>
    invocationProblems(f.inv, f.inline).map((p) => `${f.file}:${f.line}: ${f.command} — ${p}`),
  );
  assert.deepEqual(problems, []);
});
