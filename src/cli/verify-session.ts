/**
 * Gathers the facts `drain verify` judges — database rows and the heads of the log files
 * on disk, nothing from Temporal — and judges them (src/domain/verify.ts).
 */
import { open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Queryable } from '../db/pool.js';
import {
  tryFacts,
  baselineFacts,
  countEscalationsByAttempt,
  databaseNow,
  getSessionRecord,
  listBaselinesOfCommits,
  listOtherSessionTriesAlongside,
  listSessionTries,
  otherSessionTryFacts,
  sessionFacts,
} from '../db/verify-facts.js';
import {
  FINAL_TRY_STATUSES,
  LOG_HEAD_BYTES,
  isBlank,
  judgeCriteria,
  logPathFor,
  type TryFacts,
  type LogHeadFacts,
  type VerifyFacts,
  type VerifyResult,
} from '../domain/verify.js';
import { UsageError } from './env.js';

export { verdictLine } from '../domain/verify-format.js';

/** Neither a drain_sessions row nor any drain_attempts row has this session id (exit code 2). */
class UnknownSessionError extends UsageError {
  override name = 'UnknownSessionError';
}

interface VerifyOptions {
  /** Look for log files under this workspace instead of the one recorded (--workspace). */
  workspace?: string | null;
  /** Relative log paths of sessions without a recorded workspace resolve against this (default cwd). */
  cwd?: string;
  /** The host verify runs on, for logs recorded on other hosts (default os.hostname()). */
  host?: string;
}

async function isFile(p: string | null): Promise<boolean> {
  if (!p) return false;
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The lines of the first LOG_HEAD_BYTES of a file ([] when it cannot be read). */
async function headLines(p: string): Promise<string[]> {
  try {
    const fh = await open(p, 'r');
    try {
      const buf = Buffer.alloc(LOG_HEAD_BYTES);
      const { bytesRead } = await fh.read(buf, 0, LOG_HEAD_BYTES, 0);
      const text = buf.subarray(0, bytesRead).toString('utf8');
      return text === '' ? [] : text.split(/\r?\n/);
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
}

/** Log facts of each final try, at its paths moved as `opts` asks. */
async function logFacts(
  finals: TryFacts[],
  recordedWorkspace: string | null,
  opts: VerifyOptions,
): Promise<Record<string, LogHeadFacts>> {
  const where = { recordedWorkspace, workspace: opts.workspace ?? null, base: opts.cwd ?? process.cwd() };
  const out: Record<string, LogHeadFacts> = {};
  for (const a of finals) {
    const stdout = logPathFor(a.stdoutPath, where);
    const stderr = logPathFor(a.stderrPath, where);
    const stdoutExists = await isFile(stdout);
    out[a.id] = {
      stdoutPath: stdout,
      stderrPath: stderr,
      stdoutExists,
      stderrExists: await isFile(stderr),
      firstLines: stdoutExists ? await headLines(stdout as string) : [],
    };
  }
  return out;
}

/** Reads every fact of a session from the database and the disk. */
async function gatherVerifyFacts(
  db: Queryable,
  sessionId: string,
  opts: VerifyOptions = {},
): Promise<VerifyFacts | null> {
  const sessionRow = await getSessionRecord(db, sessionId);
  const tries = (await listSessionTries(db, sessionId)).map(tryFacts);
  if (!sessionRow && tries.length === 0) return null;
  const session = sessionRow ? sessionFacts(sessionRow) : null;
  const finals = tries.filter((t) => FINAL_TRY_STATUSES.includes(t.status));
  const commits = [...new Set(tries.map((t) => t.baselineCommit).filter((c) => !isBlank(c)))] as string[];
  const [baselines, escalations, logs, otherTries, now] = [
    (await listBaselinesOfCommits(db, commits)).map(baselineFacts),
    await countEscalationsByAttempt(db, sessionId),
    await logFacts(finals, session?.workspace ?? null, opts),
    (await listOtherSessionTriesAlongside(db, sessionId)).map(otherSessionTryFacts),
    await databaseNow(db),
  ];
  const verifyHost = opts.host ?? hostname();
  return { sessionId, session, tries, otherTries, logs, baselines, escalations, verifyHost, now };
}

/**
 * Judges the reliability plan's six criteria for one session from its records alone.
 * Throws UnknownSessionError when the database has no record of the session.
 */
export async function verifySession(
  db: Queryable,
  sessionId: string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const facts = await gatherVerifyFacts(db, sessionId, opts);
  if (!facts) {
    throw new UnknownSessionError(
      `unknown session "${sessionId}": this database has no drain_sessions row and no drain_attempts rows for it`,
    );
  }
  return judgeCriteria(facts);
}
