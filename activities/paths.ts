import path from 'node:path';
import { attemptLogBase } from '../src/domain/files.js';

/** `<workspace>/.autonomous_runs/batch_drain_sessions` (the original controller's location). */
export const sessionsDir = (workspace: string) =>
  path.join(workspace, '.autonomous_runs', 'batch_drain_sessions');

export const sessionJsonPath = (workspace: string, sessionId: string) =>
  path.join(sessionsDir(workspace), `${sessionId}.json`);

export const sessionLogsDir = (workspace: string, sessionId: string) =>
  path.join(sessionsDir(workspace), sessionId, 'logs');

export function attemptLogPaths(
  workspace: string,
  sessionId: string,
  runId: string,
  phaseId: string,
  attempt: number,
  tryNo: number,
) {
  const dir = sessionLogsDir(workspace, sessionId);
  const base = path.join(dir, attemptLogBase(runId, phaseId, attempt, tryNo));
  return { dir, stdout: `${base}.stdout.txt`, stderr: `${base}.stderr.txt`, exit: `${base}.exit.json` };
}
