-- Autopack's shape for databases made by earlier releases of this project, whose 001 created a
-- simpler copy of Autopack's tables (telemetry keyed by `id`, timestamptz times, text states,
-- server defaults, no tiers). From this release on, 001 creates Autopack's own shape
-- (../shared/reference/autopack-schema.md) and every statement is written for it; this
-- migration brings those older tables close enough that the same statements work:
--   1. the telemetry key `id` is renamed `event_id`;
--   2. our timestamptz columns become naive `timestamp` holding UTC, as Autopack writes them
--      (the instants are unchanged: `col AT TIME ZONE 'UTC'`); a default now() becomes
--      (now() AT TIME ZONE 'UTC');
--   3. Autopack's columns the old tables lack are added (NOT NULL ones with a default, on those
--      old tables only), and a `tiers` table with phases.tier_id (nullable: old phases have no
--      tier), so the one writer of Autopack rows (src/sim/autopack-rows.ts) and the statements
--      that read them (tokens_used, ...) work there.
-- Compatibility rule: state columns stay `text` on those old tables (Autopack's are the enum
-- types runstate / phasestate). Text states are accepted: our statements compare states with
-- literals or `state::text`, and write them through the column's own type, which works on both.
--
-- Every step is guarded by what the table looks like: on a database Autopack made (event_id,
-- naive times, tier_id, run_scope present), on a fresh one (the new 001) and where the tables are
-- absent (a records-only schema), this migration does nothing.
DO $$
DECLARE
  r record;
  tbl text;
  actions text;
