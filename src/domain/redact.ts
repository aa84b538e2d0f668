/**
 * Secret redaction for anything that may be logged, stored or shown: URL
 * passwords (`scheme://user:password@host`) and `password=value` pairs.
 *
 * Regex-based on purpose: only the password bytes change, the rest of the text
 * stays byte-identical (the URL class would re-encode and normalise). Redaction is
 * idempotent and never throws.
 *
 * URL userinfo: the user part runs to the first `:`; the password runs to the LAST
 * `@` before the next `/` or whitespace, so unencoded `@` and `:` in a password are
 * covered (`u:p@ss:w@rd@host` → `u:***@host`); percent-encoded ones are ordinary
 * characters. A `/` ends the candidate, so `http://host:8080/@scope/pkg` is left
 * alone (a password with an unencoded `/` is not valid URL syntax and is not found).
 */

/** The replacement for every secret. */
export const REDACTED = '***';

// scheme:// (not inside a longer word), user (no : @ / or space), ':', password, '@'.
const URL_PASSWORD = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:@/]*:)([^\s/]*)@/g;

// key = value, where the key ends in password/passwd/pwd (password, PGPASSWORD, db_password …).
// The value is a quoted string (with backslash escapes), an unterminated quote to the
// end of the token, or a bare token ending at whitespace, `&`, `;` or `,`.
const KV_PASSWORD =
  /(?<![A-Za-z0-9_])([A-Za-z0-9_]*(?:password|passwd|pwd)[ \t]*=[ \t]*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|['"][^\s]*|[^\s&;,'"]+)/gi;

// JSON / dict form: "password": "value" (also 'password': 'value').
const JSON_PASSWORD =
  /((["'])[A-Za-z0-9_]*(?:password|passwd|pwd)\2[ \t]*:[ \t]*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/gi;

function redactUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, (m: string, head: string, pw: string) =>
    pw === '' ? m : `${head}${REDACTED}@`,
  );
}

/** Replace the password of every URL in `url` with `***`; anything else is unchanged. */
export function redactUrl(url: string): string {
  if (typeof url !== 'string') return '';
  try {
    return redactUrlPasswords(url);
  } catch {
    return REDACTED;
  }
}

/** Redact URL passwords and `password=…` / `"password": "…"` values anywhere in `text`. */
export function redactSecrets(text: string): string {
  if (typeof text !== 'string') return '';
  try {
    let out = redactUrlPasswords(text);
    out = out.replace(KV_PASSWORD, (_m: string, key: string, value: string) => {
      const q = value[0] === "'" || value[0] === '"' ? value[0] : '';
      return `${key}${q}${REDACTED}${q}`;
    });
    out = out.replace(JSON_PASSWORD, (_m: string, key: string, _q: string, value: string) => {
      const q = value[0];
      return `${key}${q}${REDACTED}${q}`;
    });
    return out;
  } catch {
    // Regex engines do not throw on strings; this only guards against the unforeseen.
    return REDACTED;
  }
}
