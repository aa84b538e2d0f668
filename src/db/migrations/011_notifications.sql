-- Notifications of a session's end (issue 18, "The morning after"): a durable outbox. The
-- activity that ends a session writes one row per webhook the worker is configured with
-- (DRAIN_NOTIFY_URL); a small loop in every worker configured with that webhook delivers it,
-- with retries and backoff, and records each attempt here. The webhook URL is a secret and is
-- never stored: `target` is a digest of it, which only a worker knowing the URL can match.
CREATE TABLE IF NOT EXISTS drain_notifications (
  session_id text NOT NULL,
  -- sha256 of the webhook URL, first 16 hex digits (src/runtime/notify.ts targetKey)
  target text NOT NULL,
  -- the webhook URL for display: scheme and host only (https://hooks.slack.com/***)
  target_display text NOT NULL,
  -- how the session ended: completed | stopped | cancelled | failed
  session_end text NOT NULL,
  -- the JSON body posted (redacted; src/domain/notification.ts)
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- delivery attempts so far, the next one not before next_attempt_at
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- a worker delivering it now (another one waits until claimed_until)
  claimed_by text,
  claimed_until timestamptz,
  last_attempt_at timestamptz,
  -- HTTP status of the last attempt (NULL: no response), or why it failed (redacted)
  last_http_status integer,
  last_error text,
  -- set once a 2xx answer came; given_up_at once out of attempts
  delivered_at timestamptz,
  given_up_at timestamptz,
  PRIMARY KEY (session_id, target)
);
CREATE INDEX IF NOT EXISTS drain_notifications_due
  ON drain_notifications (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
