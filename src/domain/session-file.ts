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
 *
 * The session fields are read here; the field checks are in session-file-checks.ts, the
 * results in session-file-results.ts, format detection and the original's derived fields in
 * session-file-original.ts, the text parsing in session-file-text.ts (re-exported here).
 */
import type { DrainConfig } from './types.js';
import { byCodeUnit, type DrainResultJson, type SessionJson } from './report-json.js';
import {
  entries,
  has,
  isObj,
  keepExtras,
  N,
  NUM,
  OBJ,
  orNull,
  pick,
  record,
  S,
  STR,
  stringList,
  describe,
  type Check,
  type Ctx,
  type Rec,
} from './session-file-checks.js';
import {
  detectFormat,
  originalDerived,
  originalNotes,
  V1_FIELDS,
  type SessionFileFormat,
} from './session-file-original.js';
import { normalizeResults } from './session-file-results.js';

export { detectFormat, type SessionFileFormat } from './session-file-original.js';
export { parseSessionText, pythonConstantsToNull } from './session-file-text.js';

/** Our session JSON; `config` is null for the original's files (it did not record its flags). */
type SessionFileJson = Omit<SessionJson, 'config'> & { config: DrainConfig | null };

export interface NormalizedSessionFile {
  json: SessionFileJson;
  format: SessionFileFormat;
  /** What was assumed or repaired, one sentence each (at most MAX_NOTES). */
  notes: string[];
}

export const MAX_NOTES = 20;

// ---------------------------------------------------------------------------------------
// The db identity and the session

function dbIdentity(o: Rec, ctx: Ctx, ours: boolean): SessionJson['db'] {
  const v = pick(o, 'db', orNull(OBJ), null, '', ctx, ours) as Rec | null;
  if (v === null) return null;
  if (STR.ok(v.url) && NUM.ok(v.runs) && NUM.ok(v.phases)) {
    return { url: v.url as string, runs: v.runs as number, phases: v.phases as number };
  }
  ctx.notes.push('db: expected {url, runs, phases} → null');
  return null;
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
