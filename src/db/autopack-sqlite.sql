-- Autopack's own tables, exactly as Autopack's SQLAlchemy models create them on SQLite
-- (src/autopack/models.py, Base.metadata.create_all; ../shared/reference/autopack-schema.md),
-- created only when absent (src/db/autopack-sqlite.ts): the demo's, the tests' and the
-- benchmarks' SQLite backlogs. States are VARCHAR holding the upper-case enum name; times are
-- DATETIME text in UTC written as SQLAlchemy writes them ('2026-12-07 12:00:50.453195');
-- booleans are 0/1; no defaults: every insert gives every NOT NULL column
-- (src/sim/autopack-rows.ts).

CREATE TABLE IF NOT EXISTS runs (
  id VARCHAR NOT NULL,
  state VARCHAR(33) NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  started_at DATETIME,
  completed_at DATETIME,
  safety_profile VARCHAR NOT NULL,
  run_scope VARCHAR NOT NULL,
  token_cap INTEGER NOT NULL,
  max_phases INTEGER NOT NULL,
  max_duration_minutes INTEGER NOT NULL,
  max_minor_issues_total INTEGER,
  tokens_used INTEGER NOT NULL,
  ci_runs_used INTEGER NOT NULL,
  minor_issues_count INTEGER NOT NULL,
  major_issues_count INTEGER NOT NULL,
  promotion_eligible_to_main VARCHAR NOT NULL,
  debt_status VARCHAR,
  failure_reason TEXT,
  goal_anchor TEXT,
  PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_runs_state_created ON runs (state, created_at);
CREATE INDEX IF NOT EXISTS ix_runs_id ON runs (id);

CREATE TABLE IF NOT EXISTS tiers (
  id INTEGER NOT NULL,
  tier_id VARCHAR NOT NULL,
  run_id VARCHAR NOT NULL,
  tier_index INTEGER NOT NULL,
  name VARCHAR NOT NULL,
  description TEXT,
  state VARCHAR(11) NOT NULL,
  token_cap INTEGER,
  ci_run_cap INTEGER,
  max_minor_issues_tolerated INTEGER,
  max_major_issues_tolerated INTEGER NOT NULL,
  tokens_used INTEGER NOT NULL,
  ci_runs_used INTEGER NOT NULL,
  minor_issues_count INTEGER NOT NULL,
  major_issues_count INTEGER NOT NULL,
  cleanliness VARCHAR NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  started_at DATETIME,
  completed_at DATETIME,
  PRIMARY KEY (id),
  FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ix_tiers_tier_id ON tiers (tier_id);
CREATE INDEX IF NOT EXISTS ix_tiers_id ON tiers (id);

CREATE TABLE IF NOT EXISTS phases (
  id INTEGER NOT NULL,
  phase_id VARCHAR NOT NULL,
  run_id VARCHAR NOT NULL,
  tier_id INTEGER NOT NULL,
  phase_index INTEGER NOT NULL,
  name VARCHAR NOT NULL,
  description TEXT,
  state VARCHAR(10) NOT NULL,
  task_category VARCHAR,
  complexity VARCHAR,
  builder_mode VARCHAR,
  phase_type VARCHAR,
  scope JSON,
  deployment_config JSON,
  max_builder_attempts INTEGER,
  max_auditor_attempts INTEGER,
  incident_token_cap INTEGER,
  builder_attempts INTEGER NOT NULL,
  auditor_attempts INTEGER NOT NULL,
  tokens_used INTEGER NOT NULL,
  minor_issues_count INTEGER NOT NULL,
  major_issues_count INTEGER NOT NULL,
  issue_state VARCHAR NOT NULL,
  quality_level VARCHAR,
  quality_blocked BOOLEAN NOT NULL,
  retry_attempt INTEGER NOT NULL,
  revision_epoch INTEGER NOT NULL,
  escalation_level INTEGER NOT NULL,
  last_attempt_timestamp DATETIME,
  last_failure_reason VARCHAR,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  started_at DATETIME,
  completed_at DATETIME,
  PRIMARY KEY (id),
  CONSTRAINT uq_phases_run_id_phase_id UNIQUE (run_id, phase_id),
  FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE,
  FOREIGN KEY(tier_id) REFERENCES tiers (id)
);
CREATE INDEX IF NOT EXISTS ix_phases_state ON phases (state);
CREATE INDEX IF NOT EXISTS ix_phases_id ON phases (id);
CREATE INDEX IF NOT EXISTS ix_phases_phase_id ON phases (phase_id);
CREATE INDEX IF NOT EXISTS ix_phases_state_started ON phases (state, started_at);
CREATE INDEX IF NOT EXISTS ix_phases_run_state ON phases (run_id, state);
CREATE INDEX IF NOT EXISTS ix_phases_run_id ON phases (run_id);

CREATE TABLE IF NOT EXISTS token_estimation_v2_events (
  event_id INTEGER NOT NULL,
  run_id VARCHAR NOT NULL,
  phase_id VARCHAR NOT NULL,
  timestamp DATETIME NOT NULL,
  category VARCHAR NOT NULL,
  complexity VARCHAR NOT NULL,
  deliverable_count INTEGER NOT NULL,
  deliverables_json TEXT NOT NULL,
  predicted_output_tokens INTEGER NOT NULL,
  actual_output_tokens INTEGER NOT NULL,
  selected_budget INTEGER NOT NULL,
  actual_max_tokens INTEGER,
  success BOOLEAN NOT NULL,
  truncated BOOLEAN NOT NULL,
  stop_reason VARCHAR,
  model VARCHAR NOT NULL,
  smape_percent FLOAT,
  waste_ratio FLOAT,
  underestimated BOOLEAN,
  is_truncated_output BOOLEAN NOT NULL,
  api_reference_required BOOLEAN,
  examples_required BOOLEAN,
  research_required BOOLEAN,
  usage_guide_required BOOLEAN,
  context_quality VARCHAR,
  is_sot_file BOOLEAN,
  sot_file_name VARCHAR,
  sot_entry_count_hint INTEGER,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (event_id),
  CONSTRAINT fk_token_est_v2_run_phase FOREIGN KEY(run_id, phase_id) REFERENCES phases (run_id, phase_id) ON DELETE CASCADE,
  FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_deliverable_count ON token_estimation_v2_events (deliverable_count);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_truncated ON token_estimation_v2_events (truncated);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_timestamp ON token_estimation_v2_events (timestamp);
CREATE INDEX IF NOT EXISTS ix_telemetry_category_timestamp ON token_estimation_v2_events (category, timestamp);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_is_truncated_output ON token_estimation_v2_events (is_truncated_output);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_created_at ON token_estimation_v2_events (created_at);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_complexity ON token_estimation_v2_events (complexity);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_success ON token_estimation_v2_events (success);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_category ON token_estimation_v2_events (category);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_run_id ON token_estimation_v2_events (run_id);
CREATE INDEX IF NOT EXISTS ix_telemetry_run_category ON token_estimation_v2_events (run_id, category);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_event_id ON token_estimation_v2_events (event_id);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_phase_id ON token_estimation_v2_events (phase_id);
CREATE INDEX IF NOT EXISTS ix_token_estimation_v2_events_underestimated ON token_estimation_v2_events (underestimated);

CREATE TABLE IF NOT EXISTS token_budget_escalation_events (
  event_id INTEGER NOT NULL,
  run_id VARCHAR NOT NULL,
  phase_id VARCHAR NOT NULL,
  timestamp DATETIME NOT NULL,
  attempt_index INTEGER NOT NULL,
  reason VARCHAR NOT NULL,
  was_truncated BOOLEAN NOT NULL,
  output_utilization FLOAT,
  escalation_factor FLOAT NOT NULL,
  base_value INTEGER NOT NULL,
  base_source VARCHAR NOT NULL,
  retry_max_tokens INTEGER NOT NULL,
  selected_budget INTEGER,
  actual_max_tokens INTEGER,
  tokens_used INTEGER,
  PRIMARY KEY (event_id),
  CONSTRAINT fk_token_budget_escalation_run_phase FOREIGN KEY(run_id, phase_id) REFERENCES phases (run_id, phase_id) ON DELETE CASCADE,
  FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ix_token_budget_escalation_events_event_id ON token_budget_escalation_events (event_id);
CREATE INDEX IF NOT EXISTS ix_token_budget_escalation_events_phase_id ON token_budget_escalation_events (phase_id);
CREATE INDEX IF NOT EXISTS ix_escalation_run_timestamp ON token_budget_escalation_events (run_id, timestamp);
CREATE INDEX IF NOT EXISTS ix_token_budget_escalation_events_timestamp ON token_budget_escalation_events (timestamp);
CREATE INDEX IF NOT EXISTS ix_escalation_reason_timestamp ON token_budget_escalation_events (reason, timestamp);
CREATE INDEX IF NOT EXISTS ix_token_budget_escalation_events_run_id ON token_budget_escalation_events (run_id);

