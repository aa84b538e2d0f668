/**
 * The scanner shared by the secret finders of src/domain/redact.ts: its state (the spans found,
 * search caches), character tests and searches, and the values after a secret name (quoted,
 * escaped-quoted inside a JSON string, or bare).
 */

/** The replacement for every secret. */
export const REDACTED = '***';

/** A secret value: text[start, end) is replaced by `with` (default REDACTED). */
export interface Span {
  start: number;
  end: number;
  with?: string;
}

/** Scanner state: the spans found and caches that keep failing searches linear. */
export interface Ctx {
  text: string;
  spans: Span[];
  /** The URLs found, [start, end) pairs in order: the token scanner leaves them to the URL parser. */
  urls: number[];
  quoteFail: Record<string, number>;
  escQuote: Finder;
  eolN: Finder;
  eolR: Finder;
}

type Finder = (from: number) => number;

// ---------------------------------------------------------------------------------------------
// Characters and searches

export function isNameCode(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45
  );
}

export function isSchemeCode(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 46 || c === 45
  );
}

export const isLetter = (ch: string | undefined): boolean => ch !== undefined && /^[A-Za-z]$/.test(ch);
export const isBlank = (ch: string | undefined): boolean => ch === ' ' || ch === '\t';
export const isEol = (ch: string | undefined): boolean => ch === '\n' || ch === '\r';
export const isSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
export const isQuote = (ch: string | undefined): boolean => ch === '"' || ch === "'";

/**
 * `indexOf(needle, from)` for non-decreasing `from` (mostly): remembers the last answer, so
 * many searches over the same stretch cost one scan.
 */
export function finder(text: string, needle: string): Finder {
  let lastFrom = Infinity;
  let lastAt = -1;
  return (from) => {
    if (from >= lastFrom && (lastAt < 0 || from <= lastAt)) return lastAt;
    lastFrom = from;
    lastAt = text.indexOf(needle, from);
    return lastAt;
  };
}

function eolAfter(ctx: Ctx, from: number): number {
  const n = ctx.eolN(from);
  const r = ctx.eolR(from);
  if (n < 0) return r < 0 ? ctx.text.length : r;
  return r < 0 ? n : Math.min(n, r);
}

export function skipBlanks(text: string, p: number): number {
  while (isBlank(text[p])) p++;
  return p;
}

/** The backslash run at p: its end, and whether it ends in `n`, `r`, `t` or `"` (a JSON escape). */
export function escapeRun(text: string, p: number): { stop: boolean; end: number } {
  let q = p + 1;
  while (text[q] === '\\') q++;
  const c = text[q];
  return { stop: c === 'n' || c === 'r' || c === 't' || c === '"', end: q };
}

/**
 * From p, the first position where `isStop` holds for the character, or where an escaped
 * newline/tab/quote starts (a backslash run ending in `n`, `r`, `t` or `"`); else the end.
 */
export function scanTo(text: string, p: number, isStop: (c: string) => boolean): number {
  while (p < text.length) {
    const c = text[p];
    if (isStop(c)) return p;
    if (c !== '\\') {
      p++;
      continue;
    }
    const run = escapeRun(text, p);
    if (run.stop) return p;
    p = run.end;
  }
  return p;
}

/** End of a bare word: whitespace, a stop character, or an escaped newline/tab/quote. */
const bareEnd = (text: string, p: number, stops: string): number =>
  scanTo(text, p, (c) => isSpace(c) || stops.includes(c));

/**
 * Records text[start, end) as secret. Unless the span is a complete quoted string, trailing
 * backslashes stay outside it: they may escape the character after it (JSON text stays valid).
 */
export function push(ctx: Ctx, start: number, end: number, replacement?: string, complete = false): void {
  while (!complete && end > start && ctx.text[end - 1] === '\\') end--;
  if (end > start)
    ctx.spans.push(replacement === undefined ? { start, end } : { start, end, with: replacement });
}

export function backslashesBefore(text: string, p: number): number {
  let n = 0;
  while (text[p - 1 - n] === '\\') n++;
  return n;
}

/**
 * Whether text[p] is the letter of a backslash escape (`\n`, `\u00e9`): after any backslash
 * run, as `\\n` is the newline of JSON text inside a JSON string.
 */
export const escapedAt = (text: string, p: number): boolean => text[p - 1] === '\\';

// ---------------------------------------------------------------------------------------------
// Values: quoted (with backslash escapes), escaped-quoted (inside a JSON string) or bare

/** Index of the quote closing the one at k on the same line, or -1. Failures are cached per quote. */
function closingQuote(ctx: Ctx, k: number): number {
  const { text } = ctx;
  const q = text[k];
  // An earlier scan for q failed at quoteFail[q]; a later opener before that point was
  // escaped in that scan, so the scan from it is a suffix of the failed one.
  if (k < (ctx.quoteFail[q] ?? -1)) return -1;
  let p = k + 1;
  for (; p < text.length; p++) {
    const c = text[p];
    if (c === '\\') p++;
    else if (c === q) return p;
    else if (isEol(c)) break;
  }
  ctx.quoteFail[q] = p;
  return -1;
}

export function quotedValue(ctx: Ctx, k: number): number {
  const q = ctx.text[k];
  const close = closingQuote(ctx, k);
  if (close >= 0) {
    push(ctx, k + 1, close, undefined, true);
    return close + 1;
  }
  const end = bareEnd(ctx.text, k + 1, q === "'" ? '"' : '');
  push(ctx, k + 1, end, REDACTED + q);
  return end;
}

/**
 * A value opened by `\"` (JSON inside a JSON string) ends at the next `"` on the line with
 * 1, 5, 9 … backslashes before it: the encoding of a closing quote after 0, 2, 4 … (an escaped
 * quote inside the value has 3, 7 …).
 */
export function escQuotedValue(ctx: Ctx, k: number): number {
  const { text } = ctx;
  let close = ctx.escQuote(k + 2);
  while (close >= 0 && (backslashesBefore(text, close + 1) - 1) % 4 !== 0) close = ctx.escQuote(close + 2);
  if (close >= 0 && close < eolAfter(ctx, k)) {
    push(ctx, k + 2, close, undefined, true);
    return close + 2;
  }
  const end = bareEnd(text, k + 2, '"');
  push(ctx, k + 2, end, REDACTED + '\\"');
  return end;
}

export function valueAt(ctx: Ctx, k: number, stops: string): number {
  const { text } = ctx;
  if (isQuote(text[k])) return quotedValue(ctx, k);
  if (text[k] === '\\' && text[k + 1] === '"') return escQuotedValue(ctx, k);
  const end = bareEnd(text, k, stops);
  push(ctx, k, end);
  return end;
}
