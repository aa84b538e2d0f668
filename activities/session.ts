import { access, constants, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { sessionJsonPath, sessionsDir } from './paths.js';
import { renderCommand } from '../src/domain/command-template.js';
import { redactUrl } from '../src/domain/redact.js';
import { buildSessionJson, type SessionSnapshot } from '../src/domain/report.js';
import { DRAIN_SEARCH_ATTRIBUTES } from '../src/domain/search-attributes.js';
import type { AttemptVerdict, DrainConfig } from '../src/domain/types.js';
import { listSessionAttempts, recordVerdict } from '../src/db/attempts.js';
import { acquireLease, releaseLease } from '../src/db/leases.js';
import { backlogCounts } from '../src/db/phases.js';

export interface DbIdentity {
  url: string;
  runs: number;
  phases: number;
  byState: Record<string, number>;
}

export interface PreparedSession {
  workspace: string;
  executor: string;
  apiUrl: string | null;
  /** True when the namespace has the drain search attributes registered. */
  searchAttributes: boolean;
  db: DbIdentity;
  sessionJson: string;
}

export interface SessionReport {
  sessionId: string;
  workspace: string;
  snapshot: SessionSnapshot;
  config: DrainConfig;
  status: string;
  completedAt: string | null;
  db: DbIdentity | null;
}

const configError = (msg: string) => ApplicationFailure.nonRetryable(msg, 'SessionConfigError');

async function findOnPath(cmd: string, cwd: string): Promise<string | null> {
  const candidates = cmd.includes('/')
    ? [path.resolve(cwd, cmd)]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((d) => path.join(d, cmd));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if ((await stat(c)).isFile()) return c;
    } catch {
      /* next */
    }
  }
  return null;
}

async function searchAttributesRegistered(): Promise<boolean> {
  try {
    const ctx = Context.current();
    const res = await ctx.client.connection.operatorService.listSearchAttributes({
      namespace: ctx.info.namespace,
    });
    const custom = res.customAttributes ?? {};
    return DRAIN_SEARCH_ATTRIBUTES.every((k) => k.name in custom);
  } catch {
    return false;
  }
}

async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

export function sessionActivities(deps: ActivityDeps) {
  async function writeSessionReport(r: SessionReport): Promise<string> {
    const attempts = await listSessionAttempts(deps.pool, r.sessionId);
    const json = buildSessionJson({
      snapshot: r.snapshot,
      config: r.config,
      attempts,
      status: r.status,
      completedAt: r.completedAt,
      dbIdentity: r.db,
    });
    const file = sessionJsonPath(r.workspace, r.sessionId);
    await writeJsonAtomically(file, json);
    return file;
  }

  return {
    /**
     * Resolves the session's workspace, executor and API URL (input, else the worker's
     * defaults), checks them, and reads the DB identity. Config errors are not retried.
     */
    async prepareSession(o: {
      sessionId: string;
      workspace: string | null;
      executor: string | null;
      apiUrl: string | null;
      dryRun: boolean;
    }): Promise<PreparedSession> {
      const workspace = path.resolve(o.workspace ?? deps.defaults.workspace);
      const st = await stat(workspace).catch(() => null);
      if (!st?.isDirectory()) throw configError(`workspace directory does not exist: ${workspace}`);
      const executor = o.executor ?? deps.defaults.executor;
      let argv: string[];
      try {
        argv = renderCommand(executor, { run_id: 'R', phase_id: 'P', session_id: o.sessionId, workspace });
      } catch (err) {
        throw configError(`executor template is invalid: ${(err as Error).message}`);
      }
      if (!o.dryRun && !(await findOnPath(argv[0], workspace))) {
        throw configError(
          `executor command "${argv[0]}" was not found (template: ${executor}; workspace: ${workspace}). ` +
            'Pass --executor / the "executor" input field, or set DRAIN_EXECUTOR on the worker.',
        );
      }
      const counts = await backlogCounts(deps.pool);
      if (!o.dryRun) await mkdir(sessionsDir(workspace), { recursive: true });
      return {
        workspace,
        executor,
        apiUrl: o.apiUrl ?? deps.defaults.apiUrl,
        searchAttributes: await searchAttributesRegistered(),
        db: { url: redactUrl(deps.databaseUrl), ...counts },
        sessionJson: sessionJsonPath(workspace, o.sessionId),
      };
    },

    async acquireRunLease(o: { runId: string; sessionId: string }) {
      return acquireLease(deps.pool, o.runId, o.sessionId, deps.identity, deps.leaseTtlSeconds);
    },

    async releaseRunLease(o: { runId: string; sessionId: string }): Promise<void> {
      await releaseLease(deps.pool, o.runId, o.sessionId);
    },

    /** After an attempt: store the verdict, rewrite the session JSON, release the run's lease. */
    async finishPhase(o: {
      sessionId: string;
      runId: string;
      phaseId: string;
      attempt: number;
      verdict: AttemptVerdict;
      report: SessionReport;
    }): Promise<void> {
      await recordVerdict(deps.pool, o, o.verdict);
      await writeSessionReport(o.report);
      await releaseLease(deps.pool, o.runId, o.sessionId);
    },

    /** Writes `<workspace>/.autonomous_runs/batch_drain_sessions/<session>.json` atomically. */
    writeSessionReport,
  };
}
