/**
 * Session files of every origin, read into our session JSON shape (report-json.ts), so every
 * reader (summary, demo, start --wait) sees one shape whoever wrote the file:
 *
 *   autopack-drain  written by this project (buildSessionJson).
 *   original-v2     the original Python controller with the adaptive controls (guide v2.0):
 *                   adds total_timeouts, total_telemetry_events, fingerprint_counts,
 *                   stopped_fingerprints, stopped_runs, and results with subprocess_* and
 *                   telemetry_* fields. Later original fields (consecutive_zero_yield,
 *                   sampled/promising/deprioritized_runs, reached_llm_boundary,
 *                   zero_yield_reason) are read as well.
 *   original-v1     before them: session_id, started_at, completed_at, batch_size,
 *                   total_processed, total_success, total_failed, results[] of run_id, phase_id,
 *                   phase_index, initial_state, final_state, success, error_message, timestamp.
 *
 * Fields the guide's "Upgrading Old Session Files" names are initialised as it says
 * (fingerprint_counts → {}, stopped_fingerprints → [], stopped_runs → [], total_timeouts → 0,
 * total_telemetry_events → 0). Our own fields an original file cannot have are derived from
 * its results the way the original's summary does (yield over non-timeout durations, a result
 * timed out when its return code is -1/143 or its final_state TIMEOUT), or get their default.
 * A known field of the wrong type becomes its default, with a note. Unknown fields are kept
 * as they are (after ours). Pure: no Node APIs, no I/O.
 */
import type { DrainConfig } from './types.js';
import { byCodeUnit, jsonSafe, type DrainResultJson, type SessionJson } from './report-json.js';

export type SessionFileFormat = 'autopack-drain' | 'original-v2' | 'original-v1';

/** Our session JSON; `config` is null for the original's files (it did not record its flags). */
export type SessionFileJson = Omit<SessionJson, 'config'> & { config: DrainConfig | null };

export interface NormalizedSessionFile {
  json: SessionFileJson;
  format: SessionFileFormat;
  /** What was assumed or repaired, one sentence each (at most MAX_NOTES). */
  notes: string[];
}

export const MAX_NOTES = 20;

/** What the adaptive-controls guide says to initialise when an older file lacks it. */
export const GUIDE_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  fingerprint_counts: {},
  stopped_fingerprints: [],
  stopped_runs: [],
  total_timeouts: 0,
  total_telemetry_events: 0,
});

/** Fields of the original's v1 session (its dataclass). */
const V1_FIELDS = [
  'session_id',
  'started_at',
  'completed_at',
  'batch_size',
  'total_processed',
  'total_success',
  'total_failed',
  'results',
];
/** Result fields only the original's v2 (and later) writes. */
const V2_RESULT_FIELDS = [
  'subprocess_returncode',
  'subprocess_duration_seconds',
  'subprocess_stdout_path',
  'subprocess_stderr_path',
  'failure_fingerprint',
  'telemetry_events_collected',
  'telemetry_yield_per_minute',
];
/** Session fields only this project writes. */
const OURS_ONLY = [
  'generation',
  'total_drain_seconds',
  'stopped_run_reasons',
  'interrupted_attempts',
  'config',
];
const ORIGINAL_TIMEOUT_CODES = [-1, 143];

// ---------------------------------------------------------------------------------------
// Field checks

type Rec = Record<string, unknown>;
interface Check {
  what: string;
  ok: (v: unknown) => boolean;
}
const isObj = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Rec, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const STR: Check = { what: 'a string', ok: (v) => typeof v === 'string' };
const NUM: Check = { what: 'a number', ok: (v) => typeof v === 'number' && Number.isFinite(v) };
const BOOL: Check = { what: 'true or false', ok: (v) => typeof v === 'boolean' };
const OBJ: Check = { what: 'an object', ok: isObj };
const ARR: Check = { what: 'an array', ok: Array.isArray };
const orNull = (c: Check): Check => ({ what: `${c.what} or null`, ok: (v) => v === null || c.ok(v) });
const S = orNull(STR);
const N = orNull(NUM);

