/**
 * `drain verify`: the reliability plan's six acceptance criteria, judged for one session
 * from its records alone (drain_sessions, drain_attempts, drain_baseline_captures, telemetry rows,
 * and the heads of the log files on disk), never from workflow memory.
 *
 * Pure: the facts are gathered by src/cli/verify-session.ts; judgeCriteria() turns them
 * into one PASS / FAIL / N/A per criterion, with evidence and problems. N/A counts as
 * passing. The attempts judged are the FINAL try of each attempt (status finished,
 * reconciled or cancelled); interrupted tries are counted, and tries still `running` are
 * problems once the session has ended. Criterion 3's overlap check looks at every try that
 * ran an executor, interrupted ones included (src/domain/verify/selection-safety.ts).
 *
 * One module per criterion under src/domain/verify/; this module is what callers import.
 */
import type { VerifyFacts, VerifyResult } from './verify/facts.js';
import { attemptSet } from './verify/shared.js';
import { judgeSilentFailures } from './verify/silent-failures.js';
import { judgeUnknownErrors } from './verify/unknown-errors.js';
import { judgeSelectionSafety } from './verify/selection-safety.js';
import { judgeIdentity } from './verify/identity.js';
import { judgeThroughput } from './verify/throughput.js';
import { judgeTelemetry } from './verify/telemetry.js';

export * from './verify/facts.js';
export * from './verify/shared.js';
export * from './verify/silent-failures.js';
export * from './verify/unknown-errors.js';
export * from './verify/selection-safety.js';
export * from './verify/identity.js';
export * from './verify/throughput.js';
export * from './verify/telemetry.js';

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
