-- Autopack's own tables, created only when absent, with Autopack's column names,
-- so a real Autopack database works unchanged.
CREATE TABLE IF NOT EXISTS runs (
  id text PRIMARY KEY,
  state text NOT NULL DEFAULT 'QUEUED',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS phases (
  id serial PRIMARY KEY,
  run_id text NOT NULL REFERENCES runs(id),
  phase_id text NOT NULL,
  phase_index integer NOT NULL DEFAULT 0,
  name text,
  description text,
  state text NOT NULL DEFAULT 'QUEUED',
  last_failure_reason text,
  task_category text,
  complexity text,
  phase_type text,
  scope json,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_id, phase_id)
);

CREATE INDEX IF NOT EXISTS phases_state_order_idx ON phases (state, phase_index, id);
CREATE INDEX IF NOT EXISTS phases_run_state_idx ON phases (run_id, state);

CREATE TABLE IF NOT EXISTS token_estimation_v2_events (
  id serial PRIMARY KEY,
  run_id text NOT NULL,
  phase_id text NOT NULL,
  timestamp timestamptz NOT NULL DEFAULT now(),
  category text,
  complexity text,
  deliverable_count integer,
  predicted_output_tokens integer,
  actual_output_tokens integer,
  success boolean
);
CREATE INDEX IF NOT EXISTS token_estimation_v2_events_run_phase_idx
  ON token_estimation_v2_events (run_id, phase_id);

CREATE TABLE IF NOT EXISTS token_budget_escalation_events (
  id serial PRIMARY KEY,
  run_id text NOT NULL,
  phase_id text NOT NULL,
  timestamp timestamptz NOT NULL DEFAULT now(),
  attempt_index integer,
  reason text,
  was_truncated boolean,
  base_value integer,
  retry_max_tokens integer
);
CREATE INDEX IF NOT EXISTS token_budget_escalation_events_run_phase_idx
  ON token_budget_escalation_events (run_id, phase_id);
