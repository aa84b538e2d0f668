import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';

/**
 * The workspace's git commit (HEAD) is asked for around every drain (selection, the drain's
 * baseline facts). `git rev-parse` costs a process start each time; its answer only changes
 * when one of the files git resolves HEAD from changes. So the answer is kept with a signature
 * of those files (inode, size, mtime, ctime; absent counts too) and git is asked again as soon
 * as any of them differs: HEAD and its ref (loose, packed or reftable), the `.git` entries of
 * the workspace and its parents (a repository made, removed or chowned), the worktree link.
 */
interface Known {
  commit: string | null;
  /** Where the last answer came from (null outside a checkout). */
  dirs: { gitDir: string; commonDir: string } | null;
  files: string[];
  /** The files' signature taken before git answered ('' : not trusted, ask again). */
  signature: string;
}

const known = new Map<string, Known>();
/** How often git was asked (a count for tests: an unchanged checkout is not asked again). */
export const gitAsked = { count: 0 };
const MAX_WORKSPACES_KNOWN = 64;

function statKey(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return '-';
  }
}

const signatureOf = (files: string[]) => files.map(statKey).join('|');

/** `.git` of the workspace and of each parent directory: where git's discovery looks. */
function discoveryFiles(workspace: string): string[] {
  const out: string[] = [];
  for (let dir = path.resolve(workspace); ; dir = path.dirname(dir)) {
    out.push(path.join(dir, '.git'));
    if (path.dirname(dir) === dir) return out;
  }
}

/** The files HEAD is resolved from in a git dir and its common dir (worktrees share refs). */
function refFiles(gitDir: string, commonDir: string): string[] {
  const head = path.join(gitDir, 'HEAD');
  let ref: string | null = null;
  try {
    ref = /^ref: (.+)$/m.exec(readFileSync(head, 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    /* unreadable: its stat (absent) is in the signature */
  }
  const loose = ref ? [path.join(gitDir, ref), path.join(commonDir, ref)] : [];
  return [
    head,
    ...loose,
    path.join(gitDir, 'commondir'),
    path.join(commonDir, 'packed-refs'),
    path.join(commonDir, 'reftable', 'tables.list'),
  ];
}

/**
 * Asks git, with the signature of the files taken before it runs (so a change while it runs
 * asks again). The ref files are known only from an earlier answer: a first answer, or one
 * from other dirs than before, is kept untrusted and the next call asks again.
 */
async function askGit(workspace: string, prev: Known | undefined): Promise<Known> {
  const files = [
    ...discoveryFiles(workspace),
    ...(prev?.dirs ? refFiles(prev.dirs.gitDir, prev.dirs.commonDir) : []),
  ];
  const signature = signatureOf(files);
  gitAsked.count += 1;
  const stdout = await new Promise<string | null>((resolve) =>
    execFile(
      'git',
      ['rev-parse', '--absolute-git-dir', '--git-common-dir', 'HEAD'],
      { cwd: workspace },
      (err, out) => resolve(err ? null : out),
    ),
  );
  const [gitDir, common, commit] = (stdout ?? '').split('\n');
  if (stdout === null || !gitDir || !common || !commit) {
    return { commit: null, dirs: null, files, signature: prev?.dirs ? '' : signature };
  }
  const dirs = { gitDir, commonDir: path.resolve(workspace, common) };
  const same = prev?.dirs?.gitDir === dirs.gitDir && prev.dirs.commonDir === dirs.commonDir;
  return { commit: commit.trim(), dirs, files, signature: same ? signature : '' };
}

/** The workspace's git commit (HEAD), or null outside a git checkout. */
export async function workspaceCommit(workspace: string): Promise<string | null> {
  const k = known.get(workspace);
  if (k && signatureOf(k.files) === k.signature) return k.commit;
  const fresh = await askGit(workspace, k);
  known.delete(workspace);
  known.set(workspace, fresh);
  while (known.size > MAX_WORKSPACES_KNOWN) known.delete(known.keys().next().value as string);
  return fresh.commit;
}
