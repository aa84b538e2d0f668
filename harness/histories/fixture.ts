/**
 * Recorded workflow histories (scripts/record-histories.ts writes them, test/e2e/replay.test.ts
 * replays them): the fixture format, where fixtures live, secret scrubbing and replay.
 *
 * A fixture file is one JSON object: metadata plus `histories`, an array of
 * `{ workflowId, runId, history }` with `history` in proto JSON (`historyToJSON`, the format
 * of `temporal workflow show --output json`), one entry per workflow run of the session
 * (a session that continues as new has several). `histories` is exactly what
 * `Worker.runReplayHistories` takes; the workflow id matters because the workflow reads it.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { findTemporalCli } from '../../src/runtime/binaries.js';
import { REDACTED } from '../../src/domain/redact.js';
import { historyFromProtoJson } from './proto-json.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HISTORIES_DIR = path.join(ROOT, 'test', 'fixtures', 'histories');

/** One workflow run's history, as Worker.runReplayHistories takes it. */
export interface RecordedRun {
  workflowId: string;
  runId: string;
  /** Proto JSON (historyToJSON): `{ "events": [...] }`. */
  history: { events: Record<string, unknown>[] };
}

export interface HistoryFixture {
  release: string;
  scenario: string;
  description: string;
  recordedAt: string;
  recordedWith: { sdk: string; server: string };
  /** Every run of the session, first to last (continue-as-new makes more than one). */
  histories: RecordedRun[];
}

/** A DSN whose password is not redacted. */
const DSN_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"']+:(?!\*\*\*@)[^@\s"'/]+@/i;

/**
 * Replaces every known secret value in every string, and in every payload's decoded data, by
 * the redaction mark. Returns the scrubbed value and how many places changed.
 */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): { value: T; changed: number } {
  let changed = 0;
  const clean = (s: string) => {
    let out = s;
    for (const secret of secrets) if (secret) out = out.split(secret).join(REDACTED);
    if (out !== s) changed++;
    return out;
  };
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key === 'data') {
        const decoded = Buffer.from(v, 'base64').toString('utf8');
        const cleaned = clean(decoded);
        return cleaned === decoded ? v : Buffer.from(cleaned, 'utf8').toString('base64');
      }
      return clean(v);
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  };
  return { value: walk(value) as T, changed };
}

/** Places in `value` (raw strings and decoded payload data) holding a secret or a DSN with a password. */
export function secretLeaks(value: unknown, secrets: readonly string[] = []): string[] {
  const leaks: string[] = [];
  const check = (where: string, s: string) => {
    for (const secret of secrets) if (secret && s.includes(secret)) leaks.push(`${where}: a known secret`);
    const m = DSN_WITH_PASSWORD.exec(s);
    if (m) leaks.push(`${where}: a DSN with a password (${m[0].replace(/:[^:@]+@$/, ':…@')})`);
  };
  const walk = (v: unknown, where: string, key?: string) => {
    if (typeof v === 'string') {
      check(where, v);
      if (key === 'data') check(`${where} (decoded)`, Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`, k);
  };
  walk(value, '$');
  return leaks;
}

/** Replays `runs` against `bundle`; one result per run, `error` set when it did not replay. */
export async function replayRuns(
  bundle: WorkflowBundle,
  runs: readonly RecordedRun[],
  replayName = 'autopack-drain-replay',
): Promise<{ workflowId: string; runId: string; error?: Error }[]> {
  const results: { workflowId: string; runId: string; error?: Error }[] = [];
  const iter = Worker.runReplayHistories(
    { workflowBundle: bundle, replayName },
    runs.map((r) => ({ workflowId: r.workflowId, history: historyFromProtoJson(r.history) })),
  );
  let i = 0;
  for await (const r of iter) {
    // Results come in input order; the history's own run id is not in the history.
    results.push({ workflowId: r.workflowId, runId: runs[i++]?.runId ?? r.runId, error: r.error });
  }
  return results;
}

/**
 * The fixture as JSON text: metadata indented, one history event per line (smaller than
 * indenting every event, and a re-recording diffs event by event).
 */
export function fixtureText(fixture: HistoryFixture): string {
  const { histories, ...meta } = fixture;
  const head = JSON.stringify(meta, null, 1).replace(/\n}$/, '');
  const runs = histories.map(
    (r) =>
      `  {"workflowId": ${JSON.stringify(r.workflowId)}, "runId": ${JSON.stringify(r.runId)}, "history": {"events": [\n` +
      r.history.events.map((e) => `   ${JSON.stringify(e)}`).join(',\n') +
      '\n  ]}}',
  );
  const text = `${head},\n "histories": [\n${runs.join(',\n')}\n ]\n}\n`;
  if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(fixture))
    throw new Error('fixtureText: not the fixture');
  return text;
}

export function releaseVersion(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function recordedWith(): HistoryFixture['recordedWith'] {
  const sdk = (
    JSON.parse(
      readFileSync(path.join(ROOT, 'node_modules', '@temporalio', 'worker', 'package.json'), 'utf8'),
    ) as { version: string }
  ).version;
  let server = 'unknown';
  try {
    server = execFileSync(findTemporalCli(), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // keep 'unknown'
  }
  return { sdk: `@temporalio/worker ${sdk}`, server };
}
