/**
 * `drain verify`: the reliability plan's six acceptance criteria, judged for one session
 * from its records alone (drain_sessions, drain_attempts, drain_baseline_captures, telemetry rows,
 * and the heads of the log files on disk), never from workflow memory.
 *
 * Pure: the facts are gathered by src/cli/verify-session.ts; judgeCriteria() turns them
 * into one PASS / FAIL / N/A per criterion, with evidence and problems. N/A counts as
 * passing. The attempts judged are the FINAL try of each attempt (status finished,
 * reconciled or cancelled); interrupted tries are counted, and tries still `running` are
 * problems once the session has ended.
 */
import { TOKEN_ESCALATION_MARKER } from './error-message.js';
import { peakParallel, runOverlaps, spansOf } from './overlap.js';
import { redactSecrets, redactUrl } from './redact.js';

/** A successful attempt shorter than this is an "instant completion" (criterion 5). */
export const INSTANT_COMPLETION_SECONDS = 1;
/** How much of each stdout log is read to check the identity header (criterion 4). */
export const LOG_HEAD_BYTES = 4096;
/** Statuses of a try that recorded the attempt's outcome. */
export const FINAL_TRY_STATUSES: readonly string[] = ['finished', 'reconciled', 'cancelled'];

export const CRITERIA_TITLES = [
  'No Silent Failures',
  'No "Unknown error" without evidence',
  'Correct Phase Selection Safety',
  'Environment/Identity Consistency',
  'Throughput / Stability',
  'Telemetry Viability',
] as const;

export type CriterionStatus = 'PASS' | 'FAIL' | 'N/A';

export interface CriterionResult {
  id: number;
  title: string;
  status: CriterionStatus;
  /** One short line of evidence (text output); not part of the --json output. */
  summary: string;
  evidence: Record<string, unknown>;
  problems: string[];
}

export interface VerifyResult {
  sessionId: string;
  verdict: 'PASS' | 'FAIL';
  criteria: CriterionResult[];
}

/** The session's drain_sessions row (null for sessions recorded before it existed). */
export interface SessionFacts {
  status: string;
  startedAt: string | null;
  completedAt: string | null;
  workspace: string | null;
  /** The session's validated DrainConfig (camelCase). */
  config: Record<string, unknown> | null;
  apiProcessPattern: string | null;
  apiProcessesStart: number | null;
  apiProcessesEnd: number | null;
}

/** Phase-state counts of a run, e.g. {"QUEUED":2,"FAILED":5,"COMPLETE":3}. */
export type RunCounts = Record<string, number>;

/** One drain_attempts row (one try of one attempt). */
export interface AttemptFacts {
  id: string;
  execRunId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
  status: string;
  initialState: string | null;
  finalState: string | null;
  success: boolean | null;
  returnCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationSeconds: number | null;
  stdoutPath: string | null;
  stderrPath: string | null;
  /** Bytes the executor itself wrote (the log header excluded). */
  stdoutBytes: number | null;
  stderrBytes: number | null;
  errorMessage: string | null;
  lastFailureReason: string | null;
  baselineCommit: string | null;
  /** What the executor was told about the T0 baseline (null: not recorded, older rows). */
  baselineStatus: string | null;
  /** Its environment had AUTOPACK_SKIP_BASELINE=1 (null: not recorded). */
  baselineSkip: boolean | null;
  baselineCaptureId: string | null;
  runCountsBefore: RunCounts | null;
  runCountsAfter: RunCounts | null;
  telemetryByTable: Record<string, number> | null;
  phaseChanged: boolean | null;
  startedAt: string;
  finishedAt: string | null;
}

/** What is on disk for one attempt's logs. */
export interface LogHeadFacts {
  /** The paths checked (the recorded ones, moved under --workspace when given). */
  stdoutPath: string | null;
  stderrPath: string | null;
  stdoutExists: boolean;
  stderrExists: boolean;
  /** Lines of the first LOG_HEAD_BYTES of the stdout log (empty when it is missing). */
  firstLines: string[];
}

