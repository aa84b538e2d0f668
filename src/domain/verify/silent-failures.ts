/**
 * Criterion 1, No Silent Failures: every final try has an exit status, a duration, output,
 * and its log files. A log file recorded on another host (its try's `host` is not the machine
 * running verify) that is not readable here is reported as living there, with the size and
 * sha256 recorded when the try ended, not as missing; on this host a missing file is missing.
 */
import type { TryFacts, CriterionResult, LogHeadFacts, VerifyFacts } from './facts.js';
import { attemptLabel, plural } from '../format.js';
import { attemptKeyOf, criterion, hasExitStatus, isBlank, sessionEnded, type AttemptSet } from './shared.js';

/** Where one log of a final try is, as far as the machine running verify can tell. */
export type LogPlace =
  | { where: 'here'; path: string }
  | { where: 'missing'; path: string | null }
  | { where: 'elsewhere'; host: string; path: string | null; bytes: number | null; sha256: string | null };

/**
 * The try whose worker wrote `a`'s logs: `a` itself, or for a reconciled try (which adopts an
 * earlier try's logs) the first try of its attempt with the same log path.
 */
export function logWriterOf(a: TryFacts, tries: readonly TryFacts[]): TryFacts {
  // Only a reconciled try adopts logs: tries on two hosts may well claim the same file name.
  if (a.status !== 'reconciled') return a;
  const key = attemptKeyOf(a);
  const same = tries
    .filter((t) => attemptKeyOf(t) === key && t.stdoutPath === a.stdoutPath && t.stderrPath === a.stderrPath)
    .sort((x, y) => x.tryNo - y.tryNo);
  return same[0] ?? a;
}

/** Where the stdout and stderr logs of the final try `a` are (see LogPlace). */
export function logPlaces(
  a: TryFacts,
  log: LogHeadFacts | undefined,
  facts: Pick<VerifyFacts, 'tries' | 'verifyHost'>,
): { stdout: LogPlace; stderr: LogPlace } {
  const writer = logWriterOf(a, facts.tries);
  const host = writer.host ?? a.host;
  const elsewhere = !isBlank(host) && !isBlank(facts.verifyHost) && host !== facts.verifyHost;
  const place = (
    exists: boolean,
    path: string | null,
    bytes: number | null,
    sha256: string | null,
  ): LogPlace => {
    if (exists && path) return { where: 'here', path };
    if (elsewhere && path) return { where: 'elsewhere', host: host as string, path, bytes, sha256 };
    return { where: 'missing', path };
  };
  return {
    stdout: place(
      log?.stdoutExists ?? false,
      log?.stdoutPath ?? a.stdoutPath,
      a.stdoutBytes,
      a.stdoutSha256 ?? writer.stdoutSha256,
    ),
    stderr: place(
      log?.stderrExists ?? false,
      log?.stderrPath ?? a.stderrPath,
      a.stderrBytes,
      a.stderrSha256 ?? writer.stderrSha256,
    ),
  };
}

const NO_PATH = '(no path recorded)';

/** `on host X (N bytes of output, sha256 0123456789ab…): /path`. */
export function elsewhereText(p: Extract<LogPlace, { where: 'elsewhere' }>): string {
  const size = p.bytes === null ? 'size not recorded' : `${p.bytes} bytes of output`;
  const sha = p.sha256 ? `sha256 ${p.sha256.slice(0, 12)}…` : 'no sha256 recorded';
  return `on host ${p.host} (${size}, ${sha}): ${p.path ?? NO_PATH}`;
}

/** Problems of one final try for criterion 1 (exit status, duration, output, log files). */
function silentFailureProblems(a: TryFacts, places: { stdout: LogPlace; stderr: LogPlace }): string[] {
  const p: string[] = [];
  const at = attemptLabel(a);
  if (!hasExitStatus(a)) p.push(`${at}: no return code, signal, timeout or cancellation recorded`);
  if (a.durationSeconds === null) p.push(`${at}: no duration recorded`);
  if (a.stdoutBytes === null && a.stderrBytes === null) p.push(`${at}: executor output size not recorded`);
  else if (!((a.stdoutBytes ?? 0) > 0 || (a.stderrBytes ?? 0) > 0)) {
    p.push(`${at}: the executor wrote nothing to stdout or stderr`);
  }
  for (const [name, place] of Object.entries(places)) {
    if (place.where === 'missing') p.push(`${at}: ${name} log missing: ${place.path ?? NO_PATH}`);
  }
  return p;
}

export function judgeSilentFailures(facts: VerifyFacts, set: AttemptSet): CriterionResult {
  const { finals } = set;
  const placed = finals.map((a) => ({ a, places: logPlaces(a, facts.logs[a.id], facts) }));
  const problems = placed.flatMap(({ a, places }) => silentFailureProblems(a, places));
  const ended = sessionEnded(facts.session);
  if (ended) {
    const status = facts.session?.status ?? '';
    for (const r of set.running)
      problems.push(`${attemptLabel(r)}: still 'running' but the session is ${status}`);
    for (const r of set.withoutOutcome) {
      problems.push(`${attemptLabel(r)}: only interrupted tries, no outcome recorded (session ${status})`);
    }
  }
  const all = placed.flatMap(({ a, places }) => [
    { a, name: 'stdout', place: places.stdout },
    { a, name: 'stderr', place: places.stderr },
  ]);
  const missing = all.flatMap(({ place }) => (place.where === 'missing' ? [place.path ?? ''] : []));
  const elsewhere = all.flatMap(({ a, name, place }) =>
    place.where === 'elsewhere' ? [`${attemptLabel(a)}: ${name} log ${elsewhereText(place)}`] : [],
  );
  const ev = {
    attempts: finals.length,
    with_return_code: finals.filter(hasExitStatus).length,
    with_duration: finals.filter((a) => a.durationSeconds !== null).length,
    with_output: finals.filter((a) => (a.stdoutBytes ?? 0) > 0 || (a.stderrBytes ?? 0) > 0).length,
    missing_logs: missing.length,
    missing_log_files: missing,
    logs_on_other_hosts: elsewhere,
    interrupted_tries: set.interrupted,
    running_tries: set.running.length,
    lost: set.unjudged.filter((a) => a.status === 'lost').length,
    abandoned: set.unjudged.filter((a) => a.status === 'abandoned').length,
  };
  const extra = [
    elsewhere.length ? `, ${elsewhere.length} on other hosts` : '',
    ev.interrupted_tries ? `, ${plural(ev.interrupted_tries, 'interrupted try', 'interrupted tries')}` : '',
    ev.running_tries ? `, ${plural(ev.running_tries, 'try', 'tries')} running` : '',
    ev.lost ? `, ${ev.lost} lost (not judged)` : '',
    ev.abandoned ? `, ${ev.abandoned} abandoned (not judged)` : '',
  ].join('');
  const summary = `${plural(ev.attempts, 'attempt')}, ${ev.with_return_code} with return code, ${ev.with_duration} with duration, ${ev.with_output} with output, ${ev.missing_logs} missing logs${extra}`;
  return criterion(1, finals.length > 0, summary, ev, problems);
}
