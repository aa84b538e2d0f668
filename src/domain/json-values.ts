/**
 * Value coercion for the session JSON (report-json.ts): pg returns bigint as string, activity
 * payloads turn Dates into strings, and the output must be plain JSON. Pure: no Node builtins,
 * no I/O — it also runs inside Temporal's workflow sandbox.
 */

/** A finite number, or null (null/undefined/garbage/NaN/±Infinity). */
export function toNum(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && v.trim() !== '') n = Number(v);
  else return null;
  return Number.isFinite(n) ? n : null;
}

export const toStr = (v: unknown): string | null =>
  typeof v === 'string' ? v : v === null || v === undefined ? null : String(v);

/** ISO 8601 of a Date, an ISO string or epoch milliseconds; null when absent or invalid. */
export function toIso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  const d = v instanceof Date ? v : typeof v === 'number' ? new Date(v) : null;
  return d !== null && Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/** Code-unit order: deterministic, locale-independent. */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sets an own enumerable property, so keys such as `__proto__` stay ordinary data. */
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function toArray(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  return [];
}

/** Distinct strings, first occurrence order (the original's sets). */
export function uniqStrings(v: unknown): string[] {
  const seen = new Set<string>();
  for (const x of toArray(v)) if (typeof x === 'string') seen.add(x);
  return [...seen];
}

export function countRecord(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v && typeof v === 'object') {
    for (const [k, c] of Object.entries(v)) {
      const n = toNum(c);
      if (n !== null) setOwn(out, k, n);
    }
  }
  return out;
}

/**
 * A deep copy that is plain JSON: undefined/functions dropped (null inside arrays, like
 * JSON.stringify), non-finite numbers → null, bigint → number (string if unsafe),
 * Date → ISO, Set → array, Map → object, cycles → null.
 */
export function jsonSafe(v: unknown, path: object[] = []): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v !== 'object') return undefined;
  if (v instanceof Date) return toIso(v);
  if (path.includes(v)) return null;
  const inner = [...path, v];
  if (Array.isArray(v) || v instanceof Set) {
    return [...(v as Iterable<unknown>)].map((x) => jsonSafe(x, inner) ?? null);
  }
  const out: Record<string, unknown> = {};
  const entries = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x]) : Object.entries(v);
  for (const [k, x] of entries) {
    const safe = jsonSafe(x, inner);
    if (safe !== undefined) setOwn(out, k as string, safe);
  }
  return out;
}

/** Two decimals. */
export const round2 = (n: number): number => Math.round(n * 100) / 100;