/** One drain_baseline_captures row (one capture try of a commit's T0 baseline). */
export interface BaselineFacts {
  id: string;
  commitSha: string;
  sessionId: string | null;
  attempt: number;
  /** running | ok | failed | timeout | interrupted; only ok is a baseline. */
  status: string;
  exitCode: number | null;
  durationSeconds: number | null;
  error: string | null;
  /** Copied from a drain_baselines row of a version that cached failed captures too. */
  backfilled: boolean;
  startedAt: string;
  finishedAt: string | null;
}

export interface VerifyFacts {
  sessionId: string;
  session: SessionFacts | null;
  /** Every try of the session, any status. */
  tries: AttemptFacts[];
  /** By attempt row id (final tries). */
  logs: Record<string, LogHeadFacts>;
  /** drain_baseline_captures rows of the commits the attempts used. */
  baselines: BaselineFacts[];
  /** token_budget_escalation_events rows of the attempt's run/phase during the attempt, by row id. */
  escalations: Record<string, number>;
}

// ---------------------------------------------------------------------------------------
// Small shared helpers.

const MISSING = '';
export const isBlank = (s: string | null | undefined): boolean => s == null || s.trim() === MISSING;

/** `run/phase attempt 2` (plus ` try 3` after the first try). */
export function attemptLabel(a: Pick<AttemptFacts, 'runId' | 'phaseId' | 'attempt' | 'tryNo'>): string {
  return `${a.runId}/${a.phaseId} attempt ${a.attempt}${a.tryNo > 1 ? ` try ${a.tryNo}` : ''}`;
}

/** A return code, or a recorded signal, timeout or cancellation. */
export const hasExitStatus = (a: AttemptFacts): boolean =>
  a.returnCode !== null || !isBlank(a.signal) || a.timedOut || a.status === 'cancelled';

/** The session has ended (its drain_sessions row says so). */
export const sessionEnded = (s: SessionFacts | null): boolean =>
  s !== null && (s.completedAt !== null || s.status !== 'running');

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

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
  finals: AttemptFacts[];
  interrupted: number;
  running: AttemptFacts[];
  /** Attempts whose tries are all interrupted (no outcome recorded). */
  withoutOutcome: AttemptFacts[];
  /**
   * Attempts recorded but not judged: lost (the run's lease was gone, or the phase changed since
   * the pick) or abandoned (out of tries). Reported as evidence; the criteria judge the others.
   */
  unjudged: AttemptFacts[];
}

/** Statuses of attempts that are recorded but not judged (see AttemptSet.unjudged). */
export const UNJUDGED_STATUSES: readonly string[] = ['lost', 'abandoned'];

