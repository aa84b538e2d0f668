/**
 * Session files by who wrote them (see session-file.ts): which format a file is, what the
 * adaptive-controls guide says to initialise in an older one, and our session fields an
 * original file cannot have, derived from its results. Pure: no Node APIs, no I/O.
 */
import type { DrainResultJson } from './report-json.js';
import { setOwn } from './json-values.js';
import { has, isObj, type Rec } from './session-file-checks.js';

export type SessionFileFormat = 'autopack-drain' | 'original-v2' | 'original-v1';

/** What the adaptive-controls guide says to initialise when an older file lacks it. */
const GUIDE_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  fingerprint_counts: {},
  stopped_fingerprints: [],
  stopped_runs: [],
  total_timeouts: 0,
  total_telemetry_events: 0,
});

/** Fields of the original's v1 session (its dataclass). */
export const V1_FIELDS = [
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
export const ORIGINAL_TIMEOUT_CODES = [-1, 143];

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
export function originalDerived(j: Rec, results: DrainResultJson[]): Rec {
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

/** Notes an original file gets up front: who wrote it, and which guide defaults were applied. */
export function originalNotes(o: Rec, format: SessionFileFormat, results: DrainResultJson[]): string[] {
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
