-- Failure memory: what sessions learned, kept across sessions (see src/db/memory.ts).

-- A fingerprint a session stopped (it hit --max-fingerprint-repeats). It stays stopped for
-- later sessions on the same workspace commit, for phases whose last failure is still that
-- fingerprint and whose last_failure_reason has not changed since, until an operator clears it.
CREATE TABLE IF NOT EXISTS drain_memory_stops (
  id bigserial PRIMARY KEY,
  fingerprint text NOT NULL,
  session_id text NOT NULL,
  -- the attempt that hit the limit
  run_id text NOT NULL,
  phase_id text NOT NULL,
  -- the workspace commit that attempt ran on (NULL outside a git checkout)
  commit_sha text,
  repeats integer NOT NULL,
  stopped_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (fingerprint, session_id)
);
CREATE INDEX IF NOT EXISTS drain_memory_stops_fingerprint_idx ON drain_memory_stops (fingerprint, stopped_at);

-- What an operator cleared (`drain memory clear`): memory older than a clear no longer counts
-- for that fingerprint, run or phase (stops and the attempts --max-attempts-per-phase-total counts).
CREATE TABLE IF NOT EXISTS drain_memory_clears (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('fingerprint', 'run', 'phase')),
  fingerprint text,
  run_id text,
  phase_id text,
  cleared_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'fingerprint') = (fingerprint IS NOT NULL)),
  CHECK ((kind IN ('run', 'phase')) = (run_id IS NOT NULL)),
  CHECK ((kind = 'phase') = (phase_id IS NOT NULL))
);

ALTER TABLE drain_attempts
  -- md5 of the phase's last_failure_reason when the try ended (memory notices a changed reason
  -- without keeping a second copy of the text)
  ADD COLUMN IF NOT EXISTS final_reason_md5 text;
CREATE INDEX IF NOT EXISTS drain_attempts_fingerprint_idx ON drain_attempts (fingerprint)
  WHERE fingerprint IS NOT NULL;
