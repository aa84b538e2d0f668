/** Redaction of free text (see src/domain/redact.ts): every finder's spans, merged and replaced. */
import { knownSpans, pemSpans } from './keys.js';
import { type Ctx, type Span, REDACTED, finder } from './scan.js';
import { tokenSpans } from './tokens.js';
import { safeDecode, urlSpans } from './urls.js';
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
