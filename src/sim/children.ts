/**
 * The hang-with-children scenario's process tree: this process → a child → a grandchild,
 * all in this process's group (nothing detached), all ignoring SIGTERM and SIGINT. Only a
 * SIGKILL of the whole group ends it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const IGNORE = "process.on('SIGTERM',()=>{});process.on('SIGINT',()=>{});process.on('SIGHUP',()=>{});";
// Each process reports only once its handlers are installed, so when SIM_GRANDCHILD_PID is
// printed all three ignore SIGTERM.
const GRANDCHILD = `${IGNORE}process.stdout.write('ready\\n');setInterval(()=>{},1<<30);`;
const CHILD = `${IGNORE}
const g = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(GRANDCHILD)}], { stdio: ['ignore', 'pipe', 'ignore'] });
g.stdout.once('data', () => process.stdout.write('SIM_GRANDCHILD_PID=' + g.pid + '\\n'));
setInterval(()=>{},1<<30);`;

interface ProcessTree {
  childPid: number;
  grandchildPid: number;
}

/** Spawns the child (which spawns the grandchild); `onChild` runs as soon as the child exists. */
export async function spawnStubbornTree(onChild: (pid: number) => Promise<void>): Promise<ProcessTree> {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.pid === undefined) {
    const [e] = await once(child, 'error');
    throw new Error(`could not spawn the child process: ${(e as Error).message}`);
  }
  await onChild(child.pid);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const m = /^SIM_GRANDCHILD_PID=(\d+)$/.exec(line.trim());
    if (m) return { childPid: child.pid, grandchildPid: Number(m[1]) };
  }
  throw new Error('the child process ended before reporting its grandchild');
}
