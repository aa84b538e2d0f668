import type { ActivityDeps } from './deps.js';
import { redactSecrets } from '../src/domain/redact.js';
import type { SelectResult } from '../src/db/select.js';
import type { AttemptOutcome, PhaseRef } from '../src/domain/types.js';

/**
 * The copy of an attempt's evidence that leaves the raw log files — the drain_attempts row,
 * the activity result in Temporal history, the session JSON, the CLI — with every secret
 * redacted: the forms redactSecrets knows plus the worker's own secret values (the password
 * of its DATABASE_URL, wherever an executor printed it). The log files stay byte for byte.
 */
export function redactOutcome(deps: Pick<ActivityDeps, 'knownSecrets'>, o: AttemptOutcome): AttemptOutcome {
  const r = (s: string) => redactSecrets(s, deps.knownSecrets);
  const rn = (s: string | null) => (s === null ? null : r(s));
  return {
    ...o,
    stdoutExcerpt: r(o.stdoutExcerpt),
    stderrExcerpt: r(o.stderrExcerpt),
    errorMessage: rn(o.errorMessage),
    lastFailureReason: rn(o.lastFailureReason),
  };
}

/** A selection result enters history too: the picked phase's failure reason and skip reasons, redacted. */
export function redactSelection(deps: Pick<ActivityDeps, 'knownSecrets'>, r: SelectResult): SelectResult {
  const red = (s: string) => redactSecrets(s, deps.knownSecrets);
  const pick = (p: PhaseRef): PhaseRef => {
    const reason = p.lastFailureReason;
    return { ...p, lastFailureReason: reason == null ? null : red(reason) };
  };
  return {
    ...r,
    pick: r.pick && pick(r.pick),
    passedOver: r.passedOver.map((s) => ({ ...s, reason: red(s.reason) })),
    ...(r.more ? { more: r.more.map(pick) } : {}),
  };
}

/** Longest failure text an outcome carries into history (head and tail are kept). */
const MAX_HISTORY_TEXT = 2000;

function bounded(s: string | null): string | null {
  if (s === null || s.length <= MAX_HISTORY_TEXT) return s;
  const half = MAX_HISTORY_TEXT / 2;
  return `${s.slice(0, half)}\n[... ${s.length - MAX_HISTORY_TEXT} characters omitted ...]\n${s.slice(-half)}`;
}

/**
 * The outcome as it enters workflow history: bounded, so no payload grows with what an
 * executor printed. The excerpts stay in the drain_attempts row (the workflow never reads
 * them); failure texts keep their head and tail.
 */
export function forHistory(o: AttemptOutcome): AttemptOutcome {
  return {
    ...o,
    stdoutExcerpt: '',
    stderrExcerpt: '',
    errorMessage: bounded(o.errorMessage),
    lastFailureReason: bounded(o.lastFailureReason),
  };
}
