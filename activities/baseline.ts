import { mkdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import type { BaselineInfo } from './drain.js';
import { renderCommand } from '../src/domain/command-template.js';
import { safeFileComponent } from '../src/domain/files.js';
import { getBaseline, insertBaseline } from '../src/db/baselines.js';
import type { DatabaseIdentity } from '../src/db/identity.js';

/** The workspace's git commit, or null outside a git checkout. */
export async function workspaceCommit(workspace: string): Promise<string | null> {
  const r = await execa('git', ['rev-parse', 'HEAD'], { cwd: workspace, reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}

export function baselineActivities(deps: ActivityDeps) {
  return {
    /**
     * T0 baseline: captured at most once per workspace commit (cached in drain_baselines
     * across sessions and processes). Without a baseline command, only the commit is noted.
     */
    async ensureBaseline(o: {
      sessionId: string;
      workspace: string;
      baselineCommand: string | null;
      timeoutSeconds: number;
      database?: DatabaseIdentity | null;
    }): Promise<BaselineInfo> {
      const commit = await workspaceCommit(o.workspace);
      if (!o.baselineCommand) return { commit, artifactPath: null, captured: false };
      const cacheKey = commit ?? `nogit:${o.workspace}:${o.sessionId}`;
      const cached = await getBaseline(deps.pool, cacheKey);
      if (cached) return { commit, artifactPath: cached.artifact_path, captured: false };

      const dir = path.join(o.workspace, '.autonomous_runs', 'baselines');
      await mkdir(dir, { recursive: true });
      const artifactPath = path.join(dir, `${safeFileComponent(cacheKey)}.txt`);
      const argv = renderCommand(o.baselineCommand, { workspace: o.workspace, commit: commit ?? '' });
      const out = createWriteStream(artifactPath);
      const started = performance.now();
      const sub = execa(argv[0], argv.slice(1), {
        cwd: o.workspace,
        reject: false,
        all: true,
        buffer: false,
        timeout: o.timeoutSeconds * 1000,
        cancelSignal: Context.current().cancellationSignal,
      });
      sub.all?.pipe(out);
      const hb = setInterval(() => Context.current().heartbeat({ baseline: cacheKey }), 5_000);
      const r = await sub.finally(() => clearInterval(hb));
      await new Promise((res) => out.end(res));
      const row = await insertBaseline(deps.pool, {
        commitSha: cacheKey,
        artifactPath,
        durationSeconds: Math.round(performance.now() - started) / 1000,
        exitCode: r.exitCode ?? null,
        sessionId: o.sessionId,
      });
      return { commit, artifactPath: row.artifact_path, captured: row.session_id === o.sessionId };
    },
  };
}
