/**
 * Human-readable output in the shape of the original controller: the BATCH DRAIN SUMMARY
 * block and the dry-run plan (the progress lines are src/domain/progress-log.ts). Pure: no Node builtins, no
 * I/O. Every string taken from data (ids, reasons, errors) is shown on one line: control
 * characters, line separators and bidi overrides are escaped as \uXXXX (\n, \r, \t as such).
 */
import type { PlannedPhase } from './types.js';
import { oneLine } from './one-line.js';
import { fixed } from './format.js';
import { codePointWidth, formatTable } from './text-table.js';
import { formatTokens } from './tokens.js';
import {
  byCodeUnit,
  type BaselineCaptureJson,
  type DrainResultJson,
  type SessionJson,
} from './report-json.js';

export { oneLine };

const RULE = '='.repeat(80);
const THIN_RULE = '-'.repeat(80);

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

/** Processed, succeeded, failed, …, and the success rate. */
function totalsLines(j: SummarySource): string[] {
  const out = [
    `Total Processed: ${j.total_processed}`,
    `  [OK] Succeeded: ${j.total_success}`,
    `  [FAIL] Failed: ${j.total_failed}`,
    `  [TIMEOUT] Timeouts: ${j.total_timeouts}`,
  ];
  if ((j.total_stalled ?? 0) > 0) out.push(`    [STALLED] of them stalled: ${j.total_stalled}`);
  if (j.total_cancelled > 0) out.push(`  [CANCELLED] Cancelled: ${j.total_cancelled}`);
  if (j.interrupted_attempts.length > 0) {
    out.push(`  [INTERRUPTED] Interrupted tries: ${j.interrupted_attempts.length}`);
  }
  const rate = j.total_processed > 0 ? `${((j.total_success / j.total_processed) * 100).toFixed(1)}%` : 'n/a';
  out.push(`Success Rate: ${rate}`, '');
  return out;
}

/** Telemetry, the zero-yield breakdown and tokens. */
function yieldLines(j: SummarySource): string[] {
  const yieldText =
    j.overall_yield_per_minute === null ? 'n/a' : `${j.overall_yield_per_minute.toFixed(2)} events/minute`;
  const out = [
    'Telemetry Collection:',
    `  Total Events: ${j.total_telemetry_events}`,
    `  Overall Yield: ${yieldText}`,
  ];
  const zero = Object.entries(j.zero_yield_reasons)
    .filter(([, c]) => c > 0)
    .sort(([a, x], [b, y]) => y - x || byCodeUnit(a, b));
  if (zero.length > 0) {
    out.push('', 'Zero-Yield Breakdown:', ...zero.map(([reason, c]) => `  ${oneLine(reason)}: ${c}`));
  }
  if (j.tokens) {
    const t = j.tokens;
    const waste = t.wasted === null ? 'n/a' : `${formatTokens(t.wasted)} on ${t.wasted_attempts} attempts`;
    out.push(
      '',
      'Tokens (phases.tokens_used):',
      `  Spent: ${formatTokens(t.spent)}`,
      `  Per Success: ${formatTokens(t.per_success)}`,
      `  Wasted on known failures (fingerprint already stopped or remembered): ${waste}` +
        (t.wasted_attempts > 0 ? `, ${fixed(t.wasted_seconds / 60, 1)} executor minutes` : ''),
    );
  }
  return out;
}

/** LLM boundary hits, attempts not judged, reaped processes. */
function boundaryLines(j: SummarySource): string[] {
  const out = ['', `LLM Boundary Hits: ${j.llm_boundary_hits}`];
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
  return out;
}

/** Stop Conditions: the stopped runs (sorted) with their reasons, fingerprints, the stop reason. */
function stopLines(j: SummarySource, stopped: readonly string[]): string[] {
  const out = ['Stop Conditions:', `  Stopped Runs: ${stopped.length}`];
  for (const run of stopped) {
    const reason = Object.hasOwn(j.stopped_run_reasons, run) ? j.stopped_run_reasons[run] : '';
    out.push(`    - ${oneLine(run)}${reason ? ` — ${oneLine(reason)}` : ''}`);
  }
  out.push(
    `  Unique Fingerprints: ${Object.keys(j.fingerprint_counts).length}`,
    `  Repeat Limit Hits: ${j.stopped_fingerprints.length}`,
  );
  if (j.stop_reason) out.push(`  Stop Reason: ${oneLine(j.stop_reason)}`);
  return out;
}

/** Results by Run, a line per run (stopped ones marked). */
function runLines(j: SummarySource, stopped: readonly string[]): string[] {
  const out = ['', 'Results by Run:', THIN_RULE];
  const stoppedSet = new Set(stopped);
  const runs = perRun(j.results);
  for (const run of [...runs.keys()].sort(byCodeUnit)) {
    const x = runs.get(run)!;
    const mark = stoppedSet.has(run) ? ' [STOPPED]' : '';
    out.push(
      `  ${oneLine(run)}${mark}: ${x.succeeded}/${x.attempted} succeeded, ${x.timeouts} timeouts, ${x.events} events`,
    );
  }
  return out;
}

/** The BATCH DRAIN SUMMARY block (no trailing newline). */
export function formatSummary(j: SummarySource): string {
  const out: string[] = [RULE, 'BATCH DRAIN SUMMARY', RULE];
  out.push(`Session ID: ${oneLine(j.session_id)}`, `Started: ${oneLine(j.started_at)}`, completedLine(j), '');
  out.push(...totalsLines(j), ...yieldLines(j), ...boundaryLines(j));
  const stopped = [...j.stopped_runs].sort(byCodeUnit);
  out.push(...stopLines(j, stopped));
  const captures = baselineCaptureLines(j.baseline_captures, j.session_id);
  if (captures.length > 0) out.push('', 'Baseline captures:', ...captures);
  out.push(...runLines(j, stopped));
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------
// Dry-run plan

/** Columns after `category` (the forecast's): their headers and the cells of the i-th phase. */
interface PlanColumns {
  header: readonly string[];
  cells: (i: number) => string[];
}

export function formatPlan(
  planned: ReadonlyArray<Omit<PlannedPhase, 'category'> & { category: string }>,
  extra?: PlanColumns,
): string {
  if (planned.length === 0) return 'nothing would be drained';
  const header = ['#', 'run_id', 'phase_id', 'index', 'category', ...(extra?.header ?? [])];
  const rows = planned.map((p, i) => [
    String(i + 1),
    oneLine(p.runId),
    oneLine(p.phaseId),
    String(p.phaseIndex),
    oneLine(p.category),
    ...(extra?.cells(i) ?? []),
  ]);
  const table = formatTable(header, rows, { indent: '  ', rule: true, width: codePointWidth });
  return `${table}\n${planned.length} phase(s) would be drained`;
}
