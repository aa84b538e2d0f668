/**
 * `drain tidy`: which session files to remove, as a pure plan over a scanned listing.
 *
 * The tree is `<workspace>/.autonomous_runs/batch_drain_sessions/`: session JSONs
 * (`<name>.json`), stray temp files of interrupted atomic writes (`<name>.json.<pid>.<ms>.tmp`,
 * or any other `*.tmp`), and session directories (`<name>/logs/…`), where `<name>` is the
 * session id made a file name by safeFileComponent. A session's age is the newest mtime of
 * anything it has; running sessions, protected names and the N newest sessions are kept.
 */
import path from 'node:path';
import { safeFileComponent } from './files.js';
import { formatAge, formatBytes, plural } from './format.js';

export { formatAge, formatBytes };

/** json/tmp/dir/other at the top of the tree; file/dir inside a session directory. */
type TidyKind = 'json' | 'tmp' | 'dir' | 'file' | 'other';

export interface TidyEntry {
  path: string;
  /** Base name (protected names are compared against it). */
  name: string;
  kind: TidyKind;
  mtimeMs: number;
  /** Own size; 0 for a directory. */
  bytes: number;
  /** The session's file name (`safeFileComponent(id)`), or null for a stray or foreign file. */
  sessionId: string | null;
}

export interface TidyOptions {
  /** Remove what is at least this old (0: any age). */
  olderThanMs: number;
  /** Always keep this many of the newest sessions (running ones count). */
  keep: number;
  /** Base names never touched, anywhere in the tree. */
  protect: readonly string[];
}

type KeepReason =
  | { type: 'running'; sessionId: string }
  | { type: 'protected'; name: string }
  | { type: 'newest'; keep: number }
  | { type: 'young'; olderThanMs: number }
  | { type: 'foreign' };

export interface TidyAction {
  op: 'remove' | 'keep';
  path: string;
  kind: TidyKind;
  /** Age of the newest mtime in this item (0 when it is in the future). */
  ageMs: number;
  /** Bytes of the item (a directory: every file in it). */
  bytes: number;
  sessionId: string | null;
  reason: KeepReason | null;
}

export const DEFAULT_PROTECTED = ['api_server.log'] as const;

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;

/** `14d`, `12h`, `30m`, `0d` → milliseconds; null for anything else. */
export function parseAge(s: string): number | null {
  const m = /^(\d+)([dhm])$/.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const ms = n * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}

const OUR_TMP = /^(.+)\.json\.\d+\.\d+\.tmp$/;

/** Kind and session of an item directly in the sessions directory. */
export function classifyTop(name: string, isDir: boolean): Pick<TidyEntry, 'kind' | 'sessionId'> {
  if (isDir) return { kind: 'dir', sessionId: name };
  const tmp = OUR_TMP.exec(name);
  if (tmp) return { kind: 'tmp', sessionId: tmp[1] };
  if (name.endsWith('.tmp')) return { kind: 'tmp', sessionId: null };
  if (name.endsWith('.json') && name.length > 5) return { kind: 'json', sessionId: name.slice(0, -5) };
  return { kind: 'other', sessionId: null };
}

/**
 * File names of running sessions → their ids: ours (safeFileComponent) and, when the id is a
 * plain file name, the id itself (the original controller's naming).
 */
export function runningNames(ids: Iterable<string>): Map<string, string> {
  const names = new Map<string, string>();
  for (const id of ids) {
    names.set(safeFileComponent(id), id);
    if (!/[/\\\u0000]/.test(id) && id !== '.' && id !== '..' && id !== '') names.set(id, id);
  }
  return names;
}

interface Tree {
  tops: TidyEntry[];
  children: Map<string, TidyEntry[]>;
  newest: Map<string, number>;
  bytes: Map<string, number>;
  hasProtected: Map<string, boolean>;
}

