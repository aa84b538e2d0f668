/** Redaction of a JSON-like value (see src/domain/redact.ts). */
import { isSecretName } from './names.js';
import { REDACTED } from './scan.js';
import { redactSecrets } from './text.js';
function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

interface Walk {
  known: readonly string[];
  done: Map<object, unknown>;
  active: Set<object>;
}

function walkObject(o: object, w: Walk): unknown {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [
      redactSecrets(k, w.known),
      typeof v === 'string' && v !== '' && isSecretName(k) ? REDACTED : walk(v, w),
    ]),
  );
}

function walk(v: unknown, w: Walk): unknown {
  if (typeof v === 'string') return redactSecrets(v, w.known);
  if (v === null || typeof v !== 'object') return v;
  if (w.active.has(v)) return REDACTED;
  if (w.done.has(v)) return w.done.get(v);
  if (!Array.isArray(v) && !isPlainObject(v)) return v;
  w.active.add(v);
  const out = Array.isArray(v) ? v.map((x) => walk(x, w)) : walkObject(v, w);
  w.active.delete(v);
  w.done.set(v, out);
  return out;
}

/**
 * A redacted copy of a JSON-like value: every string (keys too) through redactSecrets, and the
 * non-empty string value of every secret-named key replaced by `***`. Numbers, booleans and
 * null stay; objects that are neither arrays nor plain are returned as they are. Never
 * mutates. A reference back to an enclosing object (a cycle) becomes `***`; an object shared
 * by several parents is redacted once and shared in the copy.
 */
export function redactDeep<T>(value: T, known: readonly string[] = []): T {
  try {
    return walk(value, { known, done: new Map(), active: new Set() }) as T;
  } catch {
    return REDACTED as T;
  }
}
