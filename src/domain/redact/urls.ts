/** URL userinfo passwords and secret-named query, fragment and `;` path parameters (see src/domain/redact.ts). */
import { isSecretName } from './names.js';
import { type Ctx, escapeRun, isLetter, isSchemeCode, isSpace, push } from './scan.js';

const URL_STOPS = '"\'`<>';
// ---------------------------------------------------------------------------------------------
// URLs

export function safeDecode(s: string): string {
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

export function urlSpans(ctx: Ctx): void {
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
