/**
 * Human-readable output in the shape of the original controller: the per-phase progress
 * lines, the BATCH DRAIN SUMMARY block and the dry-run plan. Pure: no Node builtins, no
 * I/O. Every string taken from data (ids, reasons, errors) is shown on one line: control
 * characters, line separators and bidi overrides are escaped as \uXXXX (\n, \r, \t as such).
 */
import type { PlannedPhase, SkipRecord } from './types.js';
import {
  byCodeUnit,
  type BaselineCaptureJson,
  type DrainResultJson,
  type SessionJson,
} from './report-json.js';

const RULE = '='.repeat(80);
const THIN_RULE = '-'.repeat(80);
const ERROR_MAX_CHARS = 100;

// C0, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One display line of an arbitrary string. */
export function oneLine(s: string | null | undefined): string {
  if (s === null || s === undefined) return '';
  return String(s).replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most `max` code points (never splits a surrogate pair), with `…` when cut. */
function clip(s: string, max: number): string {
  const cps = Array.from(s);
  return cps.length <= max ? s : `${cps.slice(0, max).join('')}…`;
}

const fixed = (n: number | null, digits: number): string =>
  n === null || !Number.isFinite(n) ? (0).toFixed(digits) : n.toFixed(digits);

// ---------------------------------------------------------------------------------------
// Progress lines

/**
 * The progress block of one attempt. `index` is the 1-based position shown as is
 * (`[index/total]`), e.g. the session's processed count after recording the attempt.
 */
export function formatResultLine(r: DrainResultJson, index: number, total: number): string {
  const retry =
    r.try > 1 ? ` (attempt ${r.attempt}, try ${r.try})` : r.attempt > 1 ? ` (attempt ${r.attempt})` : '';
  const lines = [`[${index}/${total}] Draining: ${oneLine(r.run_id)} / ${oneLine(r.phase_id)}${retry}`];
  const state = oneLine(r.final_state ?? 'UNKNOWN');
  if (r.status === 'interrupted') lines.push(`  [INTERRUPTED] Interrupted: ${state}`);
  else if (r.status === 'cancelled') lines.push(`  [CANCELLED] Cancelled: ${state}`);
  else if (r.timed_out) {
    const after =
      r.subprocess_duration_seconds === null ? '' : ` (after ${fixed(r.subprocess_duration_seconds, 1)}s)`;
    lines.push(
      r.stalled === true
        ? `  [STALLED] Stalled: ${state}${after}`
        : `  [TIMEOUT] Timed out: ${state}${after}`,
    );
  } else if (r.success) lines.push(`  [OK] Success: ${state}`);
  else lines.push(`  [FAIL] Failed: ${state}`);

  if (!r.success && r.error_message && r.error_message.trim() !== '') {
    lines.push(`    Error: ${clip(oneLine(r.error_message), ERROR_MAX_CHARS)}`);
  }
  const events = r.telemetry_events_collected ?? 0;
  const why = events === 0 && r.zero_yield_reason ? ` (reason: ${oneLine(r.zero_yield_reason)})` : '';
  lines.push(`    [TELEMETRY] +${events} events (${fixed(r.telemetry_yield_per_minute, 2)}/min)${why}`);
  if (r.llm_boundary_hit) lines.push('    [LLM-BOUNDARY] Hit message/context limit during execution');
  return lines.join('\n');
}

export function formatSkipLine(s: SkipRecord): string {
  return `  [SKIP] ${oneLine(s.runId)}/${oneLine(s.phaseId)}: ${oneLine(s.reason)}`;
}

// ---------------------------------------------------------------------------------------
// Summary

interface RunLine {
  attempted: number;
  succeeded: number;
  timeouts: number;
  events: number;
}

function perRun(results: DrainResultJson[]): Map<string, RunLine> {
  const runs = new Map<string, RunLine>();
  for (const r of results) {
    const x = runs.get(r.run_id) ?? { attempted: 0, succeeded: 0, timeouts: 0, events: 0 };
    x.attempted += 1;
    if (r.success) x.succeeded += 1;
    if (r.timed_out) x.timeouts += 1;
    x.events += r.telemetry_events_collected ?? 0;
    runs.set(r.run_id, x);
  }
  return runs;
}

/** The commit of a capture as shown: its first 12 characters; `(no git)` outside a checkout. */
const shortCommit = (commit: string): string =>
  commit.startsWith('nogit:') ? '(no git)' : commit.slice(0, 12);

/**
 * One line per baseline capture: commit, capture number, status, duration (and the exit code
 * or signal of a failure, the session of another session's capture). [] when there are none.
 * Entries of a session file are not trusted to be well formed.
 */
export function baselineCaptureLines(captures: unknown, sessionId: string): string[] {
  if (!Array.isArray(captures)) return [];
  const rows = captures.filter((c): c is BaselineCaptureJson => c !== null && typeof c === 'object');
  return rows.map((c) => {
    const commit = oneLine(shortCommit(String(c.commit ?? '')));
    const dur = typeof c.duration_seconds === 'number' ? `${fixed(c.duration_seconds, 2)}s` : 'n/a';
    const by =
      c.session_id && c.session_id !== sessionId ? ` (session ${oneLine(String(c.session_id))})` : '';
    return `  ${commit} #${Number(c.attempt) || '?'}: ${oneLine(String(c.status))}, ${dur}${failureOf(c)}${by}`;
  });
}

/** `, exit 3` or `, SIGKILL` for a capture that is neither ok nor running; '' otherwise. */
function failureOf(c: BaselineCaptureJson): string {
  if (c.status === 'ok' || c.status === 'running') return '';
  if (typeof c.exit_code === 'number') return `, exit ${c.exit_code}`;
  return c.signal ? `, ${oneLine(String(c.signal))}` : '';
}

function completedLine(j: SummarySource): string {
  const settled = j.status === 'completed' || j.status === 'running';
  const note = settled ? '' : ` (${oneLine(j.status)})`;
  return `Completed: ${j.completed_at === null ? 'In progress' : oneLine(j.completed_at)}${note}`;
}

/**
 * What the summary reads: any session JSON, including one normalised from the original
 * controller's file (session-file.ts), which has no config or db identity.
 */
export type SummarySource = Omit<SessionJson, 'config' | 'db'>;

/** The BATCH DRAIN SUMMARY block (no trailing newline). */
export function formatSummary(j: SummarySource): string {
  const out: string[] = [RULE, 'BATCH DRAIN SUMMARY', RULE];
  out.push(`Session ID: ${oneLine(j.session_id)}`, `Started: ${oneLine(j.started_at)}`, completedLine(j), '');

  out.push(
    `Total Processed: ${j.total_processed}`,
    `  [OK] Succeeded: ${j.total_success}`,
    `  [FAIL] Failed: ${j.total_failed}`,
    `  [TIMEOUT] Timeouts: ${j.total_timeouts}`,
  );
  if ((j.total_stalled ?? 0) > 0) out.push(`    [STALLED] of them stalled: ${j.total_stalled}`);
  if (j.total_cancelled > 0) out.push(`  [CANCELLED] Cancelled: ${j.total_cancelled}`);
  if (j.interrupted_attempts.length > 0) {
    out.push(`  [INTERRUPTED] Interrupted tries: ${j.interrupted_attempts.length}`);
  }
  const rate = j.total_processed > 0 ? `${((j.total_success / j.total_processed) * 100).toFixed(1)}%` : 'n/a';
  out.push(`Success Rate: ${rate}`, '');

  const yieldText =
    j.overall_yield_per_minute === null ? 'n/a' : `${j.overall_yield_per_minute.toFixed(2)} events/minute`;
  out.push(
    'Telemetry Collection:',
    `  Total Events: ${j.total_telemetry_events}`,
    `  Overall Yield: ${yieldText}`,
  );

  const zero = Object.entries(j.zero_yield_reasons)
    .filter(([, c]) => c > 0)
    .sort(([a, x], [b, y]) => y - x || byCodeUnit(a, b));
  if (zero.length > 0) {
    out.push('', 'Zero-Yield Breakdown:', ...zero.map(([reason, c]) => `  ${oneLine(reason)}: ${c}`));
  }
  out.push('', `LLM Boundary Hits: ${j.llm_boundary_hits}`);
  if (j.total_lost || j.total_abandoned) {
    out.push(
      `Not judged: ${j.total_lost ?? 0} lost (lease gone or phase changed), ${j.total_abandoned ?? 0} abandoned (out of tries)`,
    );
  }
  if (j.total_processes_reaped) {
    out.push(
      `Escaped processes reaped: ${j.total_processes_reaped} (setsid or double-forked children of executors)`,
    );
  }
  out.push('');

  const stopped = [...j.stopped_runs].sort(byCodeUnit);
  out.push('Stop Conditions:', `  Stopped Runs: ${stopped.length}`);
  for (const run of stopped) {
    const reason = Object.hasOwn(j.stopped_run_reasons, run) ? j.stopped_run_reasons[run] : '';
    out.push(`    - ${oneLine(run)}${reason ? ` — ${oneLine(reason)}` : ''}`);
  }
  out.push(
    `  Unique Fingerprints: ${Object.keys(j.fingerprint_counts).length}`,
    `  Repeat Limit Hits: ${j.stopped_fingerprints.length}`,
  );
  if (j.stop_reason) out.push(`  Stop Reason: ${oneLine(j.stop_reason)}`);

  const captures = baselineCaptureLines(j.baseline_captures, j.session_id);
  if (captures.length > 0) out.push('', 'Baseline captures:', ...captures);

  out.push('', 'Results by Run:', THIN_RULE);
  const stoppedSet = new Set(stopped);
  const runs = perRun(j.results);
  for (const run of [...runs.keys()].sort(byCodeUnit)) {
    const x = runs.get(run)!;
    const mark = stoppedSet.has(run) ? ' [STOPPED]' : '';
    out.push(
      `  ${oneLine(run)}${mark}: ${x.succeeded}/${x.attempted} succeeded, ${x.timeouts} timeouts, ${x.events} events`,
    );
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------
// Dry-run plan

/** Width in code points (good enough for a plain-text table). */
const width = (s: string): number => Array.from(s).length;
const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)));

export function formatPlan(planned: PlannedPhase[]): string {
  if (planned.length === 0) return 'nothing would be drained';
  const header = ['#', 'run_id', 'phase_id', 'index', 'category'];
  const rows = planned.map((p, i) => [
    String(i + 1),
    oneLine(p.runId),
    oneLine(p.phaseId),
    String(p.phaseIndex),
    oneLine(p.category),
  ]);
  const widths = header.map((h, c) => Math.max(width(h), ...rows.map((r) => width(r[c]))));
  const fmt = (cells: string[]): string =>
    `  ${cells.map((cell, c) => (c === cells.length - 1 ? cell : pad(cell, widths[c]))).join('  ')}`;
  const lines = [fmt(header), `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`, ...rows.map(fmt)];
  lines.push(`${planned.length} phase(s) would be drained`);
  return lines.join('\n');
}
