-- Selection reads a session's progress by index probes (src/db/select-session.ts): for each
-- candidate phase it asks whether this session attempted it (and how often) and whether it
-- finished it, instead of reading every attempt of the session at every pick (issue 19: rows
-- read per phase must not grow with the session). drain_attempts_try_key cannot serve these
-- probes: exec_run_id, second in its key, changes at every continue-as-new.
CREATE INDEX IF NOT EXISTS drain_attempts_session_phase_idx
  ON drain_attempts (session_id, run_id, phase_id, attempt);
