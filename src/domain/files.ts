/**
 * Filesystem-safe names for per-attempt log files, derived from run and phase ids.
 *
 * safeFileComponent keeps [A-Za-z0-9._-] and writes every other UTF-8 byte as `%XX`
 * (upper-case hex; `%` itself becomes `%25`), so distinct ids give distinct names
 * (decoding `%XX` gives the id back). To keep that true for the combined
 * `run__phase__aN` names and on Windows, a few kept characters are escaped too:
 * a leading or trailing `.` (never `.`/`..`; Windows drops trailing dots), an `_`
 * at either end or next to another `_` (so `__` only ever appears as a separator),
 * and the first letter of a Windows device name (CON, NUL, COM1 …).
 * The empty string becomes `%empty`. Past 100 characters the name is cut (never
 * inside a `%XX`) and `~` + the FNV-1a hash of the original is appended.
 * Lone UTF-16 surrogates encode as U+FFFD, the one place two ids can share a name.
 */

/** Longest safe component before truncation. */
export const SAFE_COMPONENT_MAX = 100;

const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `s`, as 8 lower-case hex digits. */
export function fnv1a32Hex(s: string): string {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

const DOT = 0x2e;
const UNDERSCORE = 0x5f;

function isKept(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === DOT ||
    b === UNDERSCORE ||
    b === 0x2d // -
  );
}

const pct = (b: number): string => '%' + b.toString(16).toUpperCase().padStart(2, '0');

const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\.|$)/i;

/** Filesystem-safe, collision-free (up to truncation) name for one id. */
export function safeFileComponent(s: string): string {
  const bytes = encoder.encode(String(s));
  if (bytes.length === 0) return '%empty';
  const last = bytes.length - 1;
  let out = '';
  for (let j = 0; j <= last; j++) {
    const b = bytes[j];
    let keep = isKept(b);
    if (b === DOT && (j === 0 || j === last)) keep = false;
    if (
      b === UNDERSCORE &&
      (j === 0 || j === last || bytes[j - 1] === UNDERSCORE || bytes[j + 1] === UNDERSCORE)
    ) {
      keep = false;
    }
    out += keep ? String.fromCharCode(b) : pct(b);
  }
  if (WINDOWS_DEVICE.test(out)) out = pct(out.charCodeAt(0)) + out.slice(1);
  if (out.length <= SAFE_COMPONENT_MAX) return out;
  let cut = out.slice(0, SAFE_COMPONENT_MAX);
  const p = cut.lastIndexOf('%');
  if (p >= 0 && p > cut.length - 3) cut = cut.slice(0, p);
  return `${cut}~${fnv1a32Hex(String(s))}`;
}

/** Base name of an attempt's log files: `run__phase__a<attempt>` plus `.t<try>` after the first try. */
export function attemptLogBase(runId: string, phaseId: string, attempt: number, tryNo: number): string {
  const base = `${safeFileComponent(runId)}__${safeFileComponent(phaseId)}__a${attempt}`;
  return tryNo > 1 ? `${base}.t${tryNo}` : base;
}

/** Longest session id accepted (Temporal allows 1000; file names and humans need less). */
const SESSION_ID_MAX = 200;

/**
 * Why a session id (= workflow id) cannot be used, or null when it can. Every other id is
 * made a safe, collision-free file name by safeFileComponent (`/`, `..`, `:` become `%XX`).
 */
export function sessionIdProblem(id: unknown): string | null {
  if (typeof id !== 'string' || id.length === 0) return 'a session id must be a non-empty string';
  if (id.length > SESSION_ID_MAX)
    return `a session id must be at most ${SESSION_ID_MAX} characters (got ${id.length})`;
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'a session id must not contain control characters';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(id)) {
    return 'a session id must be valid Unicode (it contains a lone surrogate)';
  }
  if (id.trim() !== id) return 'a session id must not start or end with white space';
  return null;
}
