-- Records that belong to one session execution chain and one database (issue: evidence).

-- This database's own identity: a random id made once, plus its name. A session pins it
-- when it starts; a worker whose DATABASE_URL points at another database refuses the
-- session's activities (activities/db-identity.ts). pg_control_system() would need
-- superuser rights on many installations, so the id is ours.
CREATE TABLE IF NOT EXISTS drain_database_identity (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  database_id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO drain_database_identity (singleton) VALUES (true) ON CONFLICT DO NOTHING;

-- One row per session id. chain_id is the first workflow run id of the session's execution
-- chain (continue-as-new and resets keep it); a second chain with the same workflow id is
-- refused at start, so an earlier session's records are never touched.
CREATE TABLE IF NOT EXISTS drain_sessions (
  session_id text PRIMARY KEY,
  chain_id text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  status text NOT NULL DEFAULT 'running',
  database_id uuid NOT NULL,
  database_name text NOT NULL,
  workspace text NOT NULL,
  config jsonb NOT NULL,
  api_process_pattern text,
  api_processes_start integer,
  api_processes_end integer
);

-- Attempt rows: the execution (workflow run) that scheduled them is part of the key, so a
-- reset that replays attempt 1 / try 1 writes rows of its own beside the earlier ones.
ALTER TABLE drain_attempts
  ADD COLUMN IF NOT EXISTS exec_run_id text NOT NULL DEFAULT '',
  -- queued/failed/complete/... counts of the run when the attempt started and ended
  ADD COLUMN IF NOT EXISTS run_counts_before jsonb,
  ADD COLUMN IF NOT EXISTS run_counts_after jsonb,
  -- telemetry rows written for this run/phase during the attempt, per table
  ADD COLUMN IF NOT EXISTS telemetry_by_table jsonb,
  -- false when state, last_failure_reason and updated_at of the phase were all unchanged
  ADD COLUMN IF NOT EXISTS phase_changed boolean,
  -- earlier tries of this attempt that recovery marked interrupted
  ADD COLUMN IF NOT EXISTS interrupted_tries integer NOT NULL DEFAULT 0,
  -- the redacted AttemptOutcome the try returned (a retry after a lost completion reports it once)
  ADD COLUMN IF NOT EXISTS outcome jsonb;

ALTER TABLE drain_attempts
  DROP CONSTRAINT IF EXISTS drain_attempts_session_id_run_id_phase_id_attempt_try_key;
CREATE UNIQUE INDEX IF NOT EXISTS drain_attempts_try_key
  ON drain_attempts (session_id, exec_run_id, run_id, phase_id, attempt, try);
