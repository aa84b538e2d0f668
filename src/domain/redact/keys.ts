/** PEM private key blocks and the `known` literal values (see src/domain/redact.ts). */
import { safeDecode } from './urls.js';
import { type Ctx, finder, isSpace, push } from './scan.js';

const MIN_KNOWN = 4;
// ---------------------------------------------------------------------------------------------
// PEM private keys and known values

/** Moves s forward and e back over whitespace and `\n`/`\r` escapes. */
function trimmed(text: string, s: number, e: number): [number, number] {
  const escNl = (p: number) => text[p] === '\\' && (text[p + 1] === 'n' || text[p + 1] === 'r');
  for (;;) {
    if (s < e && isSpace(text[s])) s++;
    else if (s + 1 < e && escNl(s)) s += 2;
    else if (e > s && isSpace(text[e - 1])) e--;
    else if (e - 2 >= s && escNl(e - 2)) e -= 2;
    else return [s, e];
  }
}

export function pemSpans(ctx: Ctx): void {
  const { text } = ctx;
  const begin = '-----BEGIN ';
  const endMark = finder(text, '-----END ');
  let from = 0;
  for (;;) {
    const b = text.indexOf(begin, from);
    if (b < 0) return;
    const labelStart = b + begin.length;
    const close = text.slice(labelStart, labelStart + 80).indexOf('-----');
    if (close < 0 || !text.slice(labelStart, labelStart + close).endsWith('PRIVATE KEY')) {
      from = labelStart;
      continue;
    }
    const body = labelStart + close + 5;
    const found = endMark(body);
    const end = found < 0 ? text.length : found;
    const [s, e] = trimmed(text, body, end);
    push(ctx, s, e);
    from = Math.max(end, body);
  }
}

function jsonInner(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

function encoded(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The forms of the known values to look for: as given, percent-decoded/-encoded, JSON-escaped. */
function knownForms(known: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const v of known) {
    if (typeof v !== 'string' || v.length < MIN_KNOWN) continue;
    for (const f of [v, safeDecode(v), encoded(v), jsonInner(v)]) if (f.length >= MIN_KNOWN) forms.add(f);
  }
  return [...forms];
}

export function knownSpans(ctx: Ctx, known: readonly string[]): void {
  const { text } = ctx;
  for (const v of knownForms(known)) {
    for (let p = text.indexOf(v); p >= 0; p = text.indexOf(v, p + v.length)) {
      // `\n` + value: take the backslash along rather than leave a broken escape.
      const start = text[p - 1] === '\\' && text[p - 2] !== '\\' ? p - 1 : p;
      push(ctx, start, p + v.length);
    }
  }
}
