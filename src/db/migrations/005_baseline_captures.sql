-- Honest T0 baselines (plan D1): every capture try is recorded, a failed one is never cached.

-- One row per capture try of a commit. `commit_sha` is the cache key: the workspace's commit,
-- or `nogit:<workspace>:<session>` outside a git checkout. `attempt` numbers the captures of
-- that key (1, 2, …). status: running → ok | failed (non-zero exit, signal, spawn error) |
-- timeout (killed as a group at the timeout) | interrupted (the capturing worker stopped,
-- was cancelled, or let its claim lapse). Only an `ok` capture is a baseline; failed, timeout
-- and interrupted ones count towards the bound of failed captures per commit
-- (src/domain/baseline-decision.ts). `artifact_path` is the capture's own output file
-- (`<key>.c<id>.txt`, or `<key>.c<id>.failed.txt` when not ok). A `running` row is a claim:
-- at most one per commit (the partial unique index), renewed by the capturing worker's
-- heartbeat until `expires_at`; a lapsed claim is marked interrupted by the next claimer.
-- `backfilled` rows were copied from drain_baselines rows written before this migration.
CREATE TABLE IF NOT EXISTS drain_baseline_captures (
  id bigserial PRIMARY KEY,
  commit_sha text NOT NULL,
  session_id text NOT NULL,
  attempt integer NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'timeout', 'interrupted')),
  exit_code integer,
  signal text,
  duration_seconds double precision,
  artifact_path text,
  error text,
  host text,
  worker_identity text,
  pgid integer,
  backfilled boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS drain_baseline_captures_commit_idx ON drain_baseline_captures (commit_sha, id);
CREATE INDEX IF NOT EXISTS drain_baseline_captures_session_idx ON drain_baseline_captures (session_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS drain_baseline_captures_one_running
  ON drain_baseline_captures (commit_sha) WHERE status = 'running';

-- Earlier versions cached every capture in drain_baselines, failed and timed-out ones too.
-- Their rows become the first capture of their commit here (exit 0 → ok, else failed) ...
INSERT INTO drain_baseline_captures (commit_sha, session_id, attempt, status, exit_code, duration_seconds,
  artifact_path, error, backfilled, started_at, finished_at)
SELECT commit_sha, coalesce(session_id, ''), 1,
  CASE WHEN exit_code = 0 THEN 'ok' ELSE 'failed' END,
  exit_code, duration_seconds, artifact_path,
  CASE
    WHEN exit_code = 0 THEN NULL
    WHEN exit_code IS NULL THEN 'recorded before migration 005 without an exit code (timed out or not started)'
    ELSE 'recorded before migration 005: the baseline command exited ' || exit_code
  END,
  true, captured_at - make_interval(secs => coalesce(duration_seconds, 0)), captured_at
FROM drain_baselines
WHERE NOT EXISTS (SELECT 1 FROM drain_baseline_captures c WHERE c.commit_sha = drain_baselines.commit_sha);

-- ... and drain_baselines keeps only good baselines: one per commit, the first ok capture.
DELETE FROM drain_baselines WHERE exit_code IS DISTINCT FROM 0;
ALTER TABLE drain_baselines ADD COLUMN IF NOT EXISTS capture_id bigint;
UPDATE drain_baselines b SET capture_id = c.id
FROM drain_baseline_captures c
WHERE c.commit_sha = b.commit_sha AND c.backfilled AND b.capture_id IS NULL;

-- What each attempt's executor was told about the baseline (written by the drain activity
-- from its BaselineInfo): the status (none | ok | failed | timeout | interrupted | exhausted |
-- pending), the capture's error, the capture whose result it used, and whether its
-- environment had AUTOPACK_SKIP_BASELINE=1. NULL: not recorded (older rows).
ALTER TABLE drain_attempts
  ADD COLUMN IF NOT EXISTS baseline_status text,
  ADD COLUMN IF NOT EXISTS baseline_error text,
  ADD COLUMN IF NOT EXISTS baseline_capture_id bigint,
  ADD COLUMN IF NOT EXISTS baseline_skip boolean;
