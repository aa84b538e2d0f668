/**
 * Notifications of a session's end (issue 18, "The morning after"), in the worker process.
 *
 * The webhooks are the worker's (DRAIN_NOTIFY_URL: one or more URLs separated by whitespace or
 * commas). A webhook URL is a secret: it never enters workflow input, history, rows, the session
 * JSON or output; rows name it by a digest (targetKey) and output by its host
 * (redactWebhookUrl), and it is redacted as a known secret from everything the worker writes.
 *
 * Delivery is a durable outbox (drain_notifications, migration 011): the activity that ends a
 * session (writeSessionReport, or this module's scan for sessions whose workflow failed) writes
 * one row per webhook and wakes the loop; the loop of every worker knowing the webhook posts due
 * rows with a timeout, records each attempt, and retries with exponential backoff until a 2xx
 * answer or maxAttempts. Nothing here throws into the session: a failure is logged and retried.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Queryable } from '../db/pool.js';
import {
  claimDueNotifications,
  enqueueNotification,
  markAttemptFailed,
  markDelivered,
  unendedSessionsWithoutNotification,
} from '../db/notifications.js';
import {
  buildNotification,
  type NotificationInput,
  type SessionNotification,
} from '../domain/notification.js';
import type { VerifyResult } from '../domain/verify.js';
import { redactDeep, redactSecrets, redactWebhookUrl } from '../domain/redact.js';
import type { SessionJson } from '../domain/report-json.js';

/** Parses DRAIN_NOTIFY_URL: http(s) URLs separated by whitespace or commas (duplicates once). */
export function parseNotifyUrls(text: string | null | undefined): string[] {
  const urls = [...new Set((text ?? '').split(/[\s,]+/).filter((u) => u !== ''))];
  for (const u of urls) {
    if (!/^https?:\/\/[^/?#\s]+/i.test(u)) {
      throw new Error(`DRAIN_NOTIFY_URL: not an http(s) URL: ${redactWebhookUrl(u)}`);
    }
  }
  return urls;
}

/** The name of a webhook in rows: the first 16 hex digits of the URL's sha256. */
export const targetKey = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 16);

interface PostResult {
  /** The HTTP status, or null when no answer came (refused, timed out …). */
  status: number | null;
  ok: boolean;
  /** Why it failed (redacted), or null. */
  error: string | null;
}

/** POSTs `body` as JSON to `url` with a timeout. Never throws; errors are redacted of `known` and the URL. */
export async function postJson(
  url: string,
  body: unknown,
  o: { timeoutMs: number; known?: readonly string[] },
): Promise<PostResult> {
  const known = [...(o.known ?? []), url];
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'autopack-drain' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: 'error',
    });
    const text = await res.text().catch(() => '');
    return res.ok
      ? { status: res.status, ok: true, error: null }
      : {
          status: res.status,
          ok: false,
          error: redactSecrets(`HTTP ${res.status}: ${text.slice(0, 200)}`, known),
        };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : e.message;
    const cause = e.cause?.code ?? e.cause?.message;
    return { status: null, ok: false, error: redactSecrets(cause ? `${why} (${cause})` : why, known) };
  }
}

/** Backoff before attempt `attempts + 1`: first, 2×first, 4×first … at most max. */
export const backoffMs = (attempts: number, firstMs: number, maxMs: number): number =>
  Math.min(maxMs, firstMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));

const CLOSED_AS_FAILED = ['FAILED', 'TERMINATED', 'TIMED_OUT'];

interface NotifierOptions {
  /** Our records (drain_notifications, drain_sessions). */
  pool: Queryable;
  urls: string[];
  /** This worker's identity (claims) and host (where the files are). */
  worker: string;
  host: string;
  /** The worker's own secrets: redacted from every payload and error. */
  knownSecrets: readonly string[];
  /** `drain verify` of a session (the worker's verifySession on its backlog). */
  verify: (sessionId: string) => Promise<VerifyResult>;
  /** The status of a session's workflow (FAILED, RUNNING …), null when unknown. */
  workflowStatus?: ((sessionId: string) => Promise<string | null>) | null;
  /** The session JSON of a session (for a failed session's last written file). */
  sessionJsonPath?: (workspace: string, sessionId: string) => string;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Idle wait of the loop between looks at the outbox. */
  pollMs?: number;
  /** How often to look for sessions whose workflow failed. */
  failedScanMs?: number;
  log?: (line: string) => void;
}

interface SessionEndInput {
  sessionId: string;
  status: string;
  json: Partial<SessionJson> | null;
  sessionJsonPath: string | null;
}

/** The outbox writer and delivery loop of one worker. */
export class Notifier {
  private readonly targets: Map<string, string>;
  private readonly known: string[];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private kicked = false;
  private lastScan = 0;

  constructor(private readonly o: NotifierOptions) {
    this.targets = new Map(o.urls.map((u) => [targetKey(u), u]));
    this.known = [...o.knownSecrets, ...o.urls];
  }

  private log(line: string): void {
    (this.o.log ?? console.warn)(`notify: ${redactSecrets(line, this.known)}`);
  }

