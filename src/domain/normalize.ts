/**
 * Error-text normalisation for failure fingerprints: strips the parts of an error
 * message that vary between otherwise identical failures (dates, times, paths,
 * addresses, ids, numbers) so that repeats of one failure compare equal.
 *
 * Pure and linear-time: every pattern below is anchored on a fixed prefix or a
 * lookbehind boundary and has no nested quantifiers, so 1 MB of input is cheap.
 *
 * Replacement tokens (applied in this order, on the lower-cased text):
 *   URLs (`scheme://…`)                          → `url`   (also drops any credentials)
 *   `batch-drain-<id>`                           → `batch-drain-id`
 *   `session-<id>` `run-<id>` `batch-<id>` `drain-<id>` → `session-id` `run-id` `batch-id` `drain-id`
 *     (`<id>`: `-`-separated [0-9a-z_] segments, the first holding a digit)
 *   UUIDs                                        → `uuid`
 *   ISO date+time (`2025-12-28T06:00:07+00:00`)  → `date time` (always two words)
 *   dates (`2025-12-28`, `2025/12/28`, `12/28/2025`) → `date`
 *   times (`06:00:07`, `06:00:07.123`, `…Z`, `…+00:00`) → `time`
 *   Windows paths (`c:\x`, `C:/x`, `\\srv\share`, `.\x`) and Unix paths
 *     (`/usr/x`, `./a`, `../a`, `~/a`, at a token start) → `path`
 *   hex addresses (`0x7ffd1234`)                 → `addr`
 *   `line 123`                                   → `line num`
 *   `:456`                                       → `:num`
 *   any other digit run (with `.`-separated parts: `3.11.4`) → `num`
 *   whitespace runs → one space; trimmed.
 *
 * Path bodies stop at whitespace, quotes, `:`, `,`, `;`, brackets and `|` (so
 * `file.py:456` keeps its `:456`), and a trailing `.` is left outside the path.
 * A Windows path containing spaces is only replaced up to the first space.
 */

/** Characters a path body may contain. */
const PATH_BODY = String.raw`[^\s:"'<>|,;()\[\]{}*?]`;

/** A path may start after start-of-text, whitespace or one of these delimiters. */
const PATH_LEAD = String.raw`(^|[\s"'(\[{<=,;:])`;

const RULES: ReadonlyArray<readonly [RegExp, string | ((...m: string[]) => string)]> = [
  // URLs first: their `//host/…` would otherwise look like a path.
  [/(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/g, 'url'],
  // Ids (most specific first). The first suffix segment must hold a digit, so
  // `run-time` or `batch-size` are words, not ids.
  [/(?<![a-z0-9_])batch-drain-[0-9a-z_]*\d[0-9a-z_]*(?:-[0-9a-z_]+)*/g, 'batch-drain-id'],
  [/(?<![a-z0-9_])(session|run|batch|drain)-[0-9a-z_]*\d[0-9a-z_]*(?:-[0-9a-z_]+)*/g, '$1-id'],
  [/(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])/g, 'uuid'],
  // ISO date-time → two words, never `datettime`.
  [
    /(?<![0-9])\d{4}-\d{1,2}-\d{1,2}[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:z|[+-]\d{2}(?::?\d{2})?)?(?![0-9])/g,
    'date time',
  ],
  [/(?<![0-9])(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{4})(?![0-9])/g, 'date'],
  [/(?<![0-9])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:z|[+-]\d{2}:\d{2})?(?![0-9])/g, 'time'],
  // Windows: drive paths, UNC paths, `.\relative`.
  [
    new RegExp(String.raw`(?<![a-z0-9_])(?:[a-z]:[\\/]|\\\\|\.{1,2}\\)${PATH_BODY}*`, 'g'),
    (m: string) => 'path' + trailingDots(m),
  ],
  // Unix: absolute, `./`, `../`, `~/`, only at the start of a token.
  [
    new RegExp(String.raw`${PATH_LEAD}((?:\.{1,2}|~)?/${PATH_BODY}+)`, 'g'),
    (_m: string, lead: string, p: string) => lead + 'path' + trailingDots(p),
  ],
  [/(?<![a-z0-9_])0x[0-9a-f]+/g, 'addr'],
  [/line\s+\d+/g, 'line num'],
  [/:\d+/g, ':num'],
  [/\d+(?:\.\d+)*/g, 'num'],
  [/\s+/g, ' '],
];

/** The run of `.` a path match ends with (kept outside the `path` token). */
function trailingDots(p: string): string {
  let i = p.length;
  while (i > 0 && p[i - 1] === '.') i--;
  // A path made only of dots (e.g. `./.`) keeps nothing outside.
  return i === 0 ? '' : p.slice(i);
}

/** Normalise an error text for fingerprinting (see the module comment for the rules). */
export function normalizeErrorText(text: string): string {
  let out = String(text ?? '').toLowerCase();
  for (const [re, replacement] of RULES) {
    out = out.replace(re, replacement as string);
  }
  return out.trim();
}
