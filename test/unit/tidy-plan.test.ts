import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyTop,
  formatAction,
  formatAge,
  formatBytes,
  formatTotals,
  listedActions,
  parseAge,
  planTidy,
  runningNames,
  type TidyAction,
  type TidyEntry,
  type TidyOptions,
} from '../../src/domain/tidy-plan.js';

const ROOT = '/ws/.autonomous_runs/batch_drain_sessions';
const NOW = Date.UTC(2026, 0, 31, 12);
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Entries from `[relative path, age in days, bytes]`; a path ending in `/` is a directory. */
function tree(spec: Array<[rel: string, ageDays: number, bytes?: number]>): TidyEntry[] {
  return spec.map(([rel, ageDays, bytes = 0]) => {
    const isDir = rel.endsWith('/');
    const clean = rel.replace(/\/$/, '');
    const parts = clean.split('/');
    const top = classifyTop(parts[0], isDir || parts.length > 1);
    const name = parts[parts.length - 1];
    return {
      path: `${ROOT}/${clean}`,
      name,
      kind: parts.length === 1 ? top.kind : isDir ? 'dir' : 'file',
      mtimeMs: NOW - ageDays * DAY,
      bytes: isDir ? 0 : bytes,
      sessionId: top.sessionId,
    };
  });
}

/** A finished session `id`: its JSON, logs dir and two log files, all `ageDays` old. */
const session = (id: string, ageDays: number): Array<[string, number, number?]> => [
  [`${id}.json`, ageDays, 100],
  [`${id}/`, ageDays],
  [`${id}/logs/`, ageDays],
  [`${id}/logs/r__p__a1.stdout.txt`, ageDays, 1000],
  [`${id}/logs/r__p__a1.stderr.txt`, ageDays, 24],
];

const opts = (o: Partial<TidyOptions> = {}): TidyOptions => ({
  olderThanMs: 14 * DAY,
  keep: 0,
  protect: ['api_server.log'],
  ...o,
});

/** Plan as `op rel: reason` strings (paths relative to ROOT). */
function plan(entries: TidyEntry[], o: Partial<TidyOptions> = {}, running: string[] = []): string[] {
  return planTidy(entries, NOW, opts(o), running).map((a) => {
    const rel = a.path.slice(ROOT.length + 1);
    return a.op === 'remove' ? `remove ${rel}` : `keep ${rel}: ${a.reason!.type}`;
  });
}

const ages: Array<[input: string, ms: number | null]> = [
  ['14d', 14 * DAY],
  ['12h', 12 * HOUR],
  ['30m', 30 * 60_000],
  ['0d', 0],
  ['0m', 0],
  [' 7d ', 7 * DAY],
  ['', null],
  ['14', null],
  ['d', null],
  ['-1d', null],
  ['1.5d', null],
  ['14days', null],
  ['14D', null],
  ['10s', null],
  ['1w', null],
  ['99999999999999999999d', null],
];
for (const [input, ms] of ages) {
  test(`parseAge(${JSON.stringify(input)}) = ${ms}`, () => assert.equal(parseAge(input), ms));
}

const tops: Array<[name: string, isDir: boolean, kind: string, sessionId: string | null]> = [
  ['batch-drain-20260101-000000.json', false, 'json', 'batch-drain-20260101-000000'],
  ['batch-drain-20260101-000000', true, 'dir', 'batch-drain-20260101-000000'],
  ['s.json.1234.1767225600000.tmp', false, 'tmp', 's'],
  ['a.json.b.json.1.2.tmp', false, 'tmp', 'a.json.b'],
  ['weird.tmp', false, 'tmp', null],
  ['api_server.log', false, 'other', null],
  ['notes.txt', false, 'other', null],
  ['.json', false, 'other', null],
  ['odd%2Fid.json', false, 'json', 'odd%2Fid'],
];
for (const [name, isDir, kind, sessionId] of tops) {
  test(`classifyTop(${name}, ${isDir}) = ${kind} ${sessionId}`, () =>
    assert.deepEqual(classifyTop(name, isDir), { kind, sessionId }));
}

test('runningNames maps file names through safeFileComponent and keeps plain ids', () => {
  assert.deepEqual(
    [...runningNames(['plain', 'a/b', 'x:y', '..'])],
    [
      ['plain', 'plain'],
      ['a%2Fb', 'a/b'],
      ['x%3Ay', 'x:y'],
      ['x:y', 'x:y'],
      ['%2E%2E', '..'],
    ],
  );
});

