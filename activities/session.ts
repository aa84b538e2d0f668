import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { sessionJsonPath, sessionsDir } from './paths.js';
import { phaseFinished, writeSessionJsonGuarded } from './session-json.js';
import { workflowRun } from './workflow-run.js';
import { SessionRows } from './session-rows.js';
import { renderCommand } from '../src/domain/command-template.js';
import { redactDeep, redactSecrets, redactUrl } from '../src/domain/redact.js';
import { buildSessionJson, type SessionSnapshot } from '../src/domain/report.js';
import { DRAIN_SEARCH_ATTRIBUTES } from '../src/domain/search-attributes.js';
import type { AttemptVerdict, DrainConfig } from '../src/domain/types.js';
import type { DatabaseIdentity } from '../src/db/identity.js';
import { phasesStillFailed, recordVerdict } from '../src/db/attempts.js';
import { listSessionCaptures } from '../src/db/baselines.js';
import { acquireLease, releaseLease } from '../src/db/leases.js';
import { recordMemoryStop } from '../src/db/memory.js';
import { claimSession, endSession, hasLegacyAttempts } from '../src/db/sessions.js';
import { countProcessesMatching } from '../src/runtime/process-group.js';
import { findOnPath } from '../src/runtime/binaries.js';
import type { DbIdentity } from '../src/domain/report-json.js';
import { leaseHeld } from '../src/runtime/metrics.js';

export interface PreparedSession {
  workspace: string;
  executor: string;
  apiUrl: string | null;
  /** True when the namespace has the drain search attributes registered. */
  searchAttributes: boolean;
  db: DbIdentity;
  /** The database the session is pinned to: every later activity checks it. */
  database: DatabaseIdentity;
  /** First run id of the session's execution chain. */
  chainId: string;
  sessionJson: string;
}

export interface SessionReport {
  sessionId: string;
  chainId: string;
  /** Grows with every report of the chain (see JsonStamp). */
  seq: number;
  workspace: string;
  snapshot: SessionSnapshot;
  config: DrainConfig;
  status: string;
  completedAt: string | null;
  db: DbIdentity | null;
  database?: DatabaseIdentity | null;
}

const configError = (msg: string) => ApplicationFailure.nonRetryable(msg, 'SessionConfigError');

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

const reusedError = (sessionId: string, when: string, detail: string) =>
  ApplicationFailure.nonRetryable(
    `session id "${sessionId}" was already used by an earlier session (${detail}, started ${when}); ` +
      'its records are kept as they are. Start the new session with another workflow id.',
    'SessionIdReused',
  );

/** The chain of a session JSON already on disk, or null when there is none. */
async function chainOfFile(file: string): Promise<{ chain: string | null; startedAt: string } | null> {
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as { chain_id?: unknown; started_at?: unknown };
    return { chain: typeof j.chain_id === 'string' ? j.chain_id : null, startedAt: String(j.started_at) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { chain: null, startedAt: 'unknown' };
  }
}

interface ClaimInput {
  sessionId: string;
  chainId: string;
  workspace: string;
  config: DrainConfig;
}

/**
 * Claims the session id for this execution chain, or refuses it (non-retryable) when an
 * earlier session used it: a drain_sessions row of another chain, attempt rows of an older
 * version, or a session JSON on disk that is not this chain's.
 */
async function claimSessionId(deps: ActivityDeps, o: ClaimInput): Promise<void> {
  const file = sessionJsonPath(o.workspace, o.sessionId);
  const row = await claimSession(deps.pool, {
    sessionId: o.sessionId,
    chainId: o.chainId,
    databaseId: deps.database.id,
    databaseName: deps.database.name,
    workspace: o.workspace,
    config: redactDeep(o.config, deps.knownSecrets),
    apiProcessPattern: o.config.apiProcessPattern,
    apiProcessesStart: countProcessesMatching(o.config.apiProcessPattern),
  });
  if (row.chain_id !== o.chainId) {
    throw reusedError(o.sessionId, row.started_at.toISOString(), `workflow run ${row.chain_id}`);
  }
  const legacy = await hasLegacyAttempts(deps.pool, o.sessionId);
  if (legacy && legacy < row.started_at) {
    throw reusedError(o.sessionId, legacy.toISOString(), 'attempt rows of an earlier version');
  }
  const onDisk = await chainOfFile(file);
  if (onDisk && onDisk.chain !== o.chainId) {
    throw reusedError(o.sessionId, onDisk.startedAt, `session file ${file}`);
  }
}

