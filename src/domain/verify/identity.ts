/**
 * Criterion 4, Environment/Identity Consistency: each stdout log begins with the identity
 * lines (no DATABASE_URL password), and no executor exited 0 without changing its phase. A
 * stdout log on another host cannot be read here: it is counted as not checked, not failed.
 */
import { redactUrl } from '../redact.js';
import type { TryFacts, CriterionResult, LogHeadFacts, VerifyFacts } from './facts.js';
import { attemptLabel, plural } from '../format.js';
import { criterion, exposesPassword, type AttemptSet } from './shared.js';
import { logPlaces, type LogPlace } from './silent-failures.js';

/**
 * Problems of one stdout log head: the two identity lines first, no DATABASE_URL password.
 * None when the log lives on another host (`stdoutPlace`): it is not checked here.
 */
export function identityHeaderProblems(
  a: TryFacts,
  log: LogHeadFacts | undefined,
  stdoutPlace?: LogPlace,
): string[] {
  const at = attemptLabel(a);
  if (stdoutPlace?.where === 'elsewhere') return [];
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
  const stdoutPlace = (a: TryFacts) => logPlaces(a, facts.logs[a.id], facts).stdout;
  const problems = finals.flatMap((a) => identityHeaderProblems(a, facts.logs[a.id], stdoutPlace(a)));
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
  const elsewhere = finals.filter((a) => stdoutPlace(a).where === 'elsewhere').map(attemptLabel);
  const distinct = (key: string) =>
    [...new Set(heads.map((l) => headerValue(l.firstLines, key)).filter((v) => v !== null))].sort();
  const ev = {
    stdout_logs_checked: heads.length,
    with_identity_header: withHeader,
    not_checked_on_other_hosts: elsewhere,
    database_urls: distinct('DATABASE_URL'),
    api_urls: distinct('AUTOPACK_API_URL'),
    exit0_phase_unchanged: unchanged.map(attemptLabel),
    phase_changed_unknown: finals.filter((a) => a.phaseChanged === null).length,
  };
  const notHere = elsewhere.length ? ` (${elsewhere.length} on other hosts, not checked)` : '';
  const summary = `${withHeader}/${finals.length} stdout logs begin with DATABASE_URL and AUTOPACK_API_URL${notHere} (${
    ev.database_urls.join(', ') || 'none'
  }), ${plural(unchanged.length, 'exit-0 attempt')} with the phase unchanged`;
  return criterion(4, finals.length > 0, summary, ev, problems);
}
