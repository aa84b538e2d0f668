/**
 * The small text formats of autopack-drain's output, one owner each: durations (three
 * spellings, each asserted where it is printed), bytes, plurals, fixed decimals, rounding and
 * attempt labels. Tables are src/domain/text-table.ts. Pure: no Node builtins, no I/O.
 */

/** Compact clock-like duration of `drain watch` and schedules: `42s`, `2m10s`, `1h05m`; `?` for a negative or non-finite value. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** An age in its two largest units, spaced (`drain tidy`): `3d 4h`, `5h 12m`, `12m 3s`, `45s`. */
export function formatAge(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  const [d, h, m] = [Math.floor(s / 86_400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d > 0) return h ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  return `${s}s`;
}

/** Plain seconds as recorded: `130s`; `n/a` for null. */
export const formatSeconds = (n: number | null): string => (n === null ? 'n/a' : `${n}s`);

/** `512 B`, `1.5 KiB`, `12.0 MiB`, `3.2 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i]}`;
}

/** `1 path`, `3 paths`, `0 temp files`; `many` for an irregular plural. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `n` with `digits` decimals; `missing` (default zero, `0.00`) for null or a non-finite number. */
export const fixed = (n: number | null, digits: number, missing = (0).toFixed(digits)): string =>
  n === null || !Number.isFinite(n) ? missing : n.toFixed(digits);

/** Rounded to 3 decimals (null stays null). */
export function round3(x: number): number;
export function round3(x: number | null): number | null;
export function round3(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1000) / 1000;
}

interface AttemptRef {
  runId: string;
  phaseId: string;
  attempt: number;
  tryNo: number;
}

const tryPart = (tryNo: number): string => (tryNo > 1 ? ` try ${tryNo}` : '');

/** `run/phase attempt 2` (plus ` try 3` after the first try), as `drain verify` names a try. */
export const attemptLabel = (a: AttemptRef): string =>
  `${a.runId}/${a.phaseId} attempt ${a.attempt}${tryPart(a.tryNo)}`;