const plans: Array<{
  name: string;
  entries: TidyEntry[];
  o?: Partial<TidyOptions>;
  running?: string[];
  want: string[];
}> = [
  {
    name: 'an old finished session goes whole: JSON and directory',
    entries: tree(session('old', 20)),
    want: ['remove old', 'remove old.json'],
  },
  {
    name: 'a young session stays (kept as young)',
    entries: tree(session('new', 2)),
    want: ['keep new: young', 'keep new.json: young'],
  },
  {
    name: 'age is the newest mtime inside: one recent log keeps the whole session',
    entries: tree([...session('mixed', 30), ['mixed/logs/r__p__a2.stdout.txt', 1]]),
    want: ['keep mixed: young', 'keep mixed.json: young'],
  },
  {
    name: '0d removes any age, 0 included',
    entries: tree(session('now', 0)),
    o: { olderThanMs: 0 },
    want: ['remove now', 'remove now.json'],
  },
  {
    name: 'exactly the threshold is old enough',
    entries: tree(session('edge', 14)),
    want: ['remove edge', 'remove edge.json'],
  },
  {
    name: 'a running session is never touched, whatever its age',
    entries: tree([...session('run', 40), ['run.json.99.1700000000000.tmp', 40]]),
    o: { olderThanMs: 0 },
    running: ['run'],
    want: ['keep run: running', 'keep run.json: running', 'keep run.json.99.1700000000000.tmp: running'],
  },
  {
    name: 'running ids are compared as file names (safeFileComponent)',
    entries: tree(session('odd%2Fid', 40)),
    running: ['odd/id'],
    want: ['keep odd%2Fid: running', 'keep odd%2Fid.json: running'],
  },
  {
    name: "a running id's plain name (the original controller's file) is kept too",
    entries: tree(session('x:y', 40)),
    running: ['x:y'],
    want: ['keep x:y: running', 'keep x:y.json: running'],
  },
  {
    name: 'a directory holding a protected file stays; only its other old files go',
    entries: tree([
      ...session('s', 20),
      ['s/logs/api_server.log', 20, 5],
      ['s/other/', 20],
      ['s/other/x', 20, 1],
    ]),
    want: [
      'remove s.json',
      'keep s/logs/api_server.log: protected',
      'remove s/logs/r__p__a1.stderr.txt',
      'remove s/logs/r__p__a1.stdout.txt',
      'remove s/other',
    ],
  },
  {
    name: 'a protected name at the top is kept and listed, whatever its age',
    entries: tree([['api_server.log', 400, 10]]),
    o: { olderThanMs: 0 },
    want: ['keep api_server.log: protected'],
  },
  {
    name: '--protect adds names',
    entries: tree([...session('s', 20), ['s/logs/keep.me', 20]]),
    o: { protect: ['api_server.log', 'keep.me'] },
    want: [
      'remove s.json',
      'keep s/logs/keep.me: protected',
      'remove s/logs/r__p__a1.stderr.txt',
      'remove s/logs/r__p__a1.stdout.txt',
    ],
  },
  {
    name: 'stray temp files: ours go with their session, foreign ones by their own age',
    entries: tree([
      ['gone.json.1.2.tmp', 30, 7],
      ['fresh.tmp', 1],
      ['old.tmp', 30],
    ]),
    want: ['keep fresh.tmp: young', 'remove gone.json.1.2.tmp', 'remove old.tmp'],
  },
  {
    name: 'files that are not drain session files stay',
    entries: tree([['notes.txt', 99]]),
    o: { olderThanMs: 0 },
    want: ['keep notes.txt: foreign'],
  },
  {
    name: '--keep 2 keeps the two newest sessions whatever their age',
    entries: tree([...session('a', 30), ...session('b', 20), ...session('c', 40)]),
    o: { keep: 2 },
    want: [
      'keep a: newest',
      'keep a.json: newest',
      'keep b: newest',
      'keep b.json: newest',
      'remove c',
      'remove c.json',
    ],
  },
  {
    name: '--keep counts running sessions; a stray temp file is not a session',
    entries: tree([...session('a', 30), ...session('b', 20), ['z.json.1.2.tmp', 10]]),
    o: { keep: 2, olderThanMs: 0 },
    running: ['b'],
    want: [
      'keep a: newest',
      'keep a.json: newest',
      'keep b: running',
      'keep b.json: running',
      'remove z.json.1.2.tmp',
    ],
  },
  {
    name: 'nothing there, nothing to do',
    entries: [],
    want: [],
  },
];
for (const c of plans) {
  test(`planTidy: ${c.name}`, () => assert.deepEqual(plan(c.entries, c.o, c.running), c.want));
}

