/**
 * The one secret redaction of autopack-drain, for anything that may be logged, stored or
 * shown: log lines, error messages, JSON text, argv, session records.
 *
 * Pure (no Node APIs, no `URL`/`URLSearchParams`): it also runs in the Temporal workflow
 * sandbox. Parse, don't pattern-match: small scanners find the secret *values* as spans of
 * the original text, and only those spans are replaced by `***`; every other byte stays as it
 * was (no re-encoding, no normalisation), so text without secrets comes back byte-identical.
 * Redaction is idempotent, never throws (an internal error yields `***`) and runs in linear
 * time: each scanner moves forward only, and searches that can fail are cached.
 *
 * Forms found in free text:
 * 1. URL userinfo `scheme://user:password@host`. The user runs to the first `:`, the password
 *    to the LAST `@` before the first `/`, so unencoded `@` and `:` in passwords are covered;
 *    `http://host:8080/@scope/pkg` and `mailto:` are not userinfo. A password with an
 *    unencoded `/` is not URL syntax and is not found (pass it in `known`).
 * 2. URL query and fragment parameters with a secret name (`?password=`, `&sslpassword=`,
 *    `?token=`, `#access_token=`) and `;` path parameters (`jdbc:sqlserver://h;password=x`);
 *    the name is percent-decoded before the check. A URL ends at whitespace, a quote, `<`,
 *    `>`, a backquote, an escaped newline/quote of JSON text, or the start of the next URL.
 *    Text inside a URL is left to this parser (the other forms do not look into it).
 * 3. key=value pairs — libpq conninfo (`host=db password='a b\'c'`), env assignments
 *    (`PGPASSWORD=x`, `export GITHUB_TOKEN=…`), form bodies (`a=1&token=x`), `--flag=value`.
 *    A value is quoted (single or double, backslash escapes, on one line; an unterminated
 *    quote runs to the end of the word and is closed in the output) or bare, ending at
 *    whitespace, one of `& ; , ' "`, or a JSON escape (`\n`, `\t`, `\"`) of JSON text.
 * 4. CLI flags with a separate value: `--password X`, `-token "a b"`; `--no-…` flags are
 *    boolean and keep their next word. `-p` and other one-letter flags are too ambiguous.
 * 5. JSON / Python dict keys: `"password": "x"`, `'token': 'x'`, the escaped form inside a
 *    JSON string (`\"token\":\"x\"`) and argv arrays (`["--password","x"]`). Only string
 *    values are redacted.
 * 6. Headers, YAML, JS objects: `Name: value` (a blank after the colon) with a secret name.
 *    A quoted value counts anywhere (`{ password: 'x' }`, as util.inspect prints it); an
 *    unquoted one at the start of a line or after a quote, and anywhere for names with a `-`
 *    (`X-Api-Key`) and `Authorization`/`Cookie`. An unquoted value runs to the end of the line
 *    or a quote; `Authorization: Bearer …` keeps its scheme word.
 * 7. PEM private key blocks: the body between `-----BEGIN … PRIVATE KEY-----` and `-----END`.
 * 8. `known` literal values (the worker's own secrets), wherever they appear, also in their
 *    percent-decoded, percent-encoded and JSON-escaped forms; values under 4 chars are ignored.
 * Spans never keep a dangling backslash, so redacted JSON text stays valid JSON.
 *
 * Secret names (isSecretName): the name is split into words on non-alphanumerics and camelCase
 * (`OPENAI_API_KEY`, `x-api-key`, `apiKey`, `sslPassword`), trailing digits dropped; the LAST
 * word decides. Secret if it is one of password passwd pwd pass passphrase secret token auth
 * authorization key credential(s) cookie signature sig jwt, or ends with password passwd
 * passphrase secret token apikey privatekey secretkey accesskey (PGPASSWORD, sslpassword,
 * githubtoken). So `db_password`, `client_secret`, `refresh_token`, `AWS_SECRET_ACCESS_KEY`
 * are secret, while `password_file`, `passfile`, `token_type`, `max_tokens`, `keys_total`,
 * `keyword`, `monkey`, `aws_access_key_id` are not. `key` is a word, not a substring: libpq's
 * `sslkey` (a file path) is not secret (its passphrase is `sslpassword`), nor are `public_key`,
 * `primary_key`, `foreign_key`, `sort_key`, `partition_key`. Known cost: the shell's `PWD`
 * variable (a directory) is redacted too, because ODBC's `PWD=` is a password.
 */

/** The replacement for every secret. */
export const REDACTED = '***';

/** A secret value: text[start, end) is replaced by `with` (default REDACTED). */
interface Span {
  start: number;
  end: number;
  with?: string;
}

