/**
 * The notification a worker posts to the operator's webhook(s) when a session ends (issue 18,
 * "The morning after"). Pure: the payload and its one-paragraph Slack-compatible `text` are
 * built from the session JSON (already redacted), the `drain verify` verdict and where the
 * files are; src/runtime/notify.ts stores and delivers it. The webhook URL is never part of it.
 */
import type { SessionJson } from './report-json.js';

/** How a session ended, as the notification says it. */
type SessionEnd = 'completed' | 'stopped' | 'cancelled' | 'failed';

const NOTIFICATION_KIND = 'autopack-drain.session.ended';
/** Fingerprints listed in a notification (the most frequent first). */
const TOP_FINGERPRINTS = 5;

interface NotificationTotals {
  processed: number;
  succeeded: number;
  failed: number;
  timeouts: number;
  cancelled: number;
}

export interface SessionNotification {
  kind: typeof NOTIFICATION_KIND;
  session_id: string;
  /** completed | stopped (by an operator) | cancelled | failed */
  end: SessionEnd;
  stop_reason: string | null;
  started_at: string | null;
  completed_at: string | null;
  /** `drain verify`: PASS | FAIL, or null when it could not run (verify_error says why). */
  verdict: 'PASS' | 'FAIL' | null;
  /** Ids of the criteria that failed (empty on PASS). */
  failed_criteria: number[];
  verify_error?: string;
  /** null when the session's records could not be read (a failed session without a file). */
  totals: NotificationTotals | null;
  /** Present only when the session recorded them (tokens spent, of which on known failures). */
  tokens?: { spent?: number; wasted?: number };
  top_fingerprints: Array<{ fingerprint: string; count: number }>;
  /** Where the session's files are: on `host`, and how to render its report. */
  host: string;
  session_json: string | null;
  report_command: string;
  /** A short human summary (Slack incoming webhooks show it as the message). */
  text: string;
}

export interface NotificationInput {
  sessionId: string;
  /** The status the session ended with (completed, cancelled, failed, terminated, timed out …). */
  status: string;
  /** The session JSON as written at the end, when there is one. */
  json: Partial<SessionJson> | null;
  verdict: { verdict: 'PASS' | 'FAIL'; failedCriteria: number[] } | { error: string } | null;
  host: string;
  sessionJsonPath: string | null;
}

