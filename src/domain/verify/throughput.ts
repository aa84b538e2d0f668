/**
 * Criterion 5, Throughput / Stability: durations recorded, instant completions listed, no API
 * server processes leaked, and no executor told to skip its baseline without a good capture.
 */
import { INSTANT_COMPLETION_SECONDS } from './facts.js';
import type { TryFacts, BaselineFacts, CriterionResult, SessionFacts, VerifyFacts } from './facts.js';
import { attemptLabel, formatSeconds as secs, plural } from '../format.js';
import { criterion, durationStats, isBlank, type AttemptSet } from './shared.js';
/**
 * Was the attempt's executor told to skip its baseline (AUTOPACK_SKIP_BASELINE=1)? As
 * recorded; for rows that do not say, as the versions that wrote them did it: with a
 * baselineCommand, whenever the commit had a drain_baselines row (now a backfilled capture,
 * whatever its status) — today's version only with a good (ok) capture.
 */
export function toldToSkip(a: TryFacts, captures: BaselineFacts[], session: SessionFacts | null): boolean {
  if (a.baselineSkip !== null) return a.baselineSkip;
  if (isBlank(a.baselineCommit) || isBlank(session?.config?.baselineCommand as string | null)) return false;
  return captures.some((c) => c.commitSha === a.baselineCommit && (c.backfilled || c.status === 'ok'));
}

/** Is there a good capture behind a skip: the recorded capture if any, else any of the commit? */
export function goodCaptureFor(a: TryFacts, captures: BaselineFacts[]): BaselineFacts | null {
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

function baselineEvidence(facts: VerifyFacts, finals: TryFacts[]) {
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
function skipWithoutGoodCapture(facts: VerifyFacts, finals: TryFacts[]): string[] {
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