/** Scanner state: the spans found and caches that keep failing searches linear. */
interface Ctx {
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

const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'secret',
  'token',
  'auth',
  'authorization',
  'key',
  'credential',
  'credentials',
  'cookie',
  'signature',
  'sig',
  'jwt',
]);
const SECRET_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'secretkey',
  'accesskey',
];
const NOT_SECRET_BEFORE_KEY = new Set(['public', 'primary', 'foreign', 'sort', 'partition']);
// Every secret word and suffix contains one of these: a cheap first test.
const MAYBE_SECRET = /pass|pwd|secret|token|auth|key|credential|cookie|sig|jwt/i;

const KV_STOPS = `&;,'"`;
const FLAG_STOPS = `'";&|`;
const URL_STOPS = '"\'`<>';
const MIN_KNOWN = 4;

// ---------------------------------------------------------------------------------------------
// Names

function stripTrailingDigits(w: string): string {
  let e = w.length;
  while (e > 0 && w.charCodeAt(e - 1) >= 48 && w.charCodeAt(e - 1) <= 57) e--;
  return w.slice(0, e);
}

/** Lower-case words of a name: `OPENAI_API_KEY` → openai api key, `XApiKey` → x api key. */
function nameWords(name: string): string[] {
  return name
    .slice(-200)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .map(stripTrailingDigits)
    .filter((w) => w !== '');
}

/** Whether a key, variable, parameter, flag or header name holds a secret (see the top). */
export function isSecretName(name: string): boolean {
  if (typeof name !== 'string' || !MAYBE_SECRET.test(name.slice(-200))) return false;
  const words = nameWords(name);
  const last = words[words.length - 1];
  if (last === undefined) return false;
  if (last === 'key') return !NOT_SECRET_BEFORE_KEY.has(words[words.length - 2] ?? '');
  return SECRET_WORDS.has(last) || SECRET_SUFFIXES.some((s) => last.endsWith(s));
}

/** The name of a `-x`/`--x` flag that takes a value, or undefined (`--no-x` is boolean). */
function flagBody(name: string): string | undefined {
  const body = name.startsWith('--') ? name.slice(2) : name.startsWith('-') ? name.slice(1) : '';
  if (!/^[A-Za-z]/.test(body) || /^no-/i.test(body)) return undefined;
  return body;
}

const isSecretFlag = (name: string): boolean => {
  const body = flagBody(name);
  return body !== undefined && isSecretName(body);
};

// ---------------------------------------------------------------------------------------------
// Characters and searches

function isNameCode(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45
  );
}

function isSchemeCode(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 46 || c === 45
  );
}

const isLetter = (ch: string | undefined): boolean => ch !== undefined && /^[A-Za-z]$/.test(ch);
const isBlank = (ch: string | undefined): boolean => ch === ' ' || ch === '\t';
const isEol = (ch: string | undefined): boolean => ch === '\n' || ch === '\r';
const isSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
const isQuote = (ch: string | undefined): boolean => ch === '"' || ch === "'";

/**
 * `indexOf(needle, from)` for non-decreasing `from` (mostly): remembers the last answer, so
 * many searches over the same stretch cost one scan.
 */
