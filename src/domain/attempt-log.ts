/**
 * The one home of our own lines in an attempt's log files: the header written before the
 * executor starts (identity lines, then `# ` lines, ended by `# ---`) and the trailer appended
 * when it ended (`# --- <notes>; exit code N after Ss`, or `# --- not run: <reason>`), and
 * their parsing (where the executor's output starts and ends). Pure: no I/O.
 */
import { redactArgv, redactUrl } from './redact.js';

/** The line that ends our header at the start of every attempt log. */
const HEADER_END = '# ---\n';
/** How our trailer starts (after the executor's output). */
const TRAILER_START = '\n# --- ';
/** The last line of a log whose executor ran to an end (exit trailer). */
export const EXIT_TRAILER_LINE = /^# --- .*exit code .*$/;

interface AttemptLogHeader {
  /** The executor's DATABASE_URL and AUTOPACK_API_URL (written redacted). */
  databaseUrl: string;
  apiUrl: string | null | undefined;
  sessionId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
  argv: string[];
  cwd: string;
  startedAt: Date;
  timeoutSeconds: number;
  maxTimeoutSeconds?: number | null;
  stallSeconds?: number | null;
  maxTokensPerPhase?: number | null;
  /** The try runs no executor: why (a `# not run:` line after the header). */
  notRun?: string;
}

/** ` max: 900s while writing output, stall: 120s` for the progress-aware limits that are set. */
function limitsNote(h: AttemptLogHeader): string {
  const max = h.maxTimeoutSeconds;
  return [
    max != null && max > h.timeoutSeconds ? ` max: ${max}s while writing output` : '',
    h.stallSeconds != null ? ` stall: ${h.stallSeconds}s` : '',
    h.maxTokensPerPhase != null ? ` tokens: ${h.maxTokensPerPhase}` : '',
  ].join('');
}

/** The first lines of both log files: the effective DATABASE_URL and AUTOPACK_API_URL, redacted. */
export function attemptLogHeader(h: AttemptLogHeader): string {
  const text = [
    `DATABASE_URL=${redactUrl(h.databaseUrl)}`,
    `AUTOPACK_API_URL=${h.apiUrl ? redactUrl(h.apiUrl) : '(not set)'}`,
    `# autopack-drain session=${h.sessionId} run_id=${h.runId} phase_id=${h.phaseId} attempt=${h.attempt} try=${h.tryNo}`,
    `# command: ${JSON.stringify(redactArgv(h.argv))}`,
    `# cwd: ${h.cwd}`,
    `# started_at: ${h.startedAt.toISOString()} timeout: ${h.timeoutSeconds}s${limitsNote(h)}`,
    '# ---',
    '',
  ].join('\n');
  return h.notRun === undefined ? text : `${text}# not run: ${h.notRun}\n`;
}

/** The last line of both log files: how the executor ended (empty notes left out). */
export function attemptLogTrailer(
  notes: Array<string | null | undefined | false>,
  exit: { returnCode: number | null; signal: string | null; durationSeconds: number },
): string {
  const code = `exit code ${exit.returnCode ?? 'none'}${exit.signal ? ` (signal ${exit.signal})` : ''}`;
  return `${TRAILER_START}${[...notes.filter(Boolean), code].join('; ')} after ${exit.durationSeconds}s\n`;
}

/** The trailer of a try that ran no executor. */
export const notRunTrailer = (reason: string): string => `${TRAILER_START}not run: ${reason}\n`;

/**
 * Where the executor's output starts in a log whose beginning is `head` (a string whose
 * offsets are the file's: latin1 for bytes): just after our header, 0 without one.
 */
export function headerLength(head: string): number {
  const end = head.indexOf(HEADER_END);
  return end < 0 ? 0 : end + HEADER_END.length;
}

/** What follows our header in a whole log (output and trailer), or null without a header. */
export function afterHeader(text: string): string | null {
  const end = text.indexOf(HEADER_END);
  return end < 0 ? null : text.slice(end + HEADER_END.length);
}

/**
 * Our lines of a whole log: the header (its lines before `# ---`; null without one) and the
 * trailer (from the last `\n# --- ` to the end; null without one).
 */
export function ownLogLines(text: string): { header: string | null; trailer: string | null } {
  const end = text.indexOf(HEADER_END);
  const t = text.lastIndexOf(TRAILER_START);
  return {
    header: end < 0 ? null : text.slice(0, Math.max(0, end - 1)),
    trailer: t > 0 ? text.slice(t) : null,
  };
}
