/** Named forms (see src/domain/redact.ts): key=value, --flag value, "key": "value", Header: value. */
import { isSecretFlag, isSecretName, nameWords } from './names.js';
import {
  type Ctx,
  backslashesBefore,
  scanTo,
  escapedAt,
  escQuotedValue,
  isBlank,
  isEol,
  isNameCode,
  isQuote,
  isSpace,
  push,
  quotedValue,
  skipBlanks,
  valueAt,
} from './scan.js';

const KV_STOPS = `&;,'"`;
const FLAG_STOPS = `'";&|`;
// ---------------------------------------------------------------------------------------------
// Named forms: key=value, --flag value, "key": "value", Header: value

/** The quote right before position i: `"`, `'`, `\"` (escaped, inside a JSON string) or ''. */
function quoteBefore(text: string, i: number): string {
  const c = text[i - 1];
  if (c === '"' && backslashesBefore(text, i - 1) % 2 === 1) return '\\"';
  return isQuote(c) ? c : '';
}

/** Whether only blanks stand between i and the start of a line (also an escaped `\n` in JSON text). */
function atLineStart(text: string, i: number): boolean {
  let p = i - 1;
  while (isBlank(text[p])) p--;
  return p < 0 || isEol(text[p]) || (escapedAt(text, p) && (text[p] === 'n' || text[p] === 'r'));
}

/** `"name": "value"`, `'name': 'value'`, `\"name\":\"value\"`, `["--flag", "value"]`. */
function quotedKeyForm(ctx: Ctx, name: string, q: string, p: number): number | undefined {
  const { text } = ctx;
  let k = skipBlanks(text, p);
  const sep = text[k];
  if (sep !== ':' && !(sep === ',' && isSecretFlag(name))) return undefined;
  if (!isSecretName(name)) return undefined;
  k = skipBlanks(text, k + 1);
  if (q === '\\"') return text.startsWith('\\"', k) ? escQuotedValue(ctx, k) : undefined;
  return isQuote(text[k]) ? quotedValue(ctx, k) : undefined;
}

/** End of a header value: the end of the line, a quote, or an escaped newline. */
const headerEnd = (text: string, p: number, quote: string): number =>
  scanTo(text, p, (c) => isEol(c) || c === '"' || c === quote);

/** `Name: value` (see the top for where it counts). */
function headerForm(ctx: Ctx, name: string, i: number, p: number): number | undefined {
  const { text } = ctx;
  if (name.startsWith('-') || !isSecretName(name)) return undefined;
  let vs = skipBlanks(text, p);
  if (isQuote(text[vs])) return quotedValue(ctx, vs); // `{ password: 'x' }` (util.inspect) anywhere
  const q = quoteBefore(text, i);
  const anywhere = name.includes('-') || /^(authorization|cookie)$/i.test(name);
  if (!anywhere && !q && !atLineStart(text, i)) return undefined;
  const ve = headerEnd(text, vs, q === "'" ? "'" : '"');
  let end = ve;
  while (end > vs && isSpace(text[end - 1])) end--;
  const scheme = /^[A-Za-z][A-Za-z0-9-]*[ \t]+(?=\S)/.exec(text.slice(vs, Math.min(end, vs + 40)));
  if (scheme && nameWords(name).pop() === 'authorization') vs += scheme[0].length;
  push(ctx, vs, end);
  return ve;
}

/** Tries the named forms for the name text[i, j); returns where to go on, or undefined. */
function namedForm(ctx: Ctx, i: number, j: number): number | undefined {
  const { text } = ctx;
  const name = text.slice(i, j);
  const q = quoteBefore(text, i);
  if (q && text.startsWith(q, j)) {
    const r = quotedKeyForm(ctx, name, q, j + q.length);
    if (r !== undefined) return r;
  }
  const k = skipBlanks(text, j);
  if (text[k] === '=' && text[k + 1] !== '=') {
    return isSecretName(name) ? valueAt(ctx, skipBlanks(text, k + 1), KV_STOPS) : undefined;
  }
  if (text[j] === ':' && isBlank(text[j + 1])) return headerForm(ctx, name, i, j + 1);
  if (isBlank(text[j]) && isSecretFlag(name)) {
    const v = skipBlanks(text, j);
    return v < text.length && !isEol(text[v]) ? valueAt(ctx, v, FLAG_STOPS) : undefined;
  }
  return undefined;
}

export function tokenSpans(ctx: Ctx): void {
  const { text, urls } = ctx;
  let i = 0;
  let u = 0;
  while (i < text.length) {
    while (u < urls.length && urls[u + 1] <= i) u += 2;
    if (u < urls.length && urls[u] <= i) {
      i = urls[u + 1];
      continue;
    }
    if (!isNameCode(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < text.length && isNameCode(text.charCodeAt(j))) j++;
    // `\npassword=…` in JSON text: the name starts after the escape.
    const start = escapedAt(text, i) ? Math.min(j, i + (text[i] === 'u' ? 5 : 1)) : i;
    const next = start < j ? namedForm(ctx, start, j) : undefined;
    i = next !== undefined && next > j ? next : j;
  }
}
