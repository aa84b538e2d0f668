/**
 * Default drain session id (also the workflow id): `batch-drain-YYYYMMDD-HHMMSS` in UTC.
 * Pure: the caller passes the time (workflow time, or `new Date()` in the CLI).
 */

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `batch-drain-20251228-060007` for 2025-12-28T06:00:07Z. Throws on an invalid Date. */
export function defaultSessionId(d: Date): string {
  const t = d !== null && typeof d?.getTime === 'function' ? d.getTime() : NaN;
  if (!Number.isFinite(t)) throw new Error('defaultSessionId: invalid date');
  const date = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `batch-drain-${date}-${time}`;
}
