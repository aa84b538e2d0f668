/**
 * CPU seconds used on this machine between two readings, by process, from /proc (Linux): what
 * a benchmark's phases cost the worker (this process, its workflow threads included), the
 * processes it started and waited for (each try's supervisor and executor), the Temporal
 * server and PostgreSQL. For benchmarks only: prints figures, asserts nothing.
 */
import { procPids, procStat } from '../src/runtime/proc.js';

type Reading = Map<string, number>;

/** CPU seconds so far by process name; this process and its reaped children under names of their own. */
export function readCpu(): Reading {
  const out: Reading = new Map();
  const add = (k: string, v: number) => out.set(k, (out.get(k) ?? 0) + v);
  for (const pid of procPids()) {
    const s = procStat(pid);
    if (!s) continue;
    if (pid === process.pid) {
      add('worker (this process)', s.cpuSeconds);
      add('its children (supervisors, executors)', s.childrenCpuSeconds);
    } else {
      // Kernel worker threads rename themselves by the work they do (kworker/u8:2-writeback …).
      add(s.comm.startsWith('kworker/') ? 'kernel workers (writeback, cgroups …)' : s.comm, s.cpuSeconds);
    }
  }
  return out;
}

/** What was used between two readings, per `per` (e.g. phases), largest first, as one line. */
export function cpuLine(from: Reading, to: Reading, per: number, perWhat: string): string {
  const used = [...to]
    .map(([k, v]) => [k, v - (from.get(k) ?? 0)] as const)
    .filter(([, v]) => v >= 0.01 * per)
    .sort((a, b) => b[1] - a[1]);
  const total = used.reduce((s, [, v]) => s + v, 0);
  const ms = (v: number) => `${((v / per) * 1000).toFixed(0)} ms`;
  return `CPU per ${perWhat}: ${ms(total)} — ${used.map(([k, v]) => `${k} ${ms(v)}`).join(', ')}`;
}