/** Writes the session JSON from the session's rows; at the session's end also ends its row and notifies. */
async function writeSessionReport(
  deps: ActivityDeps,
  sessionRows: SessionRows,
  r: SessionReport,
): Promise<string> {
  const attempts = await sessionRows.rowsOf(r.sessionId);
  const json = buildSessionJson({
    snapshot: r.snapshot,
    config: r.config,
    attempts,
    status: r.status,
    completedAt: r.completedAt,
    dbIdentity: r.db,
    baselineCaptures: await listSessionCaptures(deps.pool, r.sessionId),
    knownFailures: await sessionRows.knownFailuresOf(r.sessionId),
  });
  const file = sessionJsonPath(r.workspace, r.sessionId);
  const execRunId = workflowRun().runId;
  await writeSessionJsonGuarded(
    deps.pool,
    file,
    redactDeep(json, deps.knownSecrets),
    {
      chain_id: r.chainId,
      exec_run_id: execRunId,
      report_seq: r.seq,
    },
    Boolean(r.completedAt),
  );
  if (r.completedAt) {
    sessionRows.forget(r.sessionId);
    await endSession(deps.pool, {
      sessionId: r.sessionId,
      chainId: r.chainId,
      status: r.status,
      apiProcessesEnd: countProcessesMatching(r.config.apiProcessPattern),
    });
    // Queued in drain_notifications and delivered by the worker's loop (src/runtime/notify.ts).
    await deps.notifier?.sessionEnded({
      sessionId: r.sessionId,
      status: r.status,
      json,
      sessionJsonPath: file,
    });
  }
  return file;
}

/**
 * The session's executor template (input, else the worker's default), checked: no secret in
 * it, a valid template, and (unless a dry run) a command that exists.
 */
function checkedExecutor(deps: ActivityDeps, c: DrainConfig, sessionId: string, workspace: string): string {
  const executor = c.executor ?? deps.defaults.executor;
  if (redactSecrets(executor) !== executor) {
    // The resolved template travels in history to every drain: it must not carry a secret.
    throw configError(
      `the executor template contains a secret (${redactSecrets(executor)}); keep secrets in the worker's environment`,
    );
  }
  let argv: string[];
  try {
    argv = renderCommand(executor, { run_id: 'R', phase_id: 'P', session_id: sessionId, workspace });
  } catch (err) {
    throw configError(`executor template is invalid: ${(err as Error).message}`);
  }
  if (!c.dryRun && !findOnPath(argv[0], workspace)) {
    throw configError(
      `executor command "${argv[0]}" was not found (template: ${executor}; workspace: ${workspace}). ` +
        'Pass --executor / the "executor" input field, or set DRAIN_EXECUTOR on the worker.',
    );
  }
  return executor;
}

/**
 * Resolves the session's workspace, executor and API URL (input, else the worker's
 * defaults), checks them, claims the session id for this execution chain, and pins the
 * database. Config errors and a reused session id are not retried.
 */
