/** Small helpers the criteria of `drain verify` share, and the grouping of tries into attempts. */
import { redactSecrets } from '../redact.js';
import { round3 } from '../format.js';
import {
  CRITERIA_TITLES,
  FINAL_TRY_STATUSES,
  type TryFacts,
  type CriterionResult,
  type CriterionStatus,
  type RunCounts,
  type SessionFacts,
} from './facts.js';

const MISSING = '';
export const isBlank = (s: string | null | undefined): boolean => s == null || s.trim() === MISSING;

/** A return code, or a recorded signal, timeout or cancellation. */
export const hasExitStatus = (a: TryFacts): boolean =>
  a.returnCode !== null || !isBlank(a.signal) || a.timedOut || a.status === 'cancelled';

/** The session has ended (its drain_sessions row says so). */
export const sessionEnded = (s: SessionFacts | null): boolean =>
  s !== null && (s.completedAt !== null || s.status !== 'running');

/** Median, min, max and nearest-rank p90 of `xs`; nulls when empty. */
export function durationStats(xs: number[]): {
  median: number | null;
  min: number | null;
  max: number | null;
  p90: number | null;
} {
  if (xs.length === 0) return { median: null, min: null, max: null, p90: null };
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const p90 = s[Math.max(0, Math.ceil(0.9 * s.length) - 1)];
  return { median: round3(median), min: round3(s[0]), max: round3(s[s.length - 1]), p90: round3(p90) };
}

/** {queued, failed, complete} of a run's counts (missing states are 0); null when not recorded. */
export function qfc(c: RunCounts | null): { queued: number; failed: number; complete: number } | null {
  if (!c) return null;
  const n = (k: string) => Number(c[k] ?? 0) || 0;
  return { queued: n('QUEUED'), failed: n('FAILED'), complete: n('COMPLETE') };
}

/** True when `url` carries a password that is not redacted (`***`). */
export const exposesPassword = (url: string): boolean => redactSecrets(url) !== url;

/**
 * Where to look for a log file: the stored path, moved under `workspace` (--workspace) when
 * given (the part after the recorded workspace, or from `.autonomous_runs/` on), relative
 * paths resolved against `base`. POSIX paths.
 */
export function logPathFor(
  stored: string | null,
  o: { recordedWorkspace: string | null; workspace: string | null; base: string },
): string | null {
  if (isBlank(stored)) return null;
  const p = stored as string;
  const join = (dir: string, rest: string) => `${dir.replace(/\/+$/, '')}/${rest.replace(/^\/+/, '')}`;
  if (o.workspace) {
    const rec = o.recordedWorkspace?.replace(/\/+$/, '');
    if (rec && p.startsWith(`${rec}/`)) return join(o.workspace, p.slice(rec.length + 1));
    if (!p.startsWith('/')) return join(o.workspace, p);
    const i = p.indexOf('/.autonomous_runs/');
    return i >= 0 ? join(o.workspace, p.slice(i + 1)) : p;
  }
  return p.startsWith('/') ? p : join(o.recordedWorkspace ?? o.base, p);
}

// ---------------------------------------------------------------------------------------
// Tries → attempts.

export interface AttemptSet {
  /** The final try of each attempt, initial state and counts taken from its first try when absent. */
  finals: TryFacts[];
  interrupted: number;
  running: TryFacts[];
  /** Attempts whose tries are all interrupted (no outcome recorded). */
  withoutOutcome: TryFacts[];
  /**
   * Attempts recorded but not judged: lost (the run's lease was gone, or the phase changed since
   * the pick) or abandoned (out of tries). Reported as evidence; the criteria judge the others.
   */
  unjudged: TryFacts[];
}

/** Statuses of attempts that are recorded but not judged (see AttemptSet.unjudged). */
export const UNJUDGED_STATUSES: readonly string[] = ['lost', 'abandoned'];

/** The key of a try's attempt (execution, run, phase, attempt). */
export const attemptKeyOf = (t: TryFacts): string =>
  JSON.stringify([t.execRunId, t.runId, t.phaseId, t.attempt]);

/** Groups tries by attempt (execution, run, phase, attempt) and picks each attempt's final try. */
export function attemptSet(tries: TryFacts[]): AttemptSet {
  const groups = new Map<string, TryFacts[]>();
  for (const t of tries) {
    const k = attemptKeyOf(t);
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  const out: AttemptSet = { finals: [], interrupted: 0, running: [], withoutOutcome: [], unjudged: [] };
  for (const g of groups.values()) {
    g.sort((a, b) => a.tryNo - b.tryNo);
    out.interrupted += g.filter((t) => t.status === 'interrupted').length;
    out.running.push(...g.filter((t) => t.status === 'running'));
    const unjudged = g.filter((t) => UNJUDGED_STATUSES.includes(t.status)).pop();
    if (unjudged) {
      out.unjudged.push(unjudged);
      continue;
    }
    const final = g.filter((t) => FINAL_TRY_STATUSES.includes(t.status)).pop();
    if (!final) {
      if (g.every((t) => t.status === 'interrupted')) out.withoutOutcome.push(g[g.length - 1]);
      continue;
    }
    const first = g[0];
    out.finals.push({
      ...final,
      initialState: final.initialState ?? first.initialState,
      runCountsBefore: final.runCountsBefore ?? first.runCountsBefore,
    });
  }
  out.finals.sort((a, b) => Number(a.id) - Number(b.id));
  return out;
}

export function criterion(
  id: number,
  applicable: boolean,
  summary: string,
  evidence: Record<string, unknown>,
  problems: string[],
): CriterionResult {
  const status: CriterionStatus = problems.length ? 'FAIL' : applicable ? 'PASS' : 'N/A';
  return { id, title: CRITERIA_TITLES[id - 1], status, summary, evidence, problems };
}
