import path from 'node:path';
import { attemptLogBase, safeFileComponent } from '../src/domain/files.js';
import { createPrivateFile, ensurePrivateDir } from '../src/runtime/private-files.js';

/** `<workspace>/.autonomous_runs/batch_drain_sessions` (the original controller's location). */
export const sessionsDir = (workspace: string) =>
  path.join(workspace, '.autonomous_runs', 'batch_drain_sessions');

/** The session JSON; the session id is made a safe file name (see safeFileComponent). */
export const sessionJsonPath = (workspace: string, sessionId: string) =>
  path.join(sessionsDir(workspace), `${safeFileComponent(sessionId)}.json`);

export const sessionLogsDir = (workspace: string, sessionId: string) =>
  path.join(sessionsDir(workspace), safeFileComponent(sessionId), 'logs');

export interface AttemptLogPaths {
  dir: string;
  stdout: string;
  stderr: string;
  exit: string;
}

interface AttemptLogRef {
  workspace: string;
  sessionId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
  /** The workflow run of the try: names the files when the plain name is taken. */
  execRunId: string;
}

const pathsOf = (dir: string, base: string): AttemptLogPaths => {
  const b = path.join(dir, base);
  return { dir, stdout: `${b}.stdout.txt`, stderr: `${b}.stderr.txt`, exit: `${b}.exit.json` };
};

const isExists = (err: unknown) => (err as NodeJS.ErrnoException).code === 'EEXIST';

/** Candidate base names: the plain one, then ones tagged with the workflow run. */
function candidateBase(r: AttemptLogRef, n: number): string {
  const base = attemptLogBase(r.runId, r.phaseId, r.attempt, r.tryNo);
  if (n === 0) return base;
  const tag = safeFileComponent(r.execRunId.slice(0, 12) || 'run');
  return n === 1 ? `${base}.r${tag}` : `${base}.r${tag}-${n}`;
}

/**
 * Creates a try's stdout and stderr log files exclusively, each starting with `header`, and
 * returns their paths. Files that exist already (an earlier execution with the same session
 * id, a reset replaying the same attempt and try) are never truncated or reopened: the next
 * free name is taken instead. The raw logs are not redacted: they are private files in private
 * directories (src/runtime/private-files.ts).
 */
export async function claimAttemptLogs(r: AttemptLogRef, header: string): Promise<AttemptLogPaths> {
  const dir = sessionLogsDir(r.workspace, r.sessionId);
  ensurePrivateDir(sessionsDir(r.workspace));
  ensurePrivateDir(dir);
  for (let n = 0; n < 50; n++) {
    const p = pathsOf(dir, candidateBase(r, n));
    try {
      await createPrivateFile(p.stdout, header);
    } catch (err) {
      if (isExists(err)) continue;
      throw err;
    }
    try {
      await createPrivateFile(p.stderr, header);
    } catch (err) {
      if (isExists(err)) continue; // our stdout file stays, with its header only
      throw err;
    }
    return p;
  }
  throw new Error(`no free log file name for ${candidateBase(r, 0)} in ${dir}`);
}
