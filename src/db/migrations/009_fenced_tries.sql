-- Fenced tries (issue 17). A try's executor runs under a small supervisor process
-- (src/runtime/try-supervisor.mjs) that lives exactly as long as the executor: it renews the
-- try's fence (fence_at, database clock) and its run's lease every few seconds, and ends the
-- executor when the try is no longer current (status <> 'running': a retry marked it) or when
-- it could not renew for F seconds. When the executor ends it records the true end here, so
-- any host can judge the try.
ALTER TABLE drain_attempts
  -- last renewal of the try's fence by its supervisor (NULL: a try of an earlier release)
  ADD COLUMN IF NOT EXISTS fence_at timestamptz,
  -- the host the try ran on (its worker's hostname)
  ADD COLUMN IF NOT EXISTS host text,
  -- when the executor's process ended, with its exit code or signal, as its supervisor saw it
  ADD COLUMN IF NOT EXISTS process_ended_at timestamptz,
  ADD COLUMN IF NOT EXISTS process_exit_code integer,
  ADD COLUMN IF NOT EXISTS process_signal text,
  -- why the supervisor ended: exited | superseded | fence-lost | lease-lost | hard-limit
  ADD COLUMN IF NOT EXISTS supervisor_end text,
  -- the logs as they were when the try ended: sizes and sha256 (a log on another host is
  -- reported with these, not as missing)
  ADD COLUMN IF NOT EXISTS stdout_sha256 text,
  ADD COLUMN IF NOT EXISTS stderr_sha256 text;
