/**
 * The worker's known secret values (redactSecrets' `known`): every secret the worker and its
 * executors are given, so an executor that prints one bare (no `password=` in front) still
 * has it redacted in whatever we store. Pure (no Node APIs), beside src/domain/redact.ts; the
 * files are read by src/runtime/secret-sources.ts.
 *
 * Sources:
 * - the database URLs the worker uses, `DATABASE_URL`, and the URL in the file
 *   `DATABASE_URL_FILE` names: their passwords and secret parameters (secretValuesOf);
 * - `PGPASSWORD`;
 * - the password field of every line of the pgpass file (`PGPASSFILE`, else `~/.pgpass`):
 *   `host:port:db:user:password`, `\:` and `\\` unescaped as libpq does (an unescaped `:` ends
 *   the password), `#` lines skipped;
 * - environment variables named like `*PASSWORD*`, `*TOKEN*`, `*SECRET*` or `*_KEY`
 *   (case-insensitive; not those ending in `_FILE`, `_PATH`, `_DIR`, `_URL`, `_URI`, which name
 *   where a secret is): their values, when at least MIN_NAMED_SECRET (6) characters long and
 *   not a plain number or a boolean word, so that `MAX_TOKENS=4096` or
 *   `TOKENIZERS_PARALLELISM=false` do not shred every log line with that number or word in it;
 * - secret forms inside any environment variable's value (a URL with a password, a conninfo
 *   `password=…`, a `?token=…` parameter), as for the database URL.
 * redactSecrets itself ignores known values under 4 characters.
 */
import { secretValuesOf } from './redact.js';

/** Shortest value of a secret-named variable that is redacted wherever it appears. */
export const MIN_NAMED_SECRET = 6;

const SECRET_VAR = /PASSWORD|TOKEN|SECRET|_KEY$/i;
/** Names of a file, directory or URL (`DB_PASSWORD_FILE`, `TOKEN_URL`): not the secret itself. */
const NAMES_A_PLACE = /_(?:FILE|PATH|DIR|URL|URI)$/i;
const NOT_A_SECRET = /^(?:[+-]?\d+(?:\.\d+)?|true|false|yes|no|on|off|none|null)$/i;

/** Is `name` a variable whose value is taken as a secret (see the top)? */
export function isSecretVarName(name: string): boolean {
  return SECRET_VAR.test(name) && !NAMES_A_PLACE.test(name);
}

/** The password fields of a pgpass file's text (libpq's format: `\` escapes `:` and `\`). */
export function pgpassPasswords(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    let field = 0;
    let value = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '\\' && i + 1 < line.length) {
        if (field === 4) value += line[i + 1];
        i++;
      } else if (c === ':') {
        if (field === 4) break; // libpq: an unescaped ':' ends the password
        field++;
      } else if (field === 4) value += c;
    }
    if (field === 4 && value !== '') out.push(value);
  }
  return out;
}

interface SecretSourceTexts {
  /** The database URLs the worker uses (they may come from a file or a flag, not the environment). */
  databaseUrls?: ReadonlyArray<string | null | undefined>;
  /** The worker's environment, which its executors inherit. */
  env: Readonly<Record<string, string | undefined>>;
  /** The pgpass file's text, or null when there is none. */
  pgpass?: string | null;
  /** The text of the file DATABASE_URL_FILE names, or null. */
  databaseUrlFile?: string | null;
}

/** Every known secret value of the sources (see the top), each once. */
export function knownSecretValues(s: SecretSourceTexts): string[] {
  const values = new Set<string>();
  const add = (v: string | undefined | null) => {
    if (typeof v === 'string' && v !== '') values.add(v);
  };
  for (const url of [...(s.databaseUrls ?? []), s.databaseUrlFile?.trim(), s.env.DATABASE_URL])
    if (url) for (const v of secretValuesOf(url)) add(v);
  add(s.env.PGPASSWORD);
  for (const v of pgpassPasswords(s.pgpass ?? '')) add(v);
  for (const [name, value] of Object.entries(s.env)) {
    if (typeof value !== 'string' || value === '') continue;
    const v = value.trim();
    if (isSecretVarName(name) && v.length >= MIN_NAMED_SECRET && !NOT_A_SECRET.test(v)) {
      add(value);
      if (v !== value) add(v);
    }
    if (/[:=]/.test(value)) for (const x of secretValuesOf(value)) add(x);
  }
  return [...values];
}