test('a removed directory carries the bytes and the newest age of everything in it', () => {
  const [dir, json] = planTidy(tree(session('old', 20)), NOW, opts(), []);
  assert.deepEqual([dir.bytes, dir.ageMs, json.bytes], [1024, 20 * DAY, 100]);
});

const durations: Array<[ms: number, text: string]> = [
  [0, '0s'],
  [-5000, '0s'],
  [45_000, '45s'],
  [60_000, '1m'],
  [12 * 60_000 + 3000, '12m 3s'],
  [5 * HOUR + 12 * 60_000, '5h 12m'],
  [2 * HOUR, '2h'],
  [3 * DAY + 4 * HOUR + 59_000, '3d 4h'],
  [14 * DAY, '14d'],
];
for (const [ms, text] of durations) {
  test(`formatAge(${ms}) = ${text}`, () => assert.equal(formatAge(ms), text));
}

const sizes: Array<[n: number, text: string]> = [
  [0, '0 B'],
  [1023, '1023 B'],
  [1024, '1.0 KiB'],
  [1536, '1.5 KiB'],
  [5 * 1024 * 1024, '5.0 MiB'],
  [3.2 * 1024 ** 3, '3.2 GiB'],
];
for (const [n, text] of sizes) {
  test(`formatBytes(${n}) = ${text}`, () => assert.equal(formatBytes(n), text));
}

const act = (a: Partial<TidyAction>): TidyAction => ({
  op: 'keep',
  path: '/p',
  kind: 'json',
  ageMs: 0,
  bytes: 0,
  sessionId: 's',
  reason: null,
  ...a,
});

const lines: Array<[a: TidyAction, done: boolean, text: string]> = [
  [act({ op: 'remove', ageMs: 2 * DAY, bytes: 2048 }), false, 'remove /p (2d, 2.0 KiB)'],
  [act({ op: 'remove', ageMs: 2 * DAY, bytes: 2048 }), true, 'removed /p (2d, 2.0 KiB)'],
  [act({ reason: { type: 'running', sessionId: 'a/b' } }), false, 'keep /p: running session a/b'],
  [
    act({ reason: { type: 'protected', name: 'api_server.log' } }),
    true,
    'kept /p: protected name api_server.log',
  ],
  [act({ reason: { type: 'newest', keep: 3 } }), false, 'keep /p: among the 3 newest'],
  [act({ reason: { type: 'young', olderThanMs: 12 * HOUR } }), false, 'keep /p: younger than 12h'],
  [act({ reason: { type: 'foreign' } }), false, 'keep /p: not a drain session file'],
];
for (const [a, done, text] of lines) {
  test(`formatAction → ${text}`, () => assert.equal(formatAction(a, done), text));
}

test('listedActions leaves out items kept only for being young', () => {
  const young = act({ reason: { type: 'young', olderThanMs: DAY } });
  const running = act({ reason: { type: 'running', sessionId: 's' } });
  assert.deepEqual(listedActions([young, running]), [running]);
});

const mix = [
  act({ op: 'remove', kind: 'dir', sessionId: 'a', bytes: 1000 }),
  act({ op: 'remove', kind: 'json', sessionId: 'a', bytes: 100 }),
  act({ op: 'remove', kind: 'tmp', sessionId: null, bytes: 24 }),
  act({ reason: { type: 'running', sessionId: 'r' } }),
  act({ reason: { type: 'running', sessionId: 'r' } }),
  act({ reason: { type: 'protected', name: 'api_server.log' } }),
  act({ reason: { type: 'young', olderThanMs: 14 * DAY } }),
];
const totals: Array<[actions: TidyAction[], done: boolean, text: string]> = [
  [
    mix,
    false,
    'total: would remove 3 paths (from 1 session, 1 temp file, 1.1 KiB); would keep 4 paths (2 of running sessions, 1 protected, 1 younger than 14d)',
  ],
  [
    mix,
    true,
    'total: removed 3 paths (from 1 session, 1 temp file, 1.1 KiB); kept 4 paths (2 of running sessions, 1 protected, 1 younger than 14d)',
  ],
  [
    [act({ reason: { type: 'foreign' } }), act({ reason: { type: 'newest', keep: 2 } })],
    true,
    'total: removed 0 paths (from 0 sessions, 0 temp files, 0 B); kept 2 paths (1 among the 2 newest, 1 not a drain session file)',
  ],
  [[], false, 'total: would remove 0 paths (from 0 sessions, 0 temp files, 0 B); would keep 0 paths'],
];
for (const [actions, done, text] of totals) {
  test(`formatTotals → ${text}`, () => assert.equal(formatTotals(actions, done), text));
}