async function prepareSession(
  deps: ActivityDeps,
  o: { sessionId: string; chainId: string; config: DrainConfig; database: DatabaseIdentity | null },
): Promise<PreparedSession> {
  const c = o.config; // a config.databaseId is checked by checkDatabase (activities/index.ts)
  const minTimeout = (3 * deps.heartbeatIntervalMs) / 1000;
  if (!c.dryRun && c.heartbeatTimeoutSeconds < minTimeout) {
    throw configError(
      `heartbeatTimeoutSeconds ${c.heartbeatTimeoutSeconds} cannot work: this worker heartbeats every ` +
        `${deps.heartbeatIntervalMs / 1000}s (DRAIN_HEARTBEAT_MS), so the timeout must be at least ${minTimeout}s`,
    );
  }
  const workspace = path.resolve(c.workspace ?? deps.defaults.workspace);
  const st = await stat(workspace).catch(() => null);
  if (!st?.isDirectory()) throw configError(`workspace directory does not exist: ${workspace}`);
  const executor = checkedExecutor(deps, c, o.sessionId, workspace);
  const counts = await deps.backlog.backlogCounts();
  if (!c.dryRun) {
    deps.supervisors.expect(c.concurrency); // its first picks find their supervisors ready
    await mkdir(sessionsDir(workspace), { recursive: true });
    await claimSessionId(deps, { sessionId: o.sessionId, chainId: o.chainId, workspace, config: c });
  }
  return {
    workspace,
    executor,
    apiUrl: c.apiUrl ?? deps.defaults.apiUrl,
    searchAttributes: await searchAttributesRegistered(),
    db: { url: redactUrl(deps.databaseUrl), ...counts },
    database: deps.database,
    chainId: o.chainId,
    sessionJson: sessionJsonPath(workspace, o.sessionId),
  };
}

export interface FinishPhaseInput {
  sessionId: string;
  runId: string;
  phaseId: string;
  attempt: number;
  verdict: AttemptVerdict;
  /** The running session JSON's report; null when the workflow judged no rewrite due. */
  report: SessionReport | null;
  /**
   * The workflow judged the rewrite due (src/domain/json-cadence.ts). Absent in sessions recorded
   * before, which send a report with every phase: then this worker judges (phaseFinished).
   */
  reportDue?: boolean;
  database?: DatabaseIdentity | null;
  /** The fingerprint this attempt stopped: kept in failure memory for later sessions. */
  memoryStop?: { fingerprint: string; repeats: number } | null;
}

export function sessionActivities(deps: ActivityDeps) {
  const sessionRows = new SessionRows(deps.pool);
  const writeReport = (r: SessionReport) => writeSessionReport(deps, sessionRows, r);

  return {
    /** Resolves, checks and claims the session (prepareSession above). */
    prepareSession: (o: {
      sessionId: string;
      chainId: string;
      config: DrainConfig;
      database: DatabaseIdentity | null;
    }): Promise<PreparedSession> => prepareSession(deps, o),

    async acquireRunLease(o: { runId: string; sessionId: string; database?: DatabaseIdentity | null }) {
      const lease = await acquireLease(deps.pool, o.runId, o.sessionId, deps.identity, deps.leaseTtlSeconds);
      if (lease.acquired) leaseHeld(+1);
      return lease;
    },

    async releaseRunLease(o: { runId: string; sessionId: string; database?: DatabaseIdentity | null }) {
      await releaseLease(deps.pool, o.runId, o.sessionId);
      leaseHeld(-1);
    },

    /** After an attempt: store the verdict, rewrite the session JSON, release the run's lease. */
    async finishPhase(o: FinishPhaseInput): Promise<void> {
      const execRunId = workflowRun().runId;
      await recordVerdict(deps.pool, { ...o, execRunId }, o.verdict);
      if (o.memoryStop) await recordMemoryStop(deps.pool, { ...o, ...o.memoryStop, execRunId });
      // Rewritten whole, so not after every phase of a long session (src/domain/json-cadence.ts),
      // and in the background: the slot's next phase does not wait for it.
      const report = o.report;
      if (report && (o.reportDue ?? phaseFinished(o.sessionId, report.snapshot.processed)))
        deps.sessionJsonWrites.request(o.sessionId, () => writeReport(report));
      await releaseLease(deps.pool, o.runId, o.sessionId);
      leaseHeld(-1);
    },

    /**
     * Writes `<workspace>/.autonomous_runs/batch_drain_sessions/<session>.json` atomically, after
     * the session's background rewrites (finishPhase) are done.
     */
    async writeSessionReport(r: SessionReport): Promise<string> {
      await deps.sessionJsonWrites.idle(r.sessionId);
      return writeReport(r);
    },

    /** Phases whose last attempt in the session failed, from its records. */
    async countPhasesStillFailed(o: {
      sessionId: string;
      database?: DatabaseIdentity | null;
    }): Promise<number> {
      return phasesStillFailed(deps.pool, o.sessionId);
    },
  };
}
