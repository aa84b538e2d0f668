/**
 * The one reader of /proc (Linux): the fields of a process's stat line, its start on the boot
 * clock, command line, environment, cgroup, pid namespace and children, the boot clock, and
 * liveness. Every reader returns null (or an empty list) when the process is gone or the file
 * cannot be read; none throws. Elsewhere than on Linux every read comes back empty.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A file under /proc (`<pid>/stat`, `uptime`) as text, or null when it cannot be read. */
export function readProc(file: string): string | null {
  try {
    return readFileSync(`/proc/${file}`, 'utf8');
  } catch {
    return null; // the process ended (or never was), or no /proc
  }
}

/** The pids /proc lists (every process of this PID namespace); [] when it cannot be read. */
export function procPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}

/** USER_HZ, the unit of starttime and the CPU times in /proc/<pid>/stat: 100 on every Linux architecture we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  /** The state letter (R, S, D, Z, X, …). */
  state: string;
  ppid: number;
  pgrp: number;
  /** starttime (field 22): clock ticks since boot. */
  startTicks: number;
  /** The command name (comm, at most 15 characters). */
  comm: string;
  /** CPU seconds the process used (utime + stime), and those of its children it waited for. */
  cpuSeconds: number;
  childrenCpuSeconds: number;
}

/** The fields of /proc/<pid>/stat we use, or null when the process is gone. */
export function procStat(pid: number | string): ProcStat | null {
  const stat = readProc(`${pid}/stat`);
  if (stat === null) return null;
  // pid (comm) state ppid pgrp ... ; comm may contain spaces and parentheses
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (...i: number[]) => i.reduce((s, k) => s + Number(rest[k]), 0) / CLOCK_TICKS_PER_SECOND;
  return {
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    startTicks: Number(rest[19]),
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    cpuSeconds: ticks(11, 12),
    childrenCpuSeconds: ticks(13, 14),
  };
}

/** Alive: not gone, not a zombie (PID 1 in a container may never reap orphans). */
export const isLiveStat = (s: Pick<ProcStat, 'state'> | null): boolean =>
  s !== null && s.state !== 'Z' && s.state !== 'X';

/** Is `pid` alive? A zombie is not. Linux. */
export function isProcessAlive(pid: number): boolean {
  return isLiveStat(procStat(pid));
}

/** The boot clock (CLOCK_BOOTTIME), ms since boot (/proc/uptime), or null where it cannot be read. */
export function bootMs(): number | null {
  const text = readProc('uptime');
  if (text === null) return null;
  const up = Number(text.split(' ')[0]);
  return Number.isFinite(up) ? Math.round(up * 1000) : null;
}

/** When a process started, ms since boot (starttime of /proc/<pid>/stat), or null when gone. */
export function processStartBootMs(pid: number): number | null {
  const ticks = procStat(pid)?.startTicks;
  return ticks !== undefined && Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : null;
}

/** argv of a process (/proc/<pid>/cmdline; [] for a kernel thread), or null when it is gone. */
export function procArgv(pid: number | string): string[] | null {
  const text = readProc(`${pid}/cmdline`);
  if (text === null) return null;
  const argv = text.split('\0');
  if (argv[argv.length - 1] === '') argv.pop();
  return argv;
}

/** The command line as one line (empty arguments left out); '' when the process is gone. */
export function procCommandLine(pid: number | string): string {
  return (procArgv(pid) ?? []).filter(Boolean).join(' ');
}

/** /proc/<pid>/environ as bytes (`NAME=value` entries, NUL-separated), or null when unreadable. */
export function procEnviron(pid: number | string): Buffer | null {
  try {
    return readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
}

/** The `NAME=value` entries of a process's environment, or null when unreadable. */
export function procEnvEntries(pid: number | string): string[] | null {
  return procEnviron(pid)?.toString('utf8').split('\0') ?? null;
}

/** Does an environ buffer hold exactly the entry `entry` (`NAME=value`)? */
export function environHas(env: Buffer, entry: Buffer): boolean {
  for (let i = env.indexOf(entry); i >= 0; i = env.indexOf(entry, i + 1)) {
    const starts = i === 0 || env[i - 1] === 0;
    const ends = i + entry.length === env.length || env[i + entry.length] === 0;
    if (starts && ends) return true;
  }
  return false;
}

/** The text of /proc/<pid>/cgroup, or null when unreadable. */
export function procCgroup(pid: number | 'self'): string | null {
  return readProc(`${pid}/cgroup`);
}

/** The cgroup v2 path of a process (the `0::/path` line), or null when it has none or is gone. */
export function procCgroupV2(pid: number | 'self'): string | null {
  const text = procCgroup(pid);
  return text === null ? null : (/^0::(.*)$/m.exec(text)?.[1] ?? null);
}

/** The text of /proc/self/mountinfo, or null when unreadable. */
export function selfMountinfo(): string | null {
  return readProc('self/mountinfo');
}

/** The PID namespace of a process (`pid:[4026531836]`), or null when it is gone. */
export function pidNamespace(pid: number | 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** A process's pid in the innermost PID namespace it is in (NSpid's last field), or null. */
export function innermostPid(pid: number): number | null {
  const line = readProc(`${pid}/status`)
    ?.split('\n')
    .find((l) => l.startsWith('NSpid:'));
  const ids = line?.slice(6).trim().split(/\s+/).map(Number) ?? [];
  return ids.length ? ids[ids.length - 1] : null;
}

/** The children of a process's main thread (/proc/<pid>/task/<pid>/children); [] when it is gone. */
export function taskChildren(pid: number): number[] {
  const text = readProc(`${pid}/task/${pid}/children`);
  return text === null ? [] : text.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Processes whose parent is `pid` (the ppid of every process's stat line). */
export function childrenByParent(pid: number): number[] {
  return procPids().filter((p) => procStat(p)?.ppid === pid);
}