const byPath = (a: TidyEntry, b: TidyEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Parent/child links and per-subtree newest mtime, bytes and "holds a protected name". */
function buildTree(entries: readonly TidyEntry[], protect: ReadonlySet<string>): Tree {
  const paths = new Set(entries.map((e) => e.path));
  const t: Tree = {
    tops: [],
    children: new Map(),
    newest: new Map(),
    bytes: new Map(),
    hasProtected: new Map(),
  };
  for (const e of [...entries].sort(byPath)) {
    const parent = path.dirname(e.path);
    if (!paths.has(parent)) t.tops.push(e);
    else if (t.children.has(parent)) t.children.get(parent)!.push(e);
    else t.children.set(parent, [e]);
  }
  const visit = (e: TidyEntry): void => {
    let newest = e.mtimeMs;
    let bytes = e.bytes;
    let prot = protect.has(e.name);
    for (const c of t.children.get(e.path) ?? []) {
      visit(c);
      newest = Math.max(newest, t.newest.get(c.path)!);
      bytes += t.bytes.get(c.path)!;
      prot ||= t.hasProtected.get(c.path)!;
    }
    t.newest.set(e.path, newest);
    t.bytes.set(e.path, bytes);
    t.hasProtected.set(e.path, prot);
  };
  t.tops.forEach(visit);
  return t;
}

interface Group {
  key: string;
  sessionId: string | null;
  tops: TidyEntry[];
  newest: number;
}

/** A session has a JSON or a directory (a leftover temp file alone is a stray). */
const isSession = (g: Group) =>
  g.sessionId !== null && g.tops.some((e) => e.kind === 'json' || e.kind === 'dir');

/** Top-level items by session (a stray or foreign item is a group of its own), newest first. */
function groupTops(t: Tree): Group[] {
  const groups = new Map<string, Group>();
  for (const e of t.tops) {
    const key = e.sessionId === null ? `\u0000${e.path}` : e.sessionId;
    const g = groups.get(key) ?? { key, sessionId: e.sessionId, tops: [], newest: -Infinity };
    g.tops.push(e);
    g.newest = Math.max(g.newest, t.newest.get(e.path)!);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.newest - a.newest || (a.key < b.key ? -1 : 1));
}

function action(t: Tree, e: TidyEntry, now: number, reason: KeepReason | null): TidyAction {
  return {
    op: reason ? 'keep' : 'remove',
    path: e.path,
    kind: e.kind,
    ageMs: Math.max(0, now - t.newest.get(e.path)!),
    bytes: t.bytes.get(e.path)!,
    sessionId: e.sessionId,
    reason,
  };
}

/** Removes an item whole, or, when it holds a protected name, its other parts one by one. */
function planRemoval(t: Tree, e: TidyEntry, now: number, protect: ReadonlySet<string>): TidyAction[] {
  if (protect.has(e.name)) return [action(t, e, now, { type: 'protected', name: e.name })];
  if (!t.hasProtected.get(e.path)) return [action(t, e, now, null)];
  return (t.children.get(e.path) ?? []).flatMap((c) => planRemoval(t, c, now, protect));
}

/** Why a whole group stays (null: it is old enough to go). */
function groupKeepReason(
  g: Group,
  rank: number,
  now: number,
  o: TidyOptions,
  running: ReadonlyMap<string, string>,
): KeepReason | null {
  if (g.sessionId !== null && running.has(g.sessionId))
    return { type: 'running', sessionId: running.get(g.sessionId)! };
  if (isSession(g) && rank < o.keep) return { type: 'newest', keep: o.keep };
  if (g.tops.every((e) => e.kind === 'other')) return { type: 'foreign' };
  if (Math.max(0, now - g.newest) < o.olderThanMs) return { type: 'young', olderThanMs: o.olderThanMs };
  return null;
}

/** The plan: one action per item removed or kept, in path order. */
export function planTidy(
  entries: readonly TidyEntry[],
  nowMs: number,
  o: TidyOptions,
  runningIds: Iterable<string>,
): TidyAction[] {
  const protect = new Set(o.protect);
  const running = runningNames(runningIds);
  const t = buildTree(entries, protect);
  let rank = 0;
  const out: TidyAction[] = [];
  for (const g of groupTops(t)) {
    const reason = groupKeepReason(g, rank, nowMs, o, running);
    if (isSession(g)) rank++;
    for (const e of g.tops) {
      if (protect.has(e.name)) out.push(action(t, e, nowMs, { type: 'protected', name: e.name }));
      else if (reason) out.push(action(t, e, nowMs, reason));
      else out.push(...planRemoval(t, e, nowMs, protect));
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The same age as the user typed it (`14d`), from milliseconds. */
function formatThreshold(ms: number): string {
  for (const [u, size] of Object.entries(UNIT_MS)) if (ms % size === 0) return `${ms / size}${u}`;
  return formatAge(ms);
}

function keepReasonText(r: KeepReason): string {
  switch (r.type) {
    case 'running':
      return `running session ${r.sessionId}`;
    case 'protected':
      return `protected name ${r.name}`;
    case 'newest':
      return `among the ${r.keep} newest`;
    case 'young':
      return `younger than ${formatThreshold(r.olderThanMs)}`;
    case 'foreign':
      return 'not a drain session file';
  }
}

/** `remove <path> (<age>, <bytes>)` / `keep <path>: <reason>`; past tense after the fact. */
export function formatAction(a: TidyAction, done: boolean): string {
  if (a.op === 'remove')
    return `${done ? 'removed' : 'remove'} ${a.path} (${formatAge(a.ageMs)}, ${formatBytes(a.bytes)})`;
  return `${done ? 'kept' : 'keep'} ${a.path}: ${keepReasonText(a.reason!)}`;
}

/** Lines to print: removals and kept items, except those kept only for being young. */
export const listedActions = (actions: readonly TidyAction[]) =>
  actions.filter((a) => a.reason?.type !== 'young');

const REASON_ORDER: readonly KeepReason['type'][] = ['running', 'protected', 'newest', 'young', 'foreign'];

function totalsLabel(r: KeepReason, n: number): string {
  if (r.type === 'running') return 'of running sessions';
  if (r.type === 'protected') return 'protected';
  if (r.type === 'foreign') return n === 1 ? 'not a drain session file' : 'not drain session files';
  return keepReasonText(r);
}

/** `total: would remove 3 paths (…); keep 4 paths (…)`, or the past tense after the fact. */
export function formatTotals(actions: readonly TidyAction[], done: boolean): string {
  const removed = actions.filter((a) => a.op === 'remove');
  const sessions = new Set(
    removed.filter((a) => a.kind !== 'tmp' && a.sessionId !== null).map((a) => a.sessionId),
  );
  const tmps = removed.filter((a) => a.kind === 'tmp').length;
  const bytes = removed.reduce((n, a) => n + a.bytes, 0);
  const what = [`from ${plural(sessions.size, 'session')}`, plural(tmps, 'temp file'), formatBytes(bytes)];
  const kept = actions.filter((a) => a.op === 'keep');
  const why = REASON_ORDER.flatMap((type) => {
    const of = kept.filter((a) => a.reason!.type === type);
    return of.length ? [`${of.length} ${totalsLabel(of[0].reason!, of.length)}`] : [];
  });
  const verbs = done ? ['removed', 'kept'] : ['would remove', 'would keep'];
  const keptText = kept.length ? ` (${why.join(', ')})` : '';
  return `total: ${verbs[0]} ${plural(removed.length, 'path')} (${what.join(', ')}); ${verbs[1]} ${plural(kept.length, 'path')}${keptText}`;
}
