-- Durability without edges (issue: leases, bounded retries, containment, one clock).
ALTER TABLE drain_attempts
  -- processes that outlived the executor's group and had to be reaped (setsid, double forks)
  ADD COLUMN IF NOT EXISTS processes_reaped integer,
  -- the phase's updated_at when the try started (database clock): recovery compares for change
  ADD COLUMN IF NOT EXISTS phase_updated_before timestamptz,
  -- the try's containment tag (DRAIN_ATTEMPT_TAG in the executor's environment)
  ADD COLUMN IF NOT EXISTS tag text;