/** A short description of a JSON value for a note or an error. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

/** What reading a file noticed: repairs (one sentence each) and missing fields given their default. */
interface Ctx {
  notes: string[];
  missing: string[];
}

function setOwn(o: Rec, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Reads one field: its value when it passes `check`, else `dflt` (noted when wrong; listed when missing and `noteMissing`). */
function pick(o: Rec, key: string, check: Check, dflt: unknown, at: string, ctx: Ctx, noteMissing: boolean) {
  if (!has(o, key)) {
    if (noteMissing) ctx.missing.push(`${at}${key}`);
    return dflt;
  }
  if (check.ok(o[key])) return o[key];
  ctx.notes.push(`${at}${key}: expected ${check.what}, got ${describe(o[key])} → ${JSON.stringify(dflt)}`);
  return dflt;
}

/** Distinct strings (the original's sets); other items dropped with a note. */
function stringList(o: Rec, key: string, ctx: Ctx, noteMissing: boolean): string[] {
  const items = pick(o, key, ARR, [], '', ctx, noteMissing) as unknown[];
  const kept = new Set(items.filter((x): x is string => typeof x === 'string'));
  const bad = items.filter((x) => typeof x !== 'string').length;
  if (bad > 0) ctx.notes.push(`${key}: ${bad} item(s) that are not strings dropped`);
  return [...kept];
}

/** An object whose values pass `check`; other entries dropped with a note. */
function record(o: Rec, key: string, check: Check, ctx: Ctx, noteMissing: boolean): Rec {
  const src = pick(o, key, OBJ, {}, '', ctx, noteMissing) as Rec;
  const out: Rec = {};
  let bad = 0;
  for (const [k, v] of Object.entries(src)) {
    if (check.ok(v)) setOwn(out, k, v);
    else bad++;
  }
  if (bad > 0)
    ctx.notes.push(`${key}: ${bad} entr${bad === 1 ? 'y' : 'ies'} whose value is not ${check.what} dropped`);
  return out;
}

/** Unknown fields of `src`, copied (as plain JSON) after the known ones in `out`. */
function keepExtras(src: Rec, out: Rec): void {
  for (const k of Object.keys(src)) if (!has(out, k)) setOwn(out, k, jsonSafe(src[k]) ?? null);
}

// ---------------------------------------------------------------------------------------
// Results

type Spec = readonly [key: keyof DrainResultJson, check: Check, dflt: unknown];
const RESULT_SPECS: readonly Spec[] = [
  ['run_id', STR, ''],
  ['phase_id', STR, ''],
  ['attempt', NUM, 1],
  ['try', NUM, 1],
  ['status', STR, 'finished'],
  ['initial_state', S, null],
  ['final_state', S, null],
  ['success', BOOL, false],
  ['error_message', S, null],
  ['last_failure_reason', S, null],
  ['timed_out', BOOL, false],
  ['signal', S, null],
  ['subprocess_returncode', N, null],
  ['subprocess_duration_seconds', N, null],
  ['subprocess_stdout_path', S, null],
  ['subprocess_stderr_path', S, null],
  ['subprocess_stdout_excerpt', S, null],
  ['subprocess_stderr_excerpt', S, null],
  ['stdout_bytes', N, null],
  ['stderr_bytes', N, null],
  ['failure_fingerprint', S, null],
  ['failure_category', S, null],
  ['telemetry_events_collected', N, null],
  ['telemetry_global_delta', N, null],
  ['telemetry_yield_per_minute', N, null],
  ['llm_boundary_hit', BOOL, false],
  ['zero_yield_reason', S, null],
  ['baseline_commit', S, null],
  ['worker_identity', S, null],
  ['timestamp', S, null],
  ['finished_at', S, null],
];
const RESULT_REQUIRED: ReadonlySet<string> = new Set(['run_id', 'phase_id', 'success']);

/**
 * Our fields an original result cannot have, derived the original's way: `attempt` is the
 * phase's ordinal in the file, a return code of -1/143 or final_state TIMEOUT is a timeout,
 * its telemetry count was of all rows (so also the global delta), and its `timestamp` was
 * taken when the result was recorded, i.e. after the drain.
 */
function deriveOriginalResult(raw: Rec, r: Rec, ordinal: number): void {
  const derived: Rec = {
    attempt: ordinal,
    timed_out:
      ORIGINAL_TIMEOUT_CODES.includes(r.subprocess_returncode as number) || r.final_state === 'TIMEOUT',
    llm_boundary_hit: raw.reached_llm_boundary === true,
    telemetry_global_delta: r.telemetry_events_collected,
    finished_at: r.timestamp,
  };
  for (const [k, v] of Object.entries(derived)) if (!has(raw, k)) r[k] = v;
}

/** One entry of results[] (or interrupted_attempts[] / in_progress[]); null when not an object. */
function normalizeResult(raw: unknown, at: string, original: boolean, ordinal: number, ctx: Ctx) {
  if (!isObj(raw)) {
    ctx.notes.push(`${at}: expected an object, got ${describe(raw)} → dropped`);
    return null;
  }
  const r: Rec = {};
  for (const [key, check, dflt] of RESULT_SPECS) {
    r[key] = pick(raw, key, check, dflt, `${at}.`, ctx, RESULT_REQUIRED.has(key));
  }
  if (original) deriveOriginalResult(raw, r, ordinal);
  keepExtras(raw, r);
  return r as unknown as DrainResultJson;
}

function normalizeResults(o: Rec, key: string, original: boolean, ctx: Ctx, noteMissing: boolean) {
  const items = pick(o, key, ARR, [], '', ctx, noteMissing) as unknown[];
  const seen = new Map<string, number>();
  const out: DrainResultJson[] = [];
  items.forEach((raw, i) => {
    const pair = isObj(raw) ? JSON.stringify([raw.run_id, raw.phase_id]) : '';
    const ordinal = (seen.get(pair) ?? 0) + 1;
    seen.set(pair, ordinal);
    const r = normalizeResult(raw, `${key}[${i}]`, original, ordinal, ctx);
    if (r) out.push(r);
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Small lists of our own (skipped, planned) and the db identity

/** Entries with every field of `fields` passing its check; others dropped with a note. */
function entries<T>(o: Rec, key: string, fields: Record<string, Check>, ctx: Ctx, noteMissing: boolean) {
  const items = pick(o, key, ARR, [], '', ctx, noteMissing) as unknown[];
  const ok = items.filter((x): x is Rec => isObj(x) && Object.entries(fields).every(([k, c]) => c.ok(x[k])));
  if (ok.length < items.length)
    ctx.notes.push(`${key}: ${items.length - ok.length} malformed entr(ies) dropped`);
  return ok.map((x) => Object.fromEntries(Object.keys(fields).map((k) => [k, x[k]])) as T);
}

function dbIdentity(o: Rec, ctx: Ctx, ours: boolean): SessionJson['db'] {
  const v = pick(o, 'db', orNull(OBJ), null, '', ctx, ours) as Rec | null;
  if (v === null) return null;
  if (STR.ok(v.url) && NUM.ok(v.runs) && NUM.ok(v.phases)) {
    return { url: v.url as string, runs: v.runs as number, phases: v.phases as number };
  }
  ctx.notes.push('db: expected {url, runs, phases} → null');
  return null;
}

// ---------------------------------------------------------------------------------------
// Session

/** Which program wrote the file, from the fields it has. */
export function detectFormat(o: Rec): SessionFileFormat {
  if (OURS_ONLY.some((k) => has(o, k))) return 'autopack-drain';
  if (Object.keys(GUIDE_DEFAULTS).some((k) => has(o, k))) return 'original-v2';
  const results = Array.isArray(o.results) ? o.results : [];
  const v2 = results.some((r) => isObj(r) && V2_RESULT_FIELDS.some((k) => has(r, k)));
  return v2 ? 'original-v2' : 'original-v1';
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** The original's overall yield: events per minute of the non-timeout results' durations. */
function originalYield(events: number, results: DrainResultJson[]): number | null {
  const seconds = results
    .filter((r) => !ORIGINAL_TIMEOUT_CODES.includes(r.subprocess_returncode as number))
    .reduce((sum, r) => sum + (r.subprocess_duration_seconds ?? 0), 0);
  return events > 0 && seconds > 0 ? round(events / (seconds / 60), 2) : null;
}

/** Our session fields an original file cannot have, derived from its results. */
function originalDerived(j: Rec, results: DrainResultJson[]): Rec {
  const zero: Rec = {};
  for (const r of results) {
    if (r.zero_yield_reason !== null && !((r.telemetry_events_collected ?? 0) > 0)) {
      const before = has(zero, r.zero_yield_reason) ? (zero[r.zero_yield_reason] as number) : 0;
      setOwn(zero, r.zero_yield_reason, before + 1);
    }
  }
  return {
    status: j.completed_at === null ? 'incomplete' : 'completed',
    total_telemetry_global_delta: j.total_telemetry_events,
    total_drain_seconds: round(
      results.reduce((s, r) => s + (r.subprocess_duration_seconds ?? 0), 0),
      3,
    ),
    overall_yield_per_minute: originalYield(j.total_telemetry_events as number, results),
    llm_boundary_hits: results.filter((r) => r.llm_boundary_hit).length,
    zero_yield_reasons: zero,
  };
}

type SessionSpec = readonly [key: keyof SessionJson, check: Check, dflt: unknown];
const SESSION_SCALARS: readonly SessionSpec[] = [
  ['started_at', STR, ''],
  ['completed_at', S, null],
  ['status', STR, 'completed'],
  ['generation', NUM, 0],
  ['batch_size', NUM, 10],
  ['total_processed', NUM, 0],
  ['total_success', NUM, 0],
  ['total_failed', NUM, 0],
  ['total_timeouts', NUM, 0],
  ['total_cancelled', NUM, 0],
  ['total_interrupted', NUM, 0],
  ['total_telemetry_events', NUM, 0],
  ['total_telemetry_global_delta', NUM, 0],
  ['total_drain_seconds', NUM, 0],
  ['overall_yield_per_minute', N, null],
  ['consecutive_zero_yield', NUM, 0],
  ['llm_boundary_hits', NUM, 0],
  ['stop_reason', S, null],
];
const STRING_LISTS = [
  'stopped_fingerprints',
  'stopped_runs',
  'sampled_runs',
  'promising_runs',
  'deprioritized_runs',
];
const SKIP_FIELDS = { run_id: STR, phase_id: STR, reason: STR };
const PLAN_FIELDS = { run_id: STR, phase_id: STR, phase_index: NUM, category: STR };

/** Whether a missing field deserves a note: any of ours in our file; v1's own fields in the original's. */
const noteMissingFor = (ours: boolean) => (key: string) => ours || V1_FIELDS.includes(key);

/** The session fields, each checked (wrong → default + note). Originals: derived ones filled after. */
function readSession(o: Rec, format: SessionFileFormat, ctx: Ctx): Rec {
  const ours = format === 'autopack-drain';
  const noteMissing = noteMissingFor(ours);
  const j: Rec = { session_id: o.session_id };
  for (const [key, check, dflt] of SESSION_SCALARS)
    j[key] = pick(o, key, check, dflt, '', ctx, noteMissing(key));
  j.fingerprint_counts = record(o, 'fingerprint_counts', NUM, ctx, ours);
  for (const key of STRING_LISTS) j[key] = stringList(o, key, ctx, ours);
  j.stopped_runs = (j.stopped_runs as string[]).sort(byCodeUnit);
  j.stopped_run_reasons = record(o, 'stopped_run_reasons', STR, ctx, ours);
  j.zero_yield_reasons = record(o, 'zero_yield_reasons', NUM, ctx, ours);
  j.skipped = entries(o, 'skipped', SKIP_FIELDS, ctx, ours);
  if (has(o, 'planned')) j.planned = entries(o, 'planned', PLAN_FIELDS, ctx, false);
  j.config = ours ? pick(o, 'config', orNull(OBJ), null, '', ctx, true) : null;
  j.db = dbIdentity(o, ctx, ours);
  j.results = normalizeResults(o, 'results', !ours, ctx, true);
  j.interrupted_attempts = normalizeResults(o, 'interrupted_attempts', !ours, ctx, ours);
  j.in_progress = normalizeResults(o, 'in_progress', !ours, ctx, ours);
  if (!ours) {
    for (const [k, v] of Object.entries(originalDerived(j, j.results as DrainResultJson[]))) {
      if (!has(o, k)) j[k] = v;
    }
  }
  return j;
}

/** Notes an original file gets up front: who wrote it, and which guide defaults were applied. */
function originalNotes(o: Rec, format: SessionFileFormat, results: DrainResultJson[]): string[] {
  if (format === 'autopack-drain') return [];
  const notes = [
    format === 'original-v1'
      ? 'written by the original Python controller, v1 format (before the adaptive controls)'
      : "written by the original Python controller, v2 format (the adaptive-controls guide's)",
  ];
  const missing = Object.entries(GUIDE_DEFAULTS).filter(([k]) => !has(o, k));
  if (missing.length > 0) {
    const list = missing.map(([k, v]) => `${k} → ${JSON.stringify(v)}`).join(', ');
    notes.push(`missing fields initialised as the guide says for older session files: ${list}`);
  }
  const timedOut = results.filter((r) => r.timed_out).length;
  if (!has(o, 'total_timeouts') && timedOut > 0) {
    notes.push(`total_timeouts is 0 as the guide says, though ${timedOut} result(s) timed out`);
  }
  return notes;
}

/** `a, b, c` — at most 12 names, then `and N more`. */
function listOf(names: string[]): string {
  const shown = names.slice(0, 12).join(', ');
  return names.length > 12 ? `${shown} and ${names.length - 12} more` : shown;
}

/**
 * A session file's parsed JSON, in our session JSON shape, with its format and notes.
 * Throws an Error naming the problem when it is not a session file at all.
 */
export function normalizeSessionFile(raw: unknown): NormalizedSessionFile {
  if (!isObj(raw)) {
    throw new Error(`a session file holds one JSON object, but this one holds ${describe(raw)}`);
  }
  if (typeof raw.session_id !== 'string' || raw.session_id.trim() === '') {
    const got = has(raw, 'session_id') ? describe(raw.session_id) : 'missing';
    throw new Error(`not a batch drain session file: "session_id" is ${got} (expected a non-empty string)`);
  }
  const format = detectFormat(raw);
  const ctx: Ctx = { notes: [], missing: [] };
  const json = readSession(raw, format, ctx);
  keepExtras(raw, json);
  const missing =
    ctx.missing.length > 0 ? [`missing fields given their defaults: ${listOf(ctx.missing)}`] : [];
  const notes = [...originalNotes(raw, format, json.results as DrainResultJson[]), ...missing, ...ctx.notes];
  const capped =
    notes.length > MAX_NOTES
      ? [...notes.slice(0, MAX_NOTES - 1), `… and ${notes.length - MAX_NOTES + 1} more notes`]
      : notes;
  return { json: json as unknown as SessionFileJson, format, notes: capped };
}

// ---------------------------------------------------------------------------------------
// Text

const PY_CONSTANTS = ['-Infinity', 'Infinity', 'NaN'];

/** `NaN`, `Infinity`, `-Infinity` outside JSON strings → `null` (Python's json module writes them). */
export function pythonConstantsToNull(s: string): string {
  const parts: string[] = [];
  let from = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '-' || c === 'I' || c === 'N') {
      const word = PY_CONSTANTS.find((w) => s.startsWith(w, i));
      if (word) {
        parts.push(s.slice(from, i), 'null');
        i += word.length - 1;
        from = i + 1;
      }
    }
  }
  parts.push(s.slice(from));
  return parts.join('');
}

/** The parsed text of a session file (a leading BOM and Python's NaN/Infinity tolerated). */
export function parseSessionText(text: string): { value: unknown; notes: string[] } {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { value: JSON.parse(src), notes: [] };
  } catch (err) {
    const fixed = pythonConstantsToNull(src);
    if (fixed !== src) {
      try {
        return { value: JSON.parse(fixed), notes: ['NaN/Infinity (as Python writes them) read as null'] };
      } catch {
        /* report the original error */
      }
    }
    throw new Error(`not valid JSON: ${(err as Error).message}`);
  }
}
