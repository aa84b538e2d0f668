import { execa } from 'execa';

/** The workspace's git commit (HEAD), or null outside a git checkout. */
export async function workspaceCommit(workspace: string): Promise<string | null> {
  const r = await execa('git', ['rev-parse', 'HEAD'], { cwd: workspace, reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}