BEGIN
  -- 1. Telemetry keys.
  FOREACH tbl IN ARRAY ARRAY['token_estimation_v2_events', 'token_budget_escalation_events'] LOOP
    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = to_regclass(tbl) AND attname = 'id' AND NOT attisdropped)
       AND NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = to_regclass(tbl) AND attname = 'event_id' AND NOT attisdropped)
    THEN
      EXECUTE format('ALTER TABLE %I RENAME COLUMN id TO event_id', tbl);
    END IF;
  END LOOP;

  -- 2. timestamptz → naive UTC, one ALTER TABLE per table (one rewrite).
  FOREACH tbl IN ARRAY ARRAY['runs', 'phases', 'token_estimation_v2_events',
                             'token_budget_escalation_events'] LOOP
    actions := NULL;
    FOR r IN
      SELECT a.attname AS col, d.adbin IS NOT NULL AS has_default
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = to_regclass(tbl) AND a.attnum > 0 AND NOT a.attisdropped
         AND a.atttypid = 'timestamptz'::regtype
         AND a.attname IN ('created_at', 'updated_at', 'started_at', 'completed_at', 'timestamp')
       ORDER BY a.attnum
    LOOP
      actions := concat_ws(', ', actions,
        CASE WHEN r.has_default THEN format('ALTER COLUMN %I DROP DEFAULT', r.col) END,
        format('ALTER COLUMN %I TYPE timestamp without time zone USING %I AT TIME ZONE ''UTC''', r.col, r.col),
        CASE WHEN r.has_default
             THEN format('ALTER COLUMN %I SET DEFAULT (now() AT TIME ZONE ''UTC'')', r.col) END);
    END LOOP;
    IF actions IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %I %s', tbl, actions);
    END IF;
  END LOOP;

  -- 3. Autopack's missing columns, on the old tables only (recognised by a column every
  --    Autopack-made table has and ours lacked).
  IF to_regclass('phases') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_attribute
                      WHERE attrelid = to_regclass('phases') AND attname = 'tier_id' AND NOT attisdropped)
  THEN
    IF to_regtype('tierstate') IS NULL THEN
      CREATE TYPE tierstate AS ENUM ('PENDING', 'IN_PROGRESS', 'COMPLETE', 'FAILED', 'SKIPPED');
    END IF;
    CREATE TABLE IF NOT EXISTS tiers (
      id SERIAL NOT NULL,
      tier_id VARCHAR NOT NULL,
      run_id VARCHAR NOT NULL,
      tier_index INTEGER NOT NULL,
      name VARCHAR NOT NULL,
      description TEXT,
      state tierstate NOT NULL,
      token_cap INTEGER,
      ci_run_cap INTEGER,
      max_minor_issues_tolerated INTEGER,
      max_major_issues_tolerated INTEGER NOT NULL,
      tokens_used INTEGER NOT NULL,
      ci_runs_used INTEGER NOT NULL,
      minor_issues_count INTEGER NOT NULL,
      major_issues_count INTEGER NOT NULL,
      cleanliness VARCHAR NOT NULL,
      created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
      updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
      started_at TIMESTAMP WITHOUT TIME ZONE,
      completed_at TIMESTAMP WITHOUT TIME ZONE,
      PRIMARY KEY (id),
      FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS ix_tiers_tier_id ON tiers (tier_id);
    CREATE INDEX IF NOT EXISTS ix_tiers_id ON tiers (id);
    ALTER TABLE phases
      ADD COLUMN IF NOT EXISTS tier_id INTEGER REFERENCES tiers (id),
      ADD COLUMN IF NOT EXISTS builder_mode VARCHAR,
      ADD COLUMN IF NOT EXISTS deployment_config JSON,
      ADD COLUMN IF NOT EXISTS max_builder_attempts INTEGER,
      ADD COLUMN IF NOT EXISTS max_auditor_attempts INTEGER,
      ADD COLUMN IF NOT EXISTS incident_token_cap INTEGER,
      ADD COLUMN IF NOT EXISTS builder_attempts INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS auditor_attempts INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS tokens_used INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS minor_issues_count INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS major_issues_count INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS issue_state VARCHAR NOT NULL DEFAULT 'no_issues',
      ADD COLUMN IF NOT EXISTS quality_level VARCHAR,
      ADD COLUMN IF NOT EXISTS quality_blocked BOOLEAN NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS retry_attempt INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS revision_epoch INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS escalation_level INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS last_attempt_timestamp TIMESTAMP WITHOUT TIME ZONE;
  END IF;

  IF to_regclass('runs') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_attribute
                      WHERE attrelid = to_regclass('runs') AND attname = 'run_scope' AND NOT attisdropped)
  THEN
    ALTER TABLE runs
      ADD COLUMN IF NOT EXISTS started_at TIMESTAMP WITHOUT TIME ZONE,
      ADD COLUMN IF NOT EXISTS completed_at TIMESTAMP WITHOUT TIME ZONE,
      ADD COLUMN IF NOT EXISTS safety_profile VARCHAR NOT NULL DEFAULT 'normal',
      ADD COLUMN IF NOT EXISTS run_scope VARCHAR NOT NULL DEFAULT 'multi_tier',
      ADD COLUMN IF NOT EXISTS token_cap INTEGER NOT NULL DEFAULT 5000000,
      ADD COLUMN IF NOT EXISTS max_phases INTEGER NOT NULL DEFAULT 25,
      ADD COLUMN IF NOT EXISTS max_duration_minutes INTEGER NOT NULL DEFAULT 120,
      ADD COLUMN IF NOT EXISTS max_minor_issues_total INTEGER,
      ADD COLUMN IF NOT EXISTS tokens_used INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS ci_runs_used INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS minor_issues_count INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS major_issues_count INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS promotion_eligible_to_main VARCHAR NOT NULL DEFAULT 'false',
      ADD COLUMN IF NOT EXISTS debt_status VARCHAR,
      ADD COLUMN IF NOT EXISTS failure_reason TEXT,
      ADD COLUMN IF NOT EXISTS goal_anchor TEXT;
  END IF;

  -- The telemetry tables of the old shape lack Autopack's `model` (estimation) and
  -- `base_source` (escalation). created_at (estimation) is filled from each row's timestamp.
  IF to_regclass('token_estimation_v2_events') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_attribute
                      WHERE attrelid = to_regclass('token_estimation_v2_events') AND attname = 'model'
                        AND NOT attisdropped)
  THEN
    ALTER TABLE token_estimation_v2_events
      ADD COLUMN IF NOT EXISTS deliverables_json TEXT NOT NULL DEFAULT '[]',
      ADD COLUMN IF NOT EXISTS selected_budget INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS actual_max_tokens INTEGER,
      ADD COLUMN IF NOT EXISTS truncated BOOLEAN NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS stop_reason VARCHAR,
      ADD COLUMN IF NOT EXISTS model VARCHAR NOT NULL DEFAULT 'unknown',
      ADD COLUMN IF NOT EXISTS smape_percent FLOAT,
      ADD COLUMN IF NOT EXISTS waste_ratio FLOAT,
      ADD COLUMN IF NOT EXISTS underestimated BOOLEAN,
      ADD COLUMN IF NOT EXISTS is_truncated_output BOOLEAN NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS api_reference_required BOOLEAN,
      ADD COLUMN IF NOT EXISTS examples_required BOOLEAN,
      ADD COLUMN IF NOT EXISTS research_required BOOLEAN,
      ADD COLUMN IF NOT EXISTS usage_guide_required BOOLEAN,
      ADD COLUMN IF NOT EXISTS context_quality VARCHAR,
      ADD COLUMN IF NOT EXISTS is_sot_file BOOLEAN,
      ADD COLUMN IF NOT EXISTS sot_file_name VARCHAR,
      ADD COLUMN IF NOT EXISTS sot_entry_count_hint INTEGER,
      ADD COLUMN IF NOT EXISTS created_at TIMESTAMP WITHOUT TIME ZONE;
    UPDATE token_estimation_v2_events SET created_at = "timestamp" WHERE created_at IS NULL;
    ALTER TABLE token_estimation_v2_events
      ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE 'UTC'),
      ALTER COLUMN created_at SET NOT NULL;
  END IF;

  IF to_regclass('token_budget_escalation_events') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_attribute
                      WHERE attrelid = to_regclass('token_budget_escalation_events')
                        AND attname = 'base_source' AND NOT attisdropped)
  THEN
    ALTER TABLE token_budget_escalation_events
      ADD COLUMN IF NOT EXISTS output_utilization FLOAT,
      ADD COLUMN IF NOT EXISTS escalation_factor FLOAT NOT NULL DEFAULT 2.0,
      ADD COLUMN IF NOT EXISTS base_source VARCHAR NOT NULL DEFAULT 'unknown',
      ADD COLUMN IF NOT EXISTS selected_budget INTEGER,
      ADD COLUMN IF NOT EXISTS actual_max_tokens INTEGER,
      ADD COLUMN IF NOT EXISTS tokens_used INTEGER;
  END IF;
END $$;
