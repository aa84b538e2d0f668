-- Tokens per attempt (issue 18): Autopack's own counters, phases.tokens_used and
-- runs.tokens_used, read when a try starts and when it ends. NULL: the backlog has no such
-- column (older schemas), reported as "n/a", never 0. A counter that went down counts as
-- reset: the end value is the spend (src/domain/tokens.ts).
ALTER TABLE drain_attempts
  ADD COLUMN IF NOT EXISTS phase_tokens_before bigint,
  ADD COLUMN IF NOT EXISTS phase_tokens_after bigint,
  ADD COLUMN IF NOT EXISTS run_tokens_before bigint,
  ADD COLUMN IF NOT EXISTS run_tokens_after bigint,
  -- what the phase spent during the try, and its run meanwhile
  ADD COLUMN IF NOT EXISTS tokens_spent bigint,
  ADD COLUMN IF NOT EXISTS run_tokens_spent bigint;