function finder(text: string, needle: string): Finder {
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

function skipBlanks(text: string, p: number): number {
  while (isBlank(text[p])) p++;
  return p;
}

/** The backslash run at p: its end, and whether it ends in `n`, `r`, `t` or `"` (a JSON escape). */
function escapeRun(text: string, p: number): { stop: boolean; end: number } {
  let q = p + 1;
  while (text[q] === '\\') q++;
  const c = text[q];
  return { stop: c === 'n' || c === 'r' || c === 't' || c === '"', end: q };
}

/** End of a bare word: whitespace, a stop character, or an escaped newline/tab/quote. */
function bareEnd(text: string, p: number, stops: string): number {
  while (p < text.length) {
    const c = text[p];
    if (isSpace(c) || stops.includes(c)) return p;
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

/**
 * Records text[start, end) as secret. Unless the span is a complete quoted string, trailing
 * backslashes stay outside it: they may escape the character after it (JSON text stays valid).
 */
function push(ctx: Ctx, start: number, end: number, replacement?: string, complete = false): void {
  while (!complete && end > start && ctx.text[end - 1] === '\\') end--;
  if (end > start)
    ctx.spans.push(replacement === undefined ? { start, end } : { start, end, with: replacement });
}

function backslashesBefore(text: string, p: number): number {
  let n = 0;
  while (text[p - 1 - n] === '\\') n++;
  return n;
}

/**
 * Whether text[p] is the letter of a backslash escape (`\n`, `\u00e9`): after any backslash
 * run, as `\\n` is the newline of JSON text inside a JSON string.
 */
const escapedAt = (text: string, p: number): boolean => text[p - 1] === '\\';

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

function quotedValue(ctx: Ctx, k: number): number {
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
function escQuotedValue(ctx: Ctx, k: number): number {
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

function valueAt(ctx: Ctx, k: number, stops: string): number {
  const { text } = ctx;
  if (isQuote(text[k])) return quotedValue(ctx, k);
  if (text[k] === '\\' && text[k + 1] === '"') return escQuotedValue(ctx, k);
  const end = bareEnd(text, k, stops);
  push(ctx, k, end);
  return end;
}

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
function headerEnd(text: string, p: number, quote: string): number {
  while (p < text.length) {
    const c = text[p];
    if (isEol(c) || c === '"' || c === quote) return p;
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

function tokenSpans(ctx: Ctx): void {
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

// ---------------------------------------------------------------------------------------------
// URLs

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Start of the scheme ending at k (`://` at k), or -1: scheme characters, from the first letter. */
function schemeStart(text: string, k: number): number {
  let s = k;
  while (s > 0 && isSchemeCode(text.charCodeAt(s - 1))) s--;
  while (s < k && !isLetter(text[s])) s++;
  return s < k ? s : -1;
}

/** End of the URL whose rest starts at p: whitespace, a stop character, a JSON escape, the next URL. */
function urlEnd(text: string, p: number): number {
  let e = p;
  while (e < text.length) {
    const c = text[e];
    if (isSpace(c) || URL_STOPS.includes(c)) return e;
    if (c === '\\') {
      const run = escapeRun(text, e);
      if (run.stop) return e;
      e = run.end;
      continue;
    }
    if (c === ':' && text.startsWith('://', e)) {
      const s = schemeStart(text, e);
      if (s > p) return s;
    }
    e++;
  }
  return e;
}

/** The password of the userinfo u[0, at) (u starts at text offset a); false when it is none. */
function userinfoSpan(ctx: Ctx, u: string, a: number, at: number): boolean {
  const info = u.slice(0, at);
  const colon = info.indexOf(':');
  const user = colon < 0 ? info : info.slice(0, colon);
  if (/[?#]/.test(user)) return false; // `?`/`#` ended the authority: `h?next=a@b`
  if (colon < 0) return true;
  if (/^\d+[?#]/.test(info.slice(colon + 1))) return false; // a port, then a query: `h:443?next=a@b`
  push(ctx, a + colon + 1, a + at);
  return true;
}

/** Secret-named `name=value` parameters of `params` (at text offset a), split on `sep`. */
function paramSpans(ctx: Ctx, params: string, a: number, sep = '&'): void {
  let ps = 0;
  for (const param of params.split(sep)) {
    const eq = param.indexOf('=');
    if (eq > 0 && isSecretName(safeDecode(param.slice(0, eq).replace(/\+/g, ' ')))) {
      push(ctx, a + ps + eq + 1, a + ps + param.length);
    }
    ps += param.length + 1;
  }
}

/** The secrets of the URL whose part after `://` is u, at text offset a. */
function urlTokenSpans(ctx: Ctx, u: string, a: number): void {
  const slash = u.indexOf('/');
  const at = u.lastIndexOf('@', slash < 0 ? u.length : slash);
  const host = at >= 0 && userinfoSpan(ctx, u, a, at) ? at + 1 : 0;
  const hashAt = u.indexOf('#', host);
  const hash = hashAt < 0 ? u.length : hashAt;
  const qmAt = u.indexOf('?', host);
  const qm = qmAt >= 0 && qmAt < hash ? qmAt : hash;
  // `;name=value` path parameters, as in jdbc:sqlserver://h:1433;user=u;password=x
  const semi = u.indexOf(';', host);
  if (semi >= 0 && semi < qm) paramSpans(ctx, u.slice(semi + 1, qm), a + semi + 1, ';');
  if (qm < hash) paramSpans(ctx, u.slice(qm + 1, hash), a + qm + 1);
  if (hash < u.length) paramSpans(ctx, u.slice(hash + 1), a + hash + 1);
}

function urlSpans(ctx: Ctx): void {
  const { text } = ctx;
  let from = 0;
  for (;;) {
    const k = text.indexOf('://', from);
    if (k < 0) return;
    const s = schemeStart(text, k);
    if (s < 0) {
      from = k + 1;
      continue;
    }
    const e = urlEnd(text, k + 3);
    urlTokenSpans(ctx, text.slice(k + 3, e), k + 3);
    ctx.urls.push(s, e);
    from = Math.max(e, k + 3);
  }
}

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

function pemSpans(ctx: Ctx): void {
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

function knownSpans(ctx: Ctx, known: readonly string[]): void {
  const { text } = ctx;
  for (const v of knownForms(known)) {
    for (let p = text.indexOf(v); p >= 0; p = text.indexOf(v, p + v.length)) {
      // `\n` + value: take the backslash along rather than leave a broken escape.
      const start = text[p - 1] === '\\' && text[p - 2] !== '\\' ? p - 1 : p;
      push(ctx, start, p + v.length);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Putting it together

function secretSpans(text: string, known: readonly string[]): Span[] {
  const ctx: Ctx = {
    text,
    spans: [],
    urls: [],
    quoteFail: {},
    escQuote: finder(text, '\\"'),
    eolN: finder(text, '\n'),
    eolR: finder(text, '\r'),
  };
  knownSpans(ctx, Array.isArray(known) ? known : []);
  pemSpans(ctx);
  urlSpans(ctx);
  tokenSpans(ctx);
  return ctx.spans;
}

/** Sorted, non-overlapping spans; overlapping or touching ones merge into one `***`. */
function mergeSpans(spans: Span[]): Span[] {
  spans.sort((x, y) => x.start - y.start || y.end - x.end);
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) {
      if (s.end > last.end) {
        last.end = s.end;
        delete last.with;
      } else if (s.start === last.start && s.end === last.end && s.with !== last.with) {
        delete last.with;
      }
      continue;
    }
    out.push({ ...s });
  }
  return out;
}

function applySpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let last = 0;
  for (const s of mergeSpans(spans)) {
    parts.push(text.slice(last, s.start), s.with ?? REDACTED);
    last = s.end;
  }
  parts.push(text.slice(last));
  return parts.join('');
}

/**
 * Redacts every secret form (see the top) anywhere in free text, plus the `known` values
 * (each at least 4 characters long). Not a string: ''.
 */
export function redactSecrets(text: string, known: readonly string[] = []): string {
  if (typeof text !== 'string') return '';
  try {
    return applySpans(text, secretSpans(text, known));
  } catch {
    return REDACTED;
  }
}

/**
 * Redacts a URL for display: the userinfo password and secret query/fragment parameter values.
 * It is redactSecrets without known values, so a libpq conninfo string given where a URL is
 * expected (`DATABASE_URL=host=db password=x`) is covered too.
 */
export function redactUrl(url: string): string {
  return redactSecrets(url);
}

/**
 * A webhook URL for display (DRAIN_NOTIFY_URL): the whole URL is the secret (Slack's
 * `https://hooks.slack.com/services/T…/B…/…`), so only its scheme and host are kept, as
 * `https://hooks.slack.com/***`; text that is not a URL is `***`.
 */
export function redactWebhookUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#\s]*)/.exec(typeof url === 'string' ? url.trim() : '');
  if (!m) return REDACTED;
  return `${m[1]}${m[2].slice(m[2].lastIndexOf('@') + 1)}/${REDACTED}`;
}

/**
 * The secret values in a URL (or conninfo) string, to pass as `known`: the password raw and
 * percent-decoded, secret query parameter values likewise, libpq-unescaped quoted values.
 */
export function secretValuesOf(url: string): string[] {
  if (typeof url !== 'string') return [];
  try {
    const values = new Set<string>();
    for (const s of secretSpans(url, [])) {
      const raw = url.slice(s.start, s.end);
      if (raw === REDACTED) continue;
      for (const v of [raw, safeDecode(raw), raw.replace(/\\(.)/g, '$1')]) if (v !== '') values.add(v);
    }
    return [...values];
  } catch {
    return [];
  }
}

/** `--name=value` / `NAME=value` with a secret name: the whole value (commas, spaces and all). */
function redactAssignment(arg: string): string {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) return arg;
  const name = arg.slice(0, eq);
  for (let i = 0; i < name.length; i++) if (!isNameCode(name.charCodeAt(i))) return arg;
  return isSecretName(name) ? `${name}=${REDACTED}` : arg;
}

function takesSecretValue(arg: string): boolean {
  for (let i = 0; i < arg.length; i++) if (!isNameCode(arg.charCodeAt(i))) return false;
  return isSecretFlag(arg);
}

/**
 * Redacts an argument vector: the element after `--password`/`-token`/… (whatever it holds),
 * the value of `--password=…` and `PGPASSWORD=…`, and each element through redactSecrets.
 */
export function redactArgv(argv: readonly string[], known: readonly string[] = []): string[] {
  if (!Array.isArray(argv)) return [];
  try {
    const out: string[] = [];
    let valueNext = false;
    for (const raw of argv) {
      const arg = typeof raw === 'string' ? raw : String(raw);
      if (valueNext) {
        out.push(arg === '' ? arg : REDACTED);
        valueNext = false;
        continue;
      }
      valueNext = takesSecretValue(arg);
      out.push(redactSecrets(redactAssignment(arg), known));
    }
    return out;
  } catch {
    return argv.map(() => REDACTED);
  }
}

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
