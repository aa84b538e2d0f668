/**
 * One display line of an arbitrary string (ids, reasons, errors from the database or an
 * executor): control characters, line separators and bidi overrides are escaped as \uXXXX
 * (\n, \r, \t as such), so a value can neither break a line nor rewrite the terminal.
 */

// C0, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function oneLine(s: string | null | undefined): string {
  if (s === null || s === undefined) return '';
  return String(s).replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
