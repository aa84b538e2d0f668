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
 *
 * The parts, by kind of secret, under src/domain/redact/: names.ts (secret names), scan.ts
 * (the scanner's state, characters and values), tokens.ts (forms 3-6), urls.ts (forms 1-2),
 * keys.ts (forms 7-8), text.ts (free text: every finder together), argv.ts and deep.ts.
 */

export { REDACTED } from './redact/scan.js';
export { isSecretName } from './redact/names.js';
export { redactSecrets, redactUrl, redactWebhookUrl, secretValuesOf } from './redact/text.js';
export { redactArgv } from './redact/argv.js';
export { redactDeep } from './redact/deep.js';
