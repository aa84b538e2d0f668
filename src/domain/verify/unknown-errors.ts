/** Criterion 2, No "Unknown error" without evidence. */
import type { TryFacts, CriterionResult, VerifyFacts } from './facts.js';
import { attemptLabel, plural } from '../format.js';
import { criterion, hasExitStatus, isBlank, type AttemptSet } from './shared.js';

const UNKNOWN_ERROR = /unknown error/i;

/** The error message names one of the attempt's log files. */
const pointsToLog = (a: TryFacts): boolean =>
  [a.stderrPath, a.stdoutPath].some((p) => !isBlank(p) && (a.errorMessage ?? '').includes(p as string));

export function judgeUnknownErrors(_facts: VerifyFacts, set: AttemptSet): CriterionResult {
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
