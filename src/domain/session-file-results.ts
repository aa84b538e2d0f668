/**
 * The results of a session file (results[], interrupted_attempts[], in_progress[]) read into
 * our DrainResultJson shape; an original file's results get our fields derived the original's
 * way. Pure: no Node APIs, no I/O.
 */
import type { DrainResultJson } from './report-json.js';
import { ORIGINAL_TIMEOUT_CODES } from './session-file-original.js';
import {
  ARR,
  BOOL,
  describe,
  has,
  isObj,
  keepExtras,
  N,
  NUM,
  pick,
  S,
  STR,
  type Check,
  type Ctx,
  type Rec,
} from './session-file-checks.js';

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

export function normalizeResults(o: Rec, key: string, original: boolean, ctx: Ctx, noteMissing: boolean) {
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
