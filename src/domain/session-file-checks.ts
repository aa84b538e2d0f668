/**
 * Field checks for reading a session file (session-file.ts): each known field is kept when it
 * has the expected type, else it gets its default and a note. Pure: no Node APIs, no I/O.
 */
import { jsonSafe, setOwn } from './json-values.js';

export type Rec = Record<string, unknown>;
export interface Check {
  what: string;
  ok: (v: unknown) => boolean;
}
export const isObj = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
export const has = (o: Rec, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
export const STR: Check = { what: 'a string', ok: (v) => typeof v === 'string' };
export const NUM: Check = { what: 'a number', ok: (v) => typeof v === 'number' && Number.isFinite(v) };
export const BOOL: Check = { what: 'true or false', ok: (v) => typeof v === 'boolean' };
export const OBJ: Check = { what: 'an object', ok: isObj };
export const ARR: Check = { what: 'an array', ok: Array.isArray };
export const orNull = (c: Check): Check => ({ what: `${c.what} or null`, ok: (v) => v === null || c.ok(v) });
export const S = orNull(STR);
export const N = orNull(NUM);

/** A short description of a JSON value for a note or an error. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

/** What reading a file noticed: repairs (one sentence each) and missing fields given their default. */
export interface Ctx {
  notes: string[];
  missing: string[];
}

/** Reads one field: its value when it passes `check`, else `dflt` (noted when wrong; listed when missing and `noteMissing`). */
export function pick(
  o: Rec,
  key: string,
  check: Check,
  dflt: unknown,
  at: string,
  ctx: Ctx,
  noteMissing: boolean,
) {
  if (!has(o, key)) {
    if (noteMissing) ctx.missing.push(`${at}${key}`);
    return dflt;
  }
  if (check.ok(o[key])) return o[key];
  ctx.notes.push(`${at}${key}: expected ${check.what}, got ${describe(o[key])} → ${JSON.stringify(dflt)}`);
  return dflt;
}

/** Distinct strings (the original's sets); other items dropped with a note. */
export function stringList(o: Rec, key: string, ctx: Ctx, noteMissing: boolean): string[] {
  const items = pick(o, key, ARR, [], '', ctx, noteMissing) as unknown[];
  const kept = new Set(items.filter((x): x is string => typeof x === 'string'));
  const bad = items.filter((x) => typeof x !== 'string').length;
  if (bad > 0) ctx.notes.push(`${key}: ${bad} item(s) that are not strings dropped`);
  return [...kept];
}

/** An object whose values pass `check`; other entries dropped with a note. */
export function record(o: Rec, key: string, check: Check, ctx: Ctx, noteMissing: boolean): Rec {
  const src = pick(o, key, OBJ, {}, '', ctx, noteMissing) as Rec;
  const out: Rec = {};
  let bad = 0;
  for (const [k, v] of Object.entries(src)) {
    if (check.ok(v)) setOwn(out, k, v);
    else bad++;
  }
  if (bad > 0)
    ctx.notes.push(`${key}: ${bad} entr${bad === 1 ? 'y' : 'ies'} whose value is not ${check.what} dropped`);
  return out;
}

/** Unknown fields of `src`, copied (as plain JSON) after the known ones in `out`. */
export function keepExtras(src: Rec, out: Rec): void {
  for (const k of Object.keys(src)) if (!has(out, k)) setOwn(out, k, jsonSafe(src[k]) ?? null);
}

/** Entries with every field of `fields` passing its check; others dropped with a note. */
export function entries<T>(
  o: Rec,
  key: string,
  fields: Record<string, Check>,
  ctx: Ctx,
  noteMissing: boolean,
) {
  const items = pick(o, key, ARR, [], '', ctx, noteMissing) as unknown[];
  const ok = items.filter((x): x is Rec => isObj(x) && Object.entries(fields).every(([k, c]) => c.ok(x[k])));
  if (ok.length < items.length)
    ctx.notes.push(`${key}: ${items.length - ok.length} malformed entr(ies) dropped`);
  return ok.map((x) => Object.fromEntries(Object.keys(fields).map((k) => [k, x[k]])) as T);
}