  /** The notification of a session's end, redacted of the worker's secrets and the webhooks. */
  async build(i: SessionEndInput): Promise<SessionNotification> {
    let verdict: NotificationInput['verdict'];
    try {
      const r = await this.o.verify(i.sessionId);
      verdict = {
        verdict: r.verdict,
        failedCriteria: r.criteria.filter((c) => c.status === 'FAIL').map((c) => c.id),
      };
    } catch (err) {
      verdict = { error: String((err as Error)?.message ?? err) };
    }
    const n = buildNotification({ ...i, verdict, host: this.o.host });
    return redactDeep(n, this.known);
  }

  /**
   * Queues the notification of a session's end for every webhook and wakes the loop. Never
   * throws (the session's end must not fail for it): a failure is logged; waits at most
   * `waitMs` (the queuing goes on in the background).
   */
  async sessionEnded(i: SessionEndInput, waitMs = 30_000): Promise<void> {
    if (this.targets.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log(`session ${i.sessionId}: still queuing its notification after ${waitMs} ms; not waiting`);
        resolve();
      }, waitMs);
    });
    await Promise.race([this.queue(i), waited]);
    clearTimeout(timer);
  }

  private async queue(i: SessionEndInput): Promise<void> {
    try {
      const payload = await this.build(i);
      for (const [target, url] of this.targets) {
        await enqueueNotification(this.o.pool, {
          sessionId: i.sessionId,
          target,
          targetDisplay: redactWebhookUrl(url),
          sessionEnd: payload.end,
          payload,
        });
      }
      this.kick();
    } catch (err) {
      this.log(`could not queue the notification of session ${i.sessionId}: ${(err as Error).message}`);
    }
  }

  /** Starts the delivery loop (a no-op without webhooks). */
  start(): void {
    if (this.targets.size === 0 || this.loop) return;
    this.loop = this.run();
  }

  /** Wakes the loop now (a row was queued). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const pollMs = this.o.pollMs ?? 1_000;
    const scanMs = this.o.failedScanMs ?? 30_000;
    while (!this.stopped) {
      this.kicked = false;
      try {
        await this.deliverDue();
      } catch (err) {
        this.log(`delivery loop: ${(err as Error).message}`);
      }
      if (this.o.workflowStatus && Date.now() - this.lastScan >= scanMs) {
        this.lastScan = Date.now();
        try {
          await this.notifyFailedSessions();
        } catch (err) {
          this.log(`looking for failed sessions: ${(err as Error).message}`);
        }
      }
      if (this.stopped || this.kicked) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Posts every due notification for our webhooks, recording each attempt. */
  async deliverDue(): Promise<number> {
    const first = this.o.firstBackoffMs ?? 2_000;
    const max = this.o.maxBackoffMs ?? 10 * 60_000;
    const maxAttempts = this.o.maxAttempts ?? 40;
    const timeoutMs = this.o.timeoutMs ?? 10_000;
    let sent = 0;
    while (!this.stopped) {
      const rows = await claimDueNotifications(this.o.pool, {
        targets: [...this.targets.keys()],
        worker: this.o.worker,
        claimMs: timeoutMs + 30_000,
        limit: 10,
      });
      if (rows.length === 0) break;
      await Promise.all(
        rows.map(async (row) => {
          const url = this.targets.get(row.target);
          if (!url) return;
          const r = await postJson(url, row.payload, { timeoutMs, known: this.known });
          const key = { sessionId: row.session_id, target: row.target };
          if (r.ok) {
            sent++;
            await markDelivered(this.o.pool, { ...key, httpStatus: r.status as number });
            return;
          }
          const attempts = row.attempts + 1;
          const giveUp = attempts >= maxAttempts;
          await markAttemptFailed(this.o.pool, {
            ...key,
            httpStatus: r.status,
            error: r.error ?? 'failed',
            retryInMs: backoffMs(attempts, first, max),
            giveUp,
          });
          this.log(
            `session ${row.session_id} to ${row.target_display}: attempt ${attempts} failed (${r.error})` +
              (giveUp ? '; giving up' : ''),
          );
        }),
      );
    }
    return sent;
  }

  /**
   * Sessions whose workflow failed, was terminated or timed out end without the activity that
   * ends a session: their notification ("failed") is queued from here, by any worker.
   */
  async notifyFailedSessions(): Promise<void> {
    const status = this.o.workflowStatus;
    if (!status) return;
    const candidates = await unendedSessionsWithoutNotification(this.o.pool, {
      targets: [...this.targets.keys()],
      withinHours: 48,
    });
    for (const c of candidates) {
      const s = await status(c.session_id).catch(() => null);
      if (!s || !CLOSED_AS_FAILED.includes(s)) continue;
      const file = this.o.sessionJsonPath?.(c.workspace, c.session_id) ?? null;
      const json = file
        ? await readFile(file, 'utf8').then(
            (t) => JSON.parse(t) as Partial<SessionJson>,
            () => null,
          )
        : null;
      await this.sessionEnded({
        sessionId: c.session_id,
        status: s,
        json,
        sessionJsonPath: json ? file : null,
      });
    }
  }
}