/** A session's end as the notification names it: an operator's stop is "stopped". */
export function sessionEnd(status: string, stopReason: string | null | undefined): SessionEnd {
  const s = status.toLowerCase();
  if (s === 'cancelled' || s === 'canceled') return 'cancelled';
  if (s === 'completed') return /operator/i.test(stopReason ?? '') ? 'stopped' : 'completed';
  return 'failed';
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Tokens spent and wasted (spent on attempts whose fingerprint was already stopped or
 * remembered), when the session JSON carries them; undefined otherwise (never 0 for unknown).
 * Read from `tokens_spent`/`total_tokens`/`tokens.total|spent` and `tokens_wasted`/`tokens.wasted`.
 */
export function tokensOf(
  json: Record<string, unknown> | null,
): { spent?: number; wasted?: number } | undefined {
  if (!json) return undefined;
  const nested = (json.tokens && typeof json.tokens === 'object' ? json.tokens : {}) as Record<
    string,
    unknown
  >;
  const spent = num(json.tokens_spent) ?? num(json.total_tokens) ?? num(nested.total) ?? num(nested.spent);
  const wasted = num(json.tokens_wasted) ?? num(json.total_tokens_wasted) ?? num(nested.wasted);
  if (spent === undefined && wasted === undefined) return undefined;
  return { ...(spent !== undefined ? { spent } : {}), ...(wasted !== undefined ? { wasted } : {}) };
}

/** The `count` most frequent fingerprints (ties by fingerprint, for a stable order). */
export function topFingerprints(
  counts: Record<string, number> | undefined,
  count = TOP_FINGERPRINTS,
): Array<{ fingerprint: string; count: number }> {
  return Object.entries(counts ?? {})
    .filter(([, n]) => typeof n === 'number' && n > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, count)
    .map(([fingerprint, n]) => ({ fingerprint, count: n }));
}

const fmt = (n: number) => n.toLocaleString('en-US');
const short = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The Slack-compatible summary: one headline, the counts, tokens, the top fingerprint, where. */
function notificationText(n: Omit<SessionNotification, 'text'>): string {
  const icon = n.end === 'completed' && n.verdict === 'PASS' ? ':white_check_mark:' : ':warning:';
  const verdict = n.verdict
    ? n.verdict === 'PASS'
      ? 'verify PASS'
      : `verify FAIL (criteria ${n.failed_criteria.join(', ')})`
    : 'verify n/a';
  const lines = [`${icon} Drain session ${n.session_id} ${n.end}: ${verdict}`];
  if (n.stop_reason) lines.push(`Stop reason: ${short(n.stop_reason, 200)}`);
  if (n.totals) {
    const t = n.totals;
    lines.push(
      `${fmt(t.processed)} processed: ${fmt(t.succeeded)} succeeded, ${fmt(t.failed)} failed, ${fmt(t.timeouts)} timed out`,
    );
  }
  if (n.tokens) {
    const parts = [];
    if (n.tokens.spent !== undefined) parts.push(`${fmt(n.tokens.spent)} spent`);
    if (n.tokens.wasted !== undefined) parts.push(`${fmt(n.tokens.wasted)} on known failures`);
    lines.push(`Tokens: ${parts.join(', ')}`);
  }
  if (n.top_fingerprints.length) {
    const f = n.top_fingerprints[0];
    lines.push(`Top failure (${f.count}×): ${short(f.fingerprint, 160)}`);
  }
  lines.push(`Report: ${n.report_command} (on ${n.host})`);
  return lines.join('\n');
}

/** The notification of a session's end. */
export function buildNotification(i: NotificationInput): SessionNotification {
  const j = i.json;
  const stopReason = j?.stop_reason ?? null;
  const end = sessionEnd(i.status, stopReason);
  const totals: NotificationTotals | null = j
    ? {
        processed: j.total_processed ?? 0,
        succeeded: j.total_success ?? 0,
        failed: j.total_failed ?? 0,
        timeouts: j.total_timeouts ?? 0,
        cancelled: j.total_cancelled ?? 0,
      }
    : null;
  const tokens = tokensOf(j as Record<string, unknown> | null);
  const v = i.verdict;
  const body: Omit<SessionNotification, 'text'> = {
    kind: NOTIFICATION_KIND,
    session_id: i.sessionId,
    end,
    stop_reason: stopReason ?? (end === 'failed' ? `workflow ${i.status.toLowerCase()}` : null),
    started_at: j?.started_at ?? null,
    completed_at: j?.completed_at ?? null,
    verdict: v && 'verdict' in v ? v.verdict : null,
    failed_criteria: v && 'verdict' in v ? v.failedCriteria : [],
    ...(v && 'error' in v ? { verify_error: v.error } : {}),
    totals,
    ...(tokens ? { tokens } : {}),
    top_fingerprints: topFingerprints(j?.fingerprint_counts),
    host: i.host,
    session_json: i.sessionJsonPath,
    report_command: `drain report ${i.sessionId} --html ${i.sessionId}.html`,
  };
  return { ...body, text: notificationText(body) };
}

/** A sample notification (`drain notify test`). */
export function sampleNotification(host: string, at: Date = new Date()): SessionNotification {
  const n = buildNotification({
    sessionId: 'notify-test',
    status: 'completed',
    json: {
      started_at: new Date(at.getTime() - 3_600_000).toISOString(),
      completed_at: at.toISOString(),
      stop_reason: 'no eligible phases left',
      total_processed: 3,
      total_success: 2,
      total_failed: 1,
      total_timeouts: 0,
      total_cancelled: 0,
      fingerprint_counts: { 'sample: ImportError: cannot import name <name>': 1 },
    },
    verdict: { verdict: 'PASS', failedCriteria: [] },
    host,
    sessionJsonPath: null,
  });
  return { ...n, text: `[test of drain notify] ${n.text}` };
}