/** Groups tries by attempt (execution, run, phase, attempt) and picks each attempt's final try. */
export function attemptSet(tries: AttemptFacts[]): AttemptSet {
  const groups = new Map<string, AttemptFacts[]>();
  for (const t of tries) {
    const k = JSON.stringify([t.execRunId, t.runId, t.phaseId, t.attempt]);
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

function criterion(
  id: number,
  applicable: boolean,
  summary: string,
  evidence: Record<string, unknown>,
  problems: string[],
): CriterionResult {
  const status: CriterionStatus = problems.length ? 'FAIL' : applicable ? 'PASS' : 'N/A';
  return { id, title: CRITERIA_TITLES[id - 1], status, summary, evidence, problems };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------------------------------
// 1. No Silent Failures.

/** Problems of one final try for criterion 1 (exit status, duration, output, log files). */
function silentFailureProblems(a: AttemptFacts, log: LogHeadFacts | undefined): string[] {
  const p: string[] = [];
  const at = attemptLabel(a);
  if (!hasExitStatus(a)) p.push(`${at}: no return code, signal, timeout or cancellation recorded`);
  if (a.durationSeconds === null) p.push(`${at}: no duration recorded`);
  if (a.stdoutBytes === null && a.stderrBytes === null) p.push(`${at}: executor output size not recorded`);
  else if (!((a.stdoutBytes ?? 0) > 0 || (a.stderrBytes ?? 0) > 0)) {
    p.push(`${at}: the executor wrote nothing to stdout or stderr`);
  }
  const noPath = '(no path recorded)';
  if (!log?.stdoutExists) p.push(`${at}: stdout log missing: ${log?.stdoutPath ?? a.stdoutPath ?? noPath}`);
  if (!log?.stderrExists) p.push(`${at}: stderr log missing: ${log?.stderrPath ?? a.stderrPath ?? noPath}`);
  return p;
}

export function judgeSilentFailures(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const { finals } = set;
  const problems = finals.flatMap((a) => silentFailureProblems(a, facts.logs[a.id]));
  const ended = sessionEnded(facts.session);
  if (ended) {
    const status = facts.session?.status ?? '';
    for (const r of set.running)
      problems.push(`${attemptLabel(r)}: still 'running' but the session is ${status}`);
    for (const r of set.withoutOutcome) {
      problems.push(`${attemptLabel(r)}: only interrupted tries, no outcome recorded (session ${status})`);
    }
  }
  const missing = finals.flatMap((a) => {
    const l = facts.logs[a.id];
    const out = l?.stdoutExists ? [] : [l?.stdoutPath ?? a.stdoutPath ?? ''];
    return [...out, ...(l?.stderrExists ? [] : [l?.stderrPath ?? a.stderrPath ?? ''])];
  });
  const ev = {
    attempts: finals.length,
    with_return_code: finals.filter(hasExitStatus).length,
    with_duration: finals.filter((a) => a.durationSeconds !== null).length,
    with_output: finals.filter((a) => (a.stdoutBytes ?? 0) > 0 || (a.stderrBytes ?? 0) > 0).length,
    missing_logs: missing.length,
    missing_log_files: missing,
    interrupted_tries: set.interrupted,
    running_tries: set.running.length,
    lost: set.unjudged.filter((a) => a.status === 'lost').length,
    abandoned: set.unjudged.filter((a) => a.status === 'abandoned').length,
  };
  const extra = [
    ev.interrupted_tries ? `, ${plural(ev.interrupted_tries, 'interrupted try', 'interrupted tries')}` : '',
    ev.running_tries ? `, ${plural(ev.running_tries, 'try', 'tries')} running` : '',
    ev.lost ? `, ${ev.lost} lost (not judged)` : '',
    ev.abandoned ? `, ${ev.abandoned} abandoned (not judged)` : '',
  ].join('');
  const summary = `${plural(ev.attempts, 'attempt')}, ${ev.with_return_code} with return code, ${ev.with_duration} with duration, ${ev.with_output} with output, ${ev.missing_logs} missing logs${extra}`;
  return criterion(1, finals.length > 0, summary, ev, problems);
}

// ---------------------------------------------------------------------------------------
// 2. No "Unknown error" without evidence.

const UNKNOWN_ERROR = /unknown error/i;

/** The error message names one of the attempt's log files. */
const pointsToLog = (a: AttemptFacts): boolean =>
  [a.stderrPath, a.stdoutPath].some((p) => !isBlank(p) && (a.errorMessage ?? '').includes(p as string));

export function judgeUnknownErrors(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const { finals } = set;
  const failures = finals.filter((a) => a.success !== true);
  const unknown = finals.filter(
    (a) => UNKNOWN_ERROR.test(a.errorMessage ?? '') || UNKNOWN_ERROR.test(a.lastFailureReason ?? ''),
  );
  const noReason = failures.filter((a) => isBlank(a.lastFailureReason));
  const problems = unknown.map(
    (a) => `${attemptLabel(a)}: "Unknown error" recorded (${a.errorMessage ?? ''})`,
  );
  for (const a of noReason) {
    const missing = [hasExitStatus(a) ? '' : 'a return code', pointsToLog(a) ? '' : 'a log path'].filter(
      Boolean,
    );
    if (missing.length) {
      problems.push(
        `${attemptLabel(a)}: failed without a DB reason and its error message lacks ${missing.join(' and ')}`,
      );
    }
  }
  const ev = {
    unknown_error: unknown.length,
    failures: failures.length,
    failures_without_reason: noReason.length,
    without_reason_with_exit_and_log: noReason.filter((a) => hasExitStatus(a) && pointsToLog(a)).length,
  };
  const summary = `${ev.unknown_error} "Unknown error", ${plural(ev.failures, 'failure')} (${ev.failures_without_reason} without a DB reason, ${ev.without_reason_with_exit_and_log} of them with exit status and log path)`;
  return criterion(2, finals.length > 0, summary, ev, problems);
}

// ---------------------------------------------------------------------------------------
// 3. Correct Phase Selection Safety.

/**
 * Run exclusivity of a session with slots: the final tries of its attempts (one per attempt),
 * how many ran at once at most, and pairs of one run that overlapped in time (problems).
 */
export function runExclusivity(set: AttemptSet) {
  const spans = spansOf([...set.finals, ...set.unjudged], (a) => ({
    runId: a.runId,
    from: a.startedAt,
    to: a.finishedAt,
    label: attemptLabel(a),
  }));
  return { peak: peakParallel(spans), overlaps: runOverlaps(spans) };
}

export function judgeSelectionSafety(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const retried = set.finals.filter((a) => a.initialState === 'FAILED');
  const overridden = facts.session?.config?.skipRunsWithQueued === false;
  const concurrency = Number(facts.session?.config?.concurrency ?? 1) || 1;
  const exclusive = runExclusivity(set);
  const problems: string[] = exclusive.overlaps.map((o) => `two attempts of one run at once: ${o}`);
  const rows = retried.map((a) => {
    const before = qfc(a.runCountsBefore);
    const after = qfc(a.runCountsAfter);
    const at = attemptLabel(a);
    if (!before || !after) {
      const which = [before ? '' : 'start', after ? '' : 'end'].filter(Boolean).join(' and ');
      problems.push(`${at}: the run's phase counts at the ${which} of the attempt were not recorded`);
    }
    if (before && before.queued > 0 && !overridden) {
      problems.push(
        `${at}: FAILED phase retried in a run with ${before.queued} QUEUED phase(s) (skipRunsWithQueued not overridden)`,
      );
    }
    return { run_id: a.runId, phase_id: a.phaseId, attempt: a.attempt, before, after };
  });
  const inQueued = rows.filter((r) => (r.before?.queued ?? 0) > 0).length;
  const ev = {
    retried_phases: retried.length,
    in_runs_with_queued: inQueued,
    skip_runs_with_queued_overridden: overridden,
    retried: rows,
    concurrency,
    peak_parallel_attempts: exclusive.peak,
    run_overlaps: exclusive.overlaps,
  };
  const parallel =
    concurrency > 1 || exclusive.peak > 1
      ? `; up to ${exclusive.peak} attempts at once (${concurrency} slots), ${plural(exclusive.overlaps.length, 'overlap')} within a run`
      : '';
  const summary = `${plural(retried.length, 'FAILED phase')} retried, ${inQueued} in runs with QUEUED > 0${
    overridden ? ' (skipRunsWithQueued overridden by the session)' : ''
  }${parallel}`;
  return criterion(3, retried.length > 0 || exclusive.peak > 1, summary, ev, problems);
}

// ---------------------------------------------------------------------------------------
// 4. Environment/Identity Consistency.

/** Problems of one stdout log head: the two identity lines first, no DATABASE_URL password. */
export function identityHeaderProblems(a: AttemptFacts, log: LogHeadFacts | undefined): string[] {
  const at = attemptLabel(a);
  if (!log?.stdoutExists) return [`${at}: stdout log missing, identity header not checked`];
  const [l1, l2] = log.firstLines;
  const p: string[] = [];
  if (!l1?.startsWith('DATABASE_URL=')) p.push(`${at}: stdout log does not begin with DATABASE_URL=`);
  if (!l2?.startsWith('AUTOPACK_API_URL=')) p.push(`${at}: second stdout line is not AUTOPACK_API_URL=`);
  if (log.firstLines.some((l) => /DATABASE_URL=/.test(l) && exposesPassword(l))) {
    p.push(`${at}: a DATABASE_URL with an unredacted password in ${log.stdoutPath ?? a.stdoutPath}`);
  }
  return p;
}

const headerValue = (lines: string[], key: string): string | null => {
  const line = lines.find((l) => l.startsWith(`${key}=`));
  return line === undefined ? null : redactUrl(line.slice(key.length + 1));
};

export function judgeIdentity(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const { finals } = set;
  const problems = finals.flatMap((a) => identityHeaderProblems(a, facts.logs[a.id]));
  const unchanged = finals.filter((a) => a.returnCode === 0 && a.phaseChanged === false);
  for (const a of unchanged) {
    problems.push(
      `${attemptLabel(a)}: exited 0 but the phase did not change: possible API/DB mismatch (see ${a.stdoutPath})`,
    );
  }
  const heads = finals.map((a) => facts.logs[a.id]).filter((l) => l?.stdoutExists);
  const withHeader = finals.filter((a) => {
    const l = facts.logs[a.id];
    return l?.stdoutExists && identityHeaderProblems(a, l).length === 0;
  }).length;
  const distinct = (key: string) =>
    [...new Set(heads.map((l) => headerValue(l.firstLines, key)).filter((v) => v !== null))].sort();
  const ev = {
    stdout_logs_checked: heads.length,
    with_identity_header: withHeader,
    database_urls: distinct('DATABASE_URL'),
    api_urls: distinct('AUTOPACK_API_URL'),
    exit0_phase_unchanged: unchanged.map(attemptLabel),
    phase_changed_unknown: finals.filter((a) => a.phaseChanged === null).length,
  };
  const summary = `${withHeader}/${finals.length} stdout logs begin with DATABASE_URL and AUTOPACK_API_URL (${
    ev.database_urls.join(', ') || 'none'
  }), ${plural(unchanged.length, 'exit-0 attempt')} with the phase unchanged`;
  return criterion(4, finals.length > 0, summary, ev, problems);
}

// ---------------------------------------------------------------------------------------
// 5. Throughput / Stability.

/**
 * Was the attempt's executor told to skip its baseline (AUTOPACK_SKIP_BASELINE=1)? As
 * recorded; for rows that do not say, as the versions that wrote them did it: with a
 * baselineCommand, whenever the commit had a drain_baselines row (now a backfilled capture,
 * whatever its status) — today's version only with a good (ok) capture.
 */
export function toldToSkip(
  a: AttemptFacts,
  captures: BaselineFacts[],
  session: SessionFacts | null,
): boolean {
  if (a.baselineSkip !== null) return a.baselineSkip;
  if (isBlank(a.baselineCommit) || isBlank(session?.config?.baselineCommand as string | null)) return false;
  return captures.some((c) => c.commitSha === a.baselineCommit && (c.backfilled || c.status === 'ok'));
}

/** Is there a good capture behind a skip: the recorded capture if any, else any of the commit? */
export function goodCaptureFor(a: AttemptFacts, captures: BaselineFacts[]): BaselineFacts | null {
  const ok = (c: BaselineFacts) => c.status === 'ok';
  if (a.baselineCaptureId !== null) {
    const c = captures.find((x) => x.id === a.baselineCaptureId);
    return c && ok(c) && c.commitSha === a.baselineCommit ? c : null;
  }
  return captures.find((c) => c.commitSha === a.baselineCommit && ok(c)) ?? null;
}

const CAPTURE_STATUS_ORDER = ['ok', 'failed', 'timeout', 'interrupted', 'running'];

/** Capture counts by status: ok, failed, timeout, interrupted, running (only those present). */
export function capturesByStatus(rows: BaselineFacts[]): Record<string, number> {
  const present = [...new Set(rows.map((r) => r.status))];
  const known = CAPTURE_STATUS_ORDER.filter((st) => present.includes(st));
  const other = present.filter((st) => !CAPTURE_STATUS_ORDER.includes(st)).sort();
  return Object.fromEntries(
    [...known, ...other].map((st) => [st, rows.filter((r) => r.status === st).length]),
  );
}

function baselineEvidence(facts: VerifyFacts, finals: AttemptFacts[]) {
  const commits = [...new Set(finals.map((a) => a.baselineCommit).filter((c) => !isBlank(c)))] as string[];
  return commits.sort().map((commit) => {
    const rows = facts.baselines.filter((b) => b.commitSha === commit);
    const good = rows.find((b) => b.status === 'ok') ?? null;
    const told = finals.filter(
      (a) => a.baselineCommit === commit && toldToSkip(a, facts.baselines, facts.session),
    );
    return {
      commit,
      captures: rows.length,
      captured_by_this_session: rows.filter((b) => b.sessionId === facts.sessionId).length,
      duration_seconds: (good ?? rows[0])?.durationSeconds ?? null,
      by_status: capturesByStatus(rows),
      good_capture: good?.id ?? null,
      told_to_skip: told.length,
      rows: rows.map((b) => ({
        id: b.id,
        attempt: b.attempt,
        status: b.status,
        session_id: b.sessionId,
        exit_code: b.exitCode,
        duration_seconds: b.durationSeconds,
        error: b.error,
      })),
    };
  });
}

/** Attempts told to skip their baseline without a good capture behind it (criterion 5 problems). */
function skipWithoutGoodCapture(facts: VerifyFacts, finals: AttemptFacts[]): string[] {
  return finals
    .filter((a) => toldToSkip(a, facts.baselines, facts.session) && !goodCaptureFor(a, facts.baselines))
    .map((a) => {
      const rows = facts.baselines.filter((b) => b.commitSha === a.baselineCommit);
      const seen = rows.length ? rows.map((b) => b.status).join(', ') : 'none';
      return `${attemptLabel(a)}: the executor was told AUTOPACK_SKIP_BASELINE=1 without a good baseline capture of ${
        a.baselineCommit ?? 'its commit'
      } (captures: ${seen})`;
    });
}

/** `abc123×1`, or `abc123×3 (1 ok, 2 failed)` when a capture is not ok. */
function captureSummary(b: { commit: string; captures: number; by_status: Record<string, number> }): string {
  const head = `${b.commit.slice(0, 12)}×${b.captures}`;
  const statuses = Object.entries(b.by_status);
  if (statuses.every(([st]) => st === 'ok')) return head;
  return `${head} (${statuses.map(([st, n]) => `${n} ${st}`).join(', ')})`;
}

const secs = (n: number | null) => (n === null ? 'n/a' : `${n}s`);
const orNa = (n: number | null | undefined) => (n == null ? 'n/a' : String(n));

export function judgeThroughput(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const { finals } = set;
  const problems = finals
    .filter((a) => a.durationSeconds === null)
    .map((a) => `${attemptLabel(a)}: no duration recorded`);
  const stats = durationStats(finals.flatMap((a) => (a.durationSeconds === null ? [] : [a.durationSeconds])));
  const instant = finals.filter(
    (a) => a.success === true && a.durationSeconds !== null && a.durationSeconds < INSTANT_COMPLETION_SECONDS,
  );
  const s = facts.session;
  const start = s?.apiProcessesStart ?? null;
  const end = s?.apiProcessesEnd ?? null;
  if (start !== null && end !== null && end > start) {
    problems.push(
      `API server processes grew from ${start} to ${end} during the session (pattern ${s?.apiProcessPattern ?? 'n/a'}): leaked servers`,
    );
  }
  const baselines = baselineEvidence(facts, finals);
  problems.push(...skipWithoutGoodCapture(facts, finals));
  const ev = {
    attempts: finals.length,
    median_seconds: stats.median,
    min_seconds: stats.min,
    p90_seconds: stats.p90,
    max_seconds: stats.max,
    instant_threshold_seconds: INSTANT_COMPLETION_SECONDS,
    instant_completions: instant.map((a) => `${attemptLabel(a)} (${a.durationSeconds}s)`),
    api_process_pattern: s?.apiProcessPattern ?? null,
    api_processes_start: start,
    api_processes_end: end,
    baseline_captures: baselines,
  };
  const bl = baselines.length ? baselines.map(captureSummary).join(', ') : 'none';
  const summary = `median ${secs(stats.median)} (min ${secs(stats.min)}, p90 ${secs(stats.p90)}, max ${secs(
    stats.max,
  )}), ${plural(instant.length, 'instant completion')}, API processes ${orNa(start)}→${orNa(end)}, baseline captures: ${bl}`;
  return criterion(5, finals.length > 0 || problems.length > 0, summary, ev, problems);
}

// ---------------------------------------------------------------------------------------
// 6. Telemetry Viability.

/** Adds each table's count of `rows` together. */
export function sumByTable(rows: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { token_estimation_v2_events: 0, token_budget_escalation_events: 0 };
  for (const r of rows) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + (Number(v) || 0);
  return out;
}

const hitEscalation = (a: AttemptFacts): boolean =>
  (a.lastFailureReason ?? '').includes(TOKEN_ESCALATION_MARKER) ||
  (a.errorMessage ?? '').includes(TOKEN_ESCALATION_MARKER);

export function judgeTelemetry(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const successes = set.finals.filter((a) => a.success === true);
  const problems = successes
    .filter((a) => a.telemetryByTable === null)
    .map((a) => `${attemptLabel(a)}: succeeded but its telemetry delta was not captured`);
  const delta = sumByTable(successes.flatMap((a) => (a.telemetryByTable ? [a.telemetryByTable] : [])));
  const hits = set.finals.filter((a) => hitEscalation(a) || (facts.escalations[a.id] ?? 0) > 0);
  const escalations = hits.map((a) => {
    const rows = facts.escalations[a.id] ?? 0;
    if (hitEscalation(a) && rows === 0) {
      problems.push(`${attemptLabel(a)}: hit a token escalation but no token_budget_escalation_events rows`);
    }
    return { run_id: a.runId, phase_id: a.phaseId, attempt: a.attempt, rows };
  });
  const noEstimates = successes.filter(
    (a) => a.telemetryByTable && !(Number(a.telemetryByTable.token_estimation_v2_events) > 0),
  );
  const ev = {
    successful_attempts: successes.length,
    telemetry_delta: delta,
    successful_without_estimation_events: noEstimates.map(attemptLabel),
    escalations,
  };
  const rowsTotal = escalations.reduce((n, e) => n + e.rows, 0);
  const summary = `${plural(successes.length, 'successful attempt')}: +${delta.token_estimation_v2_events} token_estimation_v2_events, +${
    delta.token_budget_escalation_events
  } token_budget_escalation_events; ${plural(escalations.length, 'escalation')} (${plural(rowsTotal, 'row')})`;
  return criterion(6, successes.length > 0 || hits.length > 0, summary, ev, problems);
}

// ---------------------------------------------------------------------------------------

const JUDGES = [
  judgeSilentFailures,
  judgeUnknownErrors,
  judgeSelectionSafety,
  judgeIdentity,
  judgeThroughput,
  judgeTelemetry,
];

/** The six criteria in the plan's order; the verdict is PASS when none FAILs. */
export function judgeCriteria(facts: VerifyFacts): VerifyResult {
  const set = attemptSet(facts.tries);
  const criteria = JUDGES.map((judge) => judge(facts, set));
  return {
    sessionId: facts.sessionId,
    verdict: criteria.some((c) => c.status === 'FAIL') ? 'FAIL' : 'PASS',
    criteria,
  };
}
