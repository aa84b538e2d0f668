/**
 * workspaceCommit keeps git's answer while the files HEAD resolves from are unchanged: every
 * way a checkout's HEAD moves must still be seen (real git in a temp directory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gitAsked, workspaceCommit } from '../../src/runtime/git.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();
const head = (cwd: string) => git(cwd, 'rev-parse', 'HEAD');
const commit = (cwd: string, msg: string) => git(cwd, 'commit', '--allow-empty', '-q', '-m', msg);

/** Asked twice: the first answer after a change and the kept one must both be git's. */
async function assertSeen(ws: string, want: string | null, what: string): Promise<void> {
  assert.equal(await workspaceCommit(ws), want, `${what} (first ask)`);
  assert.equal(await workspaceCommit(ws), want, `${what} (kept answer)`);
}

test('workspaceCommit follows every move of HEAD, and a repository made or removed', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'drain-git-'));
  try {
    const ws = path.join(root, 'ws');
    mkdirSync(ws);
    await assertSeen(ws, null, 'not a checkout');
    git(ws, 'init', '-q', '-b', 'main');
    await assertSeen(ws, null, 'a repository without a commit');
    commit(ws, 'one');
    await assertSeen(ws, head(ws), 'first commit');
    const first = head(ws);
    commit(ws, 'two');
    await assertSeen(ws, head(ws), 'a new commit on the branch');
    const asked = gitAsked.count;
    for (let i = 0; i < 10; i++) assert.equal(await workspaceCommit(ws), head(ws));
    assert.equal(gitAsked.count, asked, 'an unchanged checkout is answered without git');
    git(ws, 'checkout', '-q', '-b', 'other', first);
    await assertSeen(ws, first, 'a switch to another branch');
    commit(ws, 'three');
    await assertSeen(ws, head(ws), 'a commit on the other branch');
    git(ws, 'pack-refs', '--all');
    await assertSeen(ws, head(ws), 'refs packed');
    commit(ws, 'four');
    await assertSeen(ws, head(ws), 'a commit after packing');
    git(ws, 'checkout', '-q', '--detach', first);
    await assertSeen(ws, first, 'a detached HEAD');
    git(ws, 'checkout', '-q', 'main');
    git(ws, 'reset', '-q', '--hard', first);
    await assertSeen(ws, first, 'a reset of the branch');
    const wt = path.join(root, 'wt');
    git(ws, 'worktree', 'add', '-q', '-b', 'wt-branch', wt, first);
    commit(wt, 'in the worktree');
    await assertSeen(wt, head(wt), 'a linked worktree');
    await assertSeen(ws, first, 'the main checkout is not moved by the worktree');
    rmSync(path.join(ws, '.git'), { recursive: true, force: true });
    await assertSeen(ws, null, 'the repository removed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a subdirectory of a checkout has the checkout commit; a parent repository made later is seen', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'drain-git-'));
  try {
    const sub = path.join(root, 'a', 'b');
    mkdirSync(sub, { recursive: true });
    await assertSeen(sub, null, 'no repository above');
    const asked = gitAsked.count;
    for (let i = 0; i < 10; i++) assert.equal(await workspaceCommit(sub), null);
    assert.equal(gitAsked.count, asked, 'outside a checkout too');
    git(root, 'init', '-q', '-b', 'main');
    commit(root, 'one');
    await assertSeen(sub, head(root), 'a repository made in a parent');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
