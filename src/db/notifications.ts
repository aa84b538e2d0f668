/**
 * The notification outbox (migration 011): one row per session and webhook, written when the
 * session ends, delivered by src/runtime/notify.ts. One SQL statement per function.
 */
import type { Queryable } from './pool.js';

interface NotificationRow {
  session_id: string;
  target: string;
  target_display: string;
  session_end: string;
  payload: Record<string, unknown>;
  created_at: Date;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_http_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  given_up_at: Date | null;
}

/** Queues the notification of a session's end for one webhook (a second call for it changes nothing). */
export async function enqueueNotification(
  db: Queryable,
  n: { sessionId: string; target: string; targetDisplay: string; sessionEnd: string; payload: unknown },
): Promise<boolean> {
  const res = await db.query(
    `INSERT INTO drain_notifications (session_id, target, target_display, session_end, payload)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (session_id, target) DO NOTHING`,
    [n.sessionId, n.target, n.targetDisplay, n.sessionEnd, JSON.stringify(n.payload)],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Claims up to `limit` due notifications for the webhooks `targets` for `claimMs`: not
 * delivered, not given up, due, and not claimed by a worker that is still within its claim.
 */
export async function claimDueNotifications(
  db: Queryable,
  o: { targets: string[]; worker: string; claimMs: number; limit: number },
): Promise<NotificationRow[]> {
  const res = await db.query<NotificationRow>(
    `UPDATE drain_notifications n
        SET claimed_by = $2, claimed_until = now() + $3 * interval '1 millisecond'
      WHERE (n.session_id, n.target) IN (
        SELECT session_id, target FROM drain_notifications
         WHERE target = ANY($1::text[]) AND delivered_at IS NULL AND given_up_at IS NULL
           AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY next_attempt_at
         LIMIT $4
         FOR UPDATE SKIP LOCKED)
      RETURNING n.*`,
    [o.targets, o.worker, o.claimMs, o.limit],
  );
  return res.rows;
}

/** Records a delivery attempt that got a 2xx answer. */
export async function markDelivered(
  db: Queryable,
  o: { sessionId: string; target: string; httpStatus: number },
): Promise<void> {
  await db.query(
    `UPDATE drain_notifications
        SET attempts = attempts + 1, last_attempt_at = now(), last_http_status = $3, last_error = NULL,
            delivered_at = now(), claimed_by = NULL, claimed_until = NULL
      WHERE session_id = $1 AND target = $2`,
    [o.sessionId, o.target, o.httpStatus],
  );
}

/**
 * Records a failed delivery attempt (no answer, or not 2xx): the next one after `retryInMs`,
 * or none when `giveUp`.
 */
export async function markAttemptFailed(
  db: Queryable,
  o: {
    sessionId: string;
    target: string;
    httpStatus: number | null;
    error: string;
    retryInMs: number;
    giveUp: boolean;
  },
): Promise<void> {
  await db.query(
    `UPDATE drain_notifications
        SET attempts = attempts + 1, last_attempt_at = now(), last_http_status = $3, last_error = $4,
            next_attempt_at = now() + $5 * interval '1 millisecond',
            given_up_at = CASE WHEN $6 THEN now() END, claimed_by = NULL, claimed_until = NULL
      WHERE session_id = $1 AND target = $2`,
    [o.sessionId, o.target, o.httpStatus, o.error, o.retryInMs, o.giveUp],
  );
}

/** The notifications of a session (each webhook's delivery), oldest first. */
export async function notificationsOfSession(db: Queryable, sessionId: string): Promise<NotificationRow[]> {
  const res = await db.query<NotificationRow>(
    'SELECT * FROM drain_notifications WHERE session_id = $1 ORDER BY created_at, target',
    [sessionId],
  );
  return res.rows;
}

/**
 * Sessions started within `withinHours` that have not ended in their records and have no
 * notification for one of `targets`: the candidates for a "failed" notification (a workflow
 * that failed or was terminated ends without the activity that ends a session).
 */
export async function unendedSessionsWithoutNotification(
  db: Queryable,
  o: { targets: string[]; withinHours: number },
): Promise<Array<{ session_id: string; workspace: string }>> {
  const res = await db.query<{ session_id: string; workspace: string }>(
    `SELECT s.session_id, s.workspace FROM drain_sessions s
      WHERE s.completed_at IS NULL AND s.started_at > now() - $2 * interval '1 hour'
        AND EXISTS (SELECT 1 FROM unnest($1::text[]) t(target)
                     WHERE NOT EXISTS (SELECT 1 FROM drain_notifications n
                                        WHERE n.session_id = s.session_id AND n.target = t.target))
      ORDER BY s.started_at`,
    [o.targets, o.withinHours],
  );
  return res.rows;
}
