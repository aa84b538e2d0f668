/** Secret names (see src/domain/redact.ts): which key, variable, parameter, flag or header names hold a secret. */

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

function stripTrailingDigits(w: string): string {
  let e = w.length;
  while (e > 0 && w.charCodeAt(e - 1) >= 48 && w.charCodeAt(e - 1) <= 57) e--;
  return w.slice(0, e);
}

/** Lower-case words of a name: `OPENAI_API_KEY` → openai api key, `XApiKey` → x api key. */
export function nameWords(name: string): string[] {
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

export const isSecretFlag = (name: string): boolean => {
  const body = flagBody(name);
  return body !== undefined && isSecretName(body);
};
