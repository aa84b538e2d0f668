-- Tables owned by autopack-drain.

-- One row per drain attempt try. `attempt` counts attempts of a phase within a session;
-- `try` counts activity executions of that attempt (a retry after a crashed worker is try 2).
CREATE TABLE IF NOT EXISTS drain_attempts (
  id bigserial PRIMARY KEY,
  session_id text NOT NULL,
  run_id text NOT NULL,
  phase_id text NOT NULL,
  attempt integer NOT NULL,
  try integer NOT NULL DEFAULT 1,
  status text NOT NULL,
  initial_state text,
  final_state text,
  success boolean,
  return_code integer,
  signal text,
  timed_out boolean NOT NULL DEFAULT false,
  duration_seconds double precision,
  stdout_path text,
  stderr_path text,
  stdout_excerpt text,
  stderr_excerpt text,
  stdout_bytes bigint,
  stderr_bytes bigint,
  error_message text,
  last_failure_reason text,
  fingerprint text,
  failure_category text,
  telemetry_events integer,
  telemetry_global_delta integer,
  yield_per_minute double precision,
  llm_boundary_hit boolean,
  zero_yield_reason text,
  baseline_commit text,
  worker_identity text,
  pid integer,
  pgid integer,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (session_id, run_id, phase_id, attempt, try)
);
CREATE INDEX IF NOT EXISTS drain_attempts_session_idx ON drain_attempts (session_id, id);
CREATE INDEX IF NOT EXISTS drain_attempts_run_phase_idx ON drain_attempts (run_id, phase_id);

CREATE TABLE IF NOT EXISTS drain_baselines (
  commit_sha text PRIMARY KEY,
  artifact_path text,
  duration_seconds double precision,
  exit_code integer,
  session_id text,
  captured_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS drain_leases (
  run_id text PRIMARY KEY,
  session_id text NOT NULL,
  holder text,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
