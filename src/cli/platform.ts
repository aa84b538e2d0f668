/**
 * Where the commands that run a worker (`drain worker`, `drain dev`, `drain demo`) can run. Pure:
 * the platform is an argument.
 *
 * The worker controls executors with POSIX process groups and signals (kill(-pgid)), and on
 * Linux also with cgroups v2 (cgroup.kill) and /proc: the scan for processes carrying a try's
 * DRAIN_ATTEMPT_TAG that escaped the group, the reaping of executors a dead worker left, pid
 * liveness (src/runtime/process-group.ts, containment.ts, orphans.ts).
 * - linux: all of it.
 * - win32: none of it exists; the commands stop at once (exit 2) and say how to run them in WSL2.
 * - any other platform (darwin): they run, with a warning of what is missing there: process
 *   groups and signals work, everything that reads /proc or uses cgroups does not.
 * Client commands (start, status, watch, list, …) run anywhere and never consult this.
 *
 * DRAIN_SIMULATE_PLATFORM is TEST-ONLY: when set, hostPlatform() returns it instead of
 * process.platform, so that a test on Linux can run the Windows refusal end to end
 * (test/e2e/cli-platform.test.ts). It is read here only, changes nothing but these checks, and is
 * not an operator setting.
 */

/** The commands that run a worker in this process. */
export const WORKER_COMMANDS: readonly string[] = ['worker', 'dev', 'demo'];

/** process.platform, or DRAIN_SIMULATE_PLATFORM when a test sets it (see above). */
export function hostPlatform(env: NodeJS.ProcessEnv = process.env): string {
  return env.DRAIN_SIMULATE_PLATFORM || process.platform;
}

/** Why `drain <command>` cannot run a worker on `platform`, with what to do instead; null when it can. */
export function workerRefusal(platform: string, command = 'worker'): string | null {
  if (platform !== 'win32') return null;
  return [
    `\`drain ${command}\` does not run on Windows: the worker controls executors with POSIX process groups and signals, /proc and cgroups, which Windows does not have. Run it in WSL2:`,
    '  1. Install WSL2 and a Linux distribution (PowerShell as administrator: wsl --install -d Ubuntu).',
    "  2. Keep the project, the Autopack checkout and any SQLite .db backlog on WSL's own file system (e.g. ~/autopack), not under /mnt/c: SQLite's file locking is unsafe there (the Windows drive is shared into WSL over a network file system) and every access is slow.",
    `  3. In the WSL shell, in the project: npm ci, then drain ${command}.`,
    'Client commands (drain start, status, watch, list, pause, resume, stop, cancel, summary, verify, report, schedule, …) may stay on Windows: set TEMPORAL_ADDRESS to the Temporal server the WSL worker uses (WSL2 forwards localhost ports to Windows by default, e.g. 127.0.0.1:7233). See README.md, "Running from Windows".',
  ].join('\n');
}

/** What `drain <command>` cannot do on `platform` (not Linux, not Windows); null on Linux and Windows. */
export function workerWarning(platform: string, command = 'worker'): string | null {
  if (platform === 'linux' || platform === 'win32') return null;
  const name = platform === 'darwin' ? 'macOS (darwin)' : platform;
  const parts = [
    `on ${name}, \`drain ${command}\` contains executors by their process group only (SIGTERM, then SIGKILL to the group). Without /proc and cgroups, processes that leave the group (setsid, double forks) are not ended, executors left running by a crashed worker are not reaped when a worker starts again, and an earlier try's group is ended without checking that it is still that try's own.`,
  ];
  if (command !== 'worker')
    parts.push(
      'Process liveness is read from /proc as well, so embedded services (the Temporal dev server, the embedded Postgres) are neither found running nor stopped reliably: prefer `drain worker` against your own Postgres (DATABASE_URL) and Temporal (TEMPORAL_ADDRESS).',
    );
  parts.push('Linux (or WSL2, or a Linux container) is the supported platform for workers.');
  return parts.join(' ');
}
