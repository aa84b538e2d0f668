/**
 * Error-text normalisation for failure fingerprints: one failure → one text, two
 * failures → two texts. Strips what varies between repeats of one failure (terminal
 * colours, dates, times, paths, addresses, hashes, ids, durations, free-standing
 * numbers) and keeps what tells two failures apart (digits inside identifiers such as
 * `E501`, `h11`, `psycopg2`; exit statuses, HTTP statuses, signals; the final exception
 * of a Python traceback).
 *
 * Pure (no Node APIs: it runs in the workflow sandbox) and linear-time: every pattern is
 * anchored on a fixed prefix or a lookbehind boundary and has no ambiguous nested
 * quantifiers, so megabytes of input are cheap. Never throws.
 *
 * Steps:
 * 1. Clean-up: ANSI/VT escape sequences (CSI incl. SGR colours, OSC, DCS/APC/PM, 7-bit
 *    two-byte escapes, their 8-bit forms, and SGR written out as `\x1b[31m`, `\u001b[31m`,
 *    `\033[31m`, `^[[31m`) are removed; CRLF/CR → LF; other control characters, BOMs and
 *    zero-width spaces are removed; lone surrogates → U+FFFD; Unicode NFKC (full-width
 *    `１２３` → `123`, `Ｅ５０１` → `E501`); every other Unicode decimal digit (\p{Nd}:
 *    Arabic-Indic `٣`, Devanagari `३`, …) → its ASCII digit.
 * 2. Failure summary, when the text holds one (first match wins):
 *    - pytest short summary lines (`FAILED path::test - Error: msg`, `ERROR path - …`):
 *      those lines, FAILED then ERROR, each sorted (pytest-xdist finishes tests in another
 *      order every run), joined by `; `;
 *    - pytest `E   ` lines: the last block of them, after `<file>, in <test>: ` taken from
 *      the block's location line (`path/file.py:12: Error`, basename only) and the
 *      `___ test ___` header;
 *    - a Python traceback (`Traceback (most recent call last):`): the final exception
 *      line(s) of the last traceback (so the last exception of a chain), after
 *      `<file>, in <function>: ` of its innermost frame (basename, no line number).
 *    Otherwise the whole text.
 * 3. Lower-case (and NFKC again). A text that is only a status (`2`, `Error 2`, `exit: 1`,
 *    `(137)`) stays as it is. Otherwise these replacements, in order:
 *    URLs (`scheme://user:pw@host:port/path?query`)      → `url(scheme:host)` (an IP
 *      address as host → `<ip>`)
 *    `batch-drain-<id>`                                   → `batch-drain-id`
 *    `session-<id>` `run-<id>` `batch-<id>` `drain-<id>`  → `session-id` `run-id` …
 *      (`<id>`: `-`-separated [0-9a-z_] segments, the first holding a digit)
 *    phase, run and session ids in a message: `phase_id=p3`, `run id: "x"`, `phase 'x'`,
 *      `"phase": "x"`, `session 'x'`, `of|in|for|from|on|by run 'x'`, `run 'x' phase`
 *                                                         → `<id>` (key and quotes kept)
 *    UUIDs                                                → `<uuid>`
 *    request/trace/span/correlation ids (`request_id=…`, `x-request-id: …`)
 *                                                         → `<reqid>` (key kept)
 *    [kept whole: model, runtime and platform names with their versions (`gpt-4o-mini`,
 *     `claude-3-5-sonnet-20241022`, `llama-3.1-70b`, `python-3.12`, `gcc-13`, …)]
 *    CJK dates and times (`2026年12月7日(月)`, `12月7日`, `2026년 12월 7일 월요일`,
 *      `2026. 12. 7.`; `13時44分43秒`, `13시 44분`; `下午`/`午後`/`오후` dropped) → `date`, `time`
 *    dates with month names (`Mon Dec  7`, `Dec 7, 2026`, `7 December 2026`,
 *      `Mon, 07 Dec 2026`, `07/Dec/2026`; a weekday, a year or a time must come with them)
 *                                                         → `date`
 *    ISO date+time (`2025-12-28T06:00:07+00:00`, `20251228T060007Z`) → `date time`
 *    dates (`2025-12-28`, `2025/12/28`, `2025_12_28`, `2025.12.28`, `12/28/2025`) → `date`
 *    a time glued to a date (`date_13-44-43`, `date-134443`) → `date_time`
 *    times (`06:00:07`, `06:00:07.123`, `…Z`, `…+00:00`, `… UTC`, `… +0100`, `… CET`; 12-hour
 *      `1:44 PM`, `01:44:43 p.m.`, `11am`; `13:44 UTC`)  → `time`
 *    dates in names (`session_20261207_134443`, `report-20261207.txt`, `20261207134443`;
 *      a real month and day, not inside a hex run)       → `date`, `date_time`
 *    Unix times in names (`job_1733579083`, `x-1733579083123`) → `time`
 *    pytest-xdist workers (`gw3`) → `gw`; progress (`[ 45%]` → `[num%]`, the `..F.s`
 *      before it dropped; tqdm's `45%|████▌   |` → `num%||`)
 *    Windows paths (`c:\x`, `C:/x`, `\\srv\share`, `.\x`; a space is part of one when a `\`
 *      follows it: `C:\Program Files (x86)\x`) and Unix paths (`/usr/x`, `./a`, `../a`,
 *      `~/a`, at a token start), temp paths among them  → `path/<basename>`: the file
 *      tells two failures apart (`path/a.py` ≠ `path/b.py`), its directories do not;
 *      just `path` for a directory (`/x/`), a log (`*.log`, our `*.stderr.txt`,
 *      `*.stdout.txt`, `*.exit.json`) or a temp name (`tmpXXXXXXXX`, `tmp.XXXXXX`)
 *    other temp names: `pytest-of-<user>/…` → `path/<basename>`, Python `tmpXXXXXXXX` → `path`
 *    [kept: versions that are part of a name: `python3.11`, `py3.12`, `numpy-1.26.4`,
 *     `gpt-3.5`, `node-v20.11.0`, `gpt-4o`, `mistral-7b`, `libssl.so.3`]
 *    [kept: the number of `exit code N`, `exit status N`, `exit value N`, `exit N`,
 *     `exit(N)`, `exited with N`, `returned N`, `return code N`, `rc N`, `code N`,
 *     `non-zero code: N`, make's `] Error N`, `HTTP 404`, `HTTP/1.1 404`, `HTTP Error 404`,
 *     `404 Client Error`, `status 502`, `status_code=429`, `error code 429`, `signal 9`,
 *     `errno 2`, `WinError 5`, and encodings `utf-8`, `iso-8859-1`, `latin-1`, …]
 *    hex addresses (`0x7ffd1234`)                         → `addr`
 *    hex hashes (a whole token of 7 or more hex digits holding a digit and a letter:
 *      short and full commits, sha256 digests, container ids) → `<hash>`
 *    `line 123`                                           → `line num`
 *    durations (`900s`, `0.52s`, `12ms`, `1m30s`, `3 seconds`, `2 min`) → `nums` (one
 *      token whatever the unit; the old rules' spelling of `900s`)
 *    `:456`                                               → `:num`
 *    free-standing numbers: digit runs not inside an identifier, with `.`-separated
 *      parts (`42`, `3.11.4`, `v1.2.3` → `v1.num`, `3rd` → `numrd`) → `num`; digits of
 *      a token that starts with a letter or `_` (`e501`, `h11`, `py311`, `sha256`) stay
 *    bare request ids (`req_` + 8 or more letters and digits) → `<reqid>`
 *    whitespace runs → one space; NFKC once more; trimmed.
 *
 * The guide's tokens (`date`, `time`, `path`, `addr`, `line num`, `:num`, `session-id`,
 * `run-id`, `num`) are kept for the classes it names; `<…>` marks the classes it does not.
 * Path bodies stop at whitespace (but see Windows above), quotes, `:`, `,`, `;`, brackets
 * and `|` (so `file.py:456` keeps its `:456`), and a trailing `.` is left outside the path.
 * Fingerprints cut a long result and keep its digest (./fingerprint.ts).
 */
import { cleanText } from './normalize/clean.js';
import { failureSummary } from './normalize/failure-summary.js';

export { cleanText, failureSummary };

// ---------------------------------------------------------------- 3. replacements

/** A character of a word (identifier or number token). */
const W = String.raw`\p{L}\p{M}\p{N}_`;
/** Characters a path body may contain. */
const PATH_BODY = String.raw`[^\s:"'<>|,;()\[\]{}*?]`;
/** A path may start after start-of-text, whitespace or one of these delimiters. */
const PATH_LEAD = String.raw`(^|[\s"'(\[{<=,;:])`;
/**
 * A space-separated part of a Windows path before its next `\` (`Program Files`, `(x86)`,
 * `John Smith`): up to 4 words of up to 64 characters, so a failed try costs a constant.
 */
const WINDOWS_SPACED = String.raw`(?: [^\s\\/:"'<>|,;*?]{1,64}){1,4}\\`;

/** Kept numbers are carried as U+E000…U+E009 through the rules that replace digits. */
const protect = (m: string): string => m.replace(/\d/g, (d) => String.fromCharCode(0xe000 + Number(d)));
const unprotect = (m: string): string => String.fromCharCode(0x30 + m.charCodeAt(0) - 0xe000);

const STATUS_KEY = [
  String.raw`exit(?:[ _-]?(?:code|status|value))?`,
  String.raw`exited(?: with)?(?: (?:code|status))?`,
  String.raw`returned(?: (?:code|status))?`,
  String.raw`return[ _-]?code`,
  'returncode',
  'rc',
  String.raw`code|non-zero (?:exit )?(?:code|status|value)`,
  String.raw`http(?:/\d(?:\.\d)?)?(?:[ _-]?(?:error|status|response))?(?:[ _-]?code)?`,
  String.raw`status(?:[ _-]?code)?`,
  String.raw`(?:error|response)[ _-]?code`,
  'signal',
  'errno',
  'winerror',
].join('|');
const REQUEST_ID_KEY = String.raw`(?:x-)?(?:amzn-|amz-)?(?:request|req|trace|span|correlation|transaction)[-_ ]?id`;
const DURATION_UNIT_GLUED = String.raw`(?:ns|us|μs|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)`;
const DURATION_UNIT_SPACED = String.raw`(?:ns|us|μs|ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?)`;

// Dates and times as people and programs print them (lower-cased by then).
const MONTH = String.raw`(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?`;
const WEEKDAY = String.raw`(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)\.?`;
const DAY = String.raw`(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?![${W}])`;
const YEAR = String.raw`(?:19|20)\d{2}(?![${W}])`;
/** A time zone after a time: `Z`, `UTC`, `GMT+2`, `+0100`, `+01:00`, common abbreviations. */
const ZONE = String.raw`(?:utc|gmt)(?:[+\-]\d{1,2}(?::?\d{2})?)?|[+\-]\d{2}:?\d{2}|z|cest|cet|eest|eet|wet|bst|ist|jst|kst|hkt|sgt|awst|acst|aest|aedt|nzst|nzdt|est|edt|cst|cdt|mst|mdt|pst|pdt|akst|akdt|hst|msk`;
const AFTER_TIME = String.raw`(?:(?:z|[+\-]\d{2}:\d{2})(?![${W}])|\s{1,3}(?:${ZONE})(?![${W}]))?`;
const MERIDIEM = String.raw`\s?(?:a\.m\.|p\.m\.|am|pm)(?![${W}])`;
const CJK_WEEKDAY = String.raw`[(（][月火水木金土日][)）]|[月火水木金土日]曜日?|星期[一二三四五六日天]|礼拜[一二三四五六日天]|周[一二三四五六日]|[(（]?[월화수목금토일]요일[)）]?|[(（][월화수목금토일][)）]`;
/** A compact date `YYYYMMDD` (a real month and day), and a time `HHMM[SS]` after it. */
const COMPACT_DATE = String.raw`(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])`;
const COMPACT_TIME = String.raw`(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d)?(?:[.,_]\d{1,9})?z?`;
/** Not inside a hex run (a hash): no hex digit next to it, unless that letter ends a word. */
const NOT_AFTER_HEX = String.raw`(?:(?<![0-9a-f])|(?<=[g-z][a-f]{1,8}))`;
const NOT_BEFORE_HEX = String.raw`(?![0-9]|[a-f]{1,8}(?![g-z]))`;

/**
 * Model, runtime and platform names whose digits are part of the name, with their glued
 * `-`/`.` segments (`gpt-4o-mini`, `claude-3-5-sonnet-20241022`, `llama-3.1-70b`, `gcc-13`).
 */
const NAME_FAMILIES = [
  'gpt',
  'chatgpt',
  'claude',
  'codellama',
  'llama',
  'gemini',
  'gemma',
  'mistral',
  'mixtral',
  'qwen',
  'deepseek',
  'phi',
  'falcon',
  'starcoder',
  'davinci',
  'text-davinci',
  'text-embedding',
  'dall-e',
  'whisper',
  'command-r',
  'grok',
  'python',
  'pypy',
  'cpython',
  'cuda',
  'java',
  'openjdk',
  'jdk',
  'gcc',
  'clang',
  'llvm',
  'postgres',
  'postgresql',
  'mysql',
  'ubuntu',
  'debian',
].join('|');

/** The quote characters around an id quoted in a message. */
const OPEN_QUOTE = String.raw`["'\x60‘“]`;
const ID_BODY = String.raw`[^\s"'\x60‘’“”,;)\]}]{1,128}(?![^\s"'\x60‘’“”,;)\]}])`;

type Replacement = string | ((...m: string[]) => string);
const rule = (source: string, replacement: Replacement): readonly [RegExp, Replacement] => [
  new RegExp(source, 'gu'),
  replacement,
];

/** A URL as `url(scheme:host)`: the host tells failures apart; credentials, port, path and query do not. */
function urlToken(_m: string, scheme: string, rest: string): string {
  const tail = /[.,;:!?)\]}]+$/.exec(rest)?.[0] ?? '';
  const body = rest.slice(0, rest.length - tail.length);
  const end = body.search(/[/?#\\]/);
  let authority = end < 0 ? body : body.slice(0, end);
  authority = authority.slice(authority.lastIndexOf('@') + 1);
  let host = authority.startsWith('[') ? '<ip>' : authority.replace(/:.*$/s, '');
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host)) host = '<ip>';
  return `url(${scheme}:${host})${tail}`;
}

/** Basenames that say where output went, not what failed: logs and our own attempt logs. */
const LOG_NAME = /\.(?:log|stdout|stderr)(?:\.txt)?$|\.exit\.json$/;
/** Random temp names: Python's `tmpXXXXXXXX`, mktemp's `tmp.XXXXXXXXXX`. */
const TEMP_NAME = /^tmp(?:(?=[a-z_]*[0-9_])[0-9a-z_]{8}(?![0-9a-z_])|\.[0-9a-z]{6,}$)/;

/**
 * A path as `path/<basename>` (the file tells failures apart, the directories do not), or
 * `path` for a directory, a log file or a temp name. A trailing `.` stays outside.
 */
function pathToken(p: string): string {
  const dots = trailingDots(p);
  const full = p.slice(0, p.length - dots.length);
  const cut = Math.max(full.lastIndexOf('/'), full.lastIndexOf('\\'));
  const base = cut < 0 ? '' : full.slice(cut + 1);
  if (base === '' || base === '.' || base === '..' || LOG_NAME.test(base) || TEMP_NAME.test(base)) {
    return 'path' + dots;
  }
  return `path/${base}${dots}`;
}

/** `date`, the separator of a date and a time in a name (`_` for a `T`), `time`. */
const dateThenTime = (sep: string): string => `date${sep === 't' ? '_' : sep}time`;

const RULES: ReadonlyArray<readonly [RegExp, Replacement]> = [
  // URLs first: their `//host/…` would otherwise look like a path.
  rule(String.raw`(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]*)://([^\s"'<>]*)`, urlToken),
  // Ids (most specific first). The first suffix segment must hold a digit, so
  // `run-time` or `batch-size` are words, not ids.
  rule(String.raw`(?<![a-z0-9_])batch-drain-[0-9a-z_]*\d[0-9a-z_]*(?:-[0-9a-z_]+)*`, 'batch-drain-id'),
  rule(String.raw`(?<![a-z0-9_])(session|run|batch|drain)-[0-9a-z_]*\d[0-9a-z_]*(?:-[0-9a-z_]+)*`, '$1-id'),
  // Phase, run and session ids inside a message: `phase_id=p3`, `run id: "x"`, `phase 'build-api'`,
  // `"phase": "x"`, `of run 'nightly'`, `run 'x' phase …` (the key stays, the id goes).
  rule(
    String.raw`(?<![${W}])((?:phase|run|session)[ _]?id["']?\s*[:=]\s*${OPEN_QUOTE}?|(?:phase|run|session)["']?\s*=\s*${OPEN_QUOTE}?|(?:phase|run|session)["']?\s*:\s*${OPEN_QUOTE}|(?:phase|session)\s{1,3}${OPEN_QUOTE}|(?<=(?<![${W}])(?:of|in|for|from|on|by)\s{1,3})run\s{1,3}${OPEN_QUOTE})${ID_BODY}`,
    '$1<id>',
  ),
  rule(String.raw`(?<![${W}])(run\s{1,3}${OPEN_QUOTE})${ID_BODY}(?=["'\x60’”]\s{0,3}(?:phase|/))`, '$1<id>'),
  rule(
    String.raw`(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])`,
    '<uuid>',
  ),
  // Request/trace ids: the key stays, a value holding a digit goes.
  rule(
    String.raw`(?<![${W}])(${REQUEST_ID_KEY})(["']?\s*[:=]\s*["']?|\s+)(?=[0-9a-z_.\-]*\d)[0-9a-z](?:[0-9a-z_\-]|\.(?=[0-9a-z_\-]))*`,
    '$1$2<reqid>',
  ),
  // Names with versions in them stay whole (before the dates: `claude-3-opus-20240229`).
  rule(String.raw`(?<![${W}\-.])(?:${NAME_FAMILIES})[0-9a-z]*(?:[\-.][0-9a-z]+)*`, protect),
  // CJK dates and times: `2026年12月7日(月)`, `12月7日`, `2026년 12월 7일 월요일`, `2026. 12. 7.`,
  // `13時44分43秒`, `下午1:44`.
  rule(
    String.raw`(?:上午|下午|午前|午後|오전|오후)\s{0,3}\d{1,2}(?::[0-5]\d){1,2}(?:[.,]\d+)?(?![0-9])`,
    'time',
  ),
  rule(String.raw`(?:上午|下午|午前|午後|오전|오후)\s{0,3}(?=\d{1,2}\s{0,3}[時时시])`, ''),
  rule(
    String.raw`(?<![0-9])(?:\d{1,4}\s{0,3}[年년]\s{0,3})?\d{1,2}\s{0,3}[月월]\s{0,3}\d{1,2}\s{0,3}[日일](?:\s{0,3}(?:${CJK_WEEKDAY}))?`,
    'date',
  ),
  rule(String.raw`(?<![0-9])\d{1,4}\s{0,3}[年년]\s{0,3}\d{1,2}\s{0,3}[月월](?!\s{0,3}\d)`, 'date'),
  rule(
    String.raw`(?<![0-9.])(?:19|20)\d{2}\.\s{0,3}\d{1,2}\.\s{0,3}\d{1,2}\.(?:\s{0,3}(?:${CJK_WEEKDAY}))?(?![0-9])`,
    'date',
  ),
  rule(
    String.raw`(?<![0-9])\d{1,2}\s{0,3}[時时시]\s{0,3}\d{1,2}\s{0,3}[分분](?:\s{0,3}\d{1,2}(?:[.,]\d+)?\s{0,3}[秒초])?`,
    'time',
  ),
  // Dates with month names, as `date`, logs and mail headers print them: `Mon Dec  7`,
  // `Dec 7, 2026`, `7 December 2026`, `Mon, 07 Dec 2026`, `07/Dec/2026`, `07-dec-2026`.
  rule(
    String.raw`(?<![${W}])(?:${WEEKDAY},?\s{1,3}${MONTH}\s{1,3}${DAY}(?:,?\s{1,3}${YEAR})?|${MONTH}\s{1,3}${DAY},?\s{1,3}${YEAR}|${MONTH}\s{1,3}${DAY}(?=\s{1,3}\d{1,2}:\d{2})|(?:${WEEKDAY},?\s{1,3})?${DAY}[\s\-/]{1,3}${MONTH}(?:,?[\s\-/]{1,3}${YEAR})|${WEEKDAY},?\s{1,3}${DAY}\s{1,3}${MONTH}(?![${W}]))`,
    'date',
  ),
  // ISO date-time → two words, never `datettime`.
  rule(
    String.raw`(?<![0-9])(?:\d{4}-\d{1,2}-\d{1,2}[t ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|\d{8}t\d{6}(?:[.,]\d+)?)(?:z|[+\-]\d{2}(?::?\d{2})?)?(?:${MERIDIEM})?(?![0-9])`,
    'date time',
  ),
  rule(
    String.raw`(?<![0-9])(?:\d{4}[\-/_]\d{1,2}[\-/_]\d{1,2}|\d{1,2}[\-/]\d{1,2}[\-/]\d{4}|(?:19|20)\d{2}\.\d{2}\.\d{2}(?!\.\d))(?![0-9])`,
    'date',
  ),
  // A time after a date in a name: `date_13-44-43`, `date-134443`, `datet13_44_43_123z`.
  rule(
    String.raw`(?<![\p{L}\p{M}\p{N}])date([t_\-.])(?:[01]\d|2[0-3])([\-_.h]?)[0-5]\d(?:\2[0-5]\d)?(?:[.,_]\d{1,9})?z?(?![0-9])`,
    (_m: string, sep: string) => dateThenTime(sep),
  ),
  // 12-hour clocks: `1:44 PM`, `01:44:43 p.m.`, `11am`.
  rule(String.raw`(?<![0-9:.])\d{1,2}(?::[0-5]\d){1,2}(?:[.,]\d+)?${MERIDIEM}${AFTER_TIME}`, 'time'),
  rule(String.raw`(?<![${W}.:])(?:1[0-2]|0?[1-9])${MERIDIEM}${AFTER_TIME}`, 'time'),
  rule(String.raw`(?<![0-9])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?${AFTER_TIME}(?![0-9])`, 'time'),
  rule(String.raw`(?<![0-9:.])\d{1,2}:\d{2}\s{1,3}(?:${ZONE})(?![${W}])`, 'time'),
  // Dates in names: `session_20261207_134443`, `report-20261207.txt`, `20261207134443`.
  rule(
    String.raw`${NOT_AFTER_HEX}${COMPACT_DATE}(?:([t_\-.]?)${COMPACT_TIME}${NOT_BEFORE_HEX}|${NOT_BEFORE_HEX})`,
    (_m: string, sep: string | undefined) => (sep === undefined ? 'date' : dateThenTime(sep || '_')),
  ),
  // Unix times in names: `job_1733579083`, `build-1733579083123`.
  rule(String.raw`(?<=[g-z_\-])1[4-9]\d{8}(?:\d{3})?(?![0-9])`, 'time'),
  // Per-run noise of test runners: pytest-xdist workers (`[gw3]`), progress (`..F.s [ 45%]`,
  // tqdm's `45%|████▌     |`).
  rule(String.raw`(?<![${W}])gw\d+(?![${W}])`, 'gw'),
  rule(String.raw`(?<=\s)[.fesxp]{1,200}(?=\s{1,20}\[\s{0,3}\d{1,3}%\])`, ''),
  rule(String.raw`\[\s{0,3}\d{1,3}(?:\.\d+)?\s{0,3}%\s{0,3}\]`, '[num%]'),
  rule(String.raw`(?<![${W}])\d{1,3}%\|[^|\n]{0,200}\|`, 'num%||'),
  // Windows: drive paths, UNC paths, `.\relative` (not glued to a word or a `<…>` placeholder);
  // a space is part of the path when a `\` follows it (`C:\Program Files (x86)\x`).
  rule(
    String.raw`(?<![a-z0-9_>])(?:[a-z]:[\\/]|\\\\|\.{1,2}\\)${PATH_BODY}*(?:${WINDOWS_SPACED}${PATH_BODY}*)*`,
    (m: string) => pathToken(m),
  ),
  // Unix: absolute, `./`, `../`, `~/`, only at the start of a token.
  rule(
    String.raw`${PATH_LEAD}((?:\.{1,2}|~)?/${PATH_BODY}+)`,
    (_m: string, lead: string, p: string) => lead + pathToken(p),
  ),
  // Temp names outside a path: pytest's base temp, Python's tempfile names.
  rule(String.raw`(?<![${W}])pytest-of-${PATH_BODY}*`, (m: string) =>
    /[\\/]/.test(m) ? pathToken(m) : 'path',
  ),
  rule(String.raw`(?<![${W}])tmp(?=[a-z_]*[0-9_])[0-9a-z_]{8}(?![${W}])`, 'path'),
  // Versions that are part of a name: `python3.11`, `numpy-1.26.4`, `gpt-4o`, `libssl.so.3`.
  rule(
    String.raw`(?<![${W}])(?:[a-z][a-z_]*[a-z]\d+(?:\.\d+)+|[a-z][a-z0-9_]*[a-z]-v?\d+(?:\.\d+)+[a-z]*|[a-z][a-z0-9_]*[a-z]-\d+[bo]|[a-z][a-z0-9_+\-]{0,64}\.so(?:\.\d+)+)(?![${W}]|\.\d)`,
    protect,
  ),
  // Numbers that tell failures apart: exit/HTTP statuses, signals, errnos, encodings. After
  // the paths (which may swallow a key), before every rule that replaces digits.
  rule(String.raw`(?<![${W}])(?:${STATUS_KEY})["']?\s*(?:[:=]\s*)?["'(]?-?\d+(?![${W}]|\.\d)`, protect),
  rule(String.raw`(?<![${W}.])\d{3} (?=(?:client|server) error)`, protect),
  rule(String.raw`(?<=\]\s)error\s+\d+(?![${W}]|\.\d)`, protect), // make: *** [x] Error 2
  rule(String.raw`(?<![${W}])(?:utf|ucs|latin|iso-8859|iso8859|cp|windows|koi8)-\d+(?![${W}])`, protect),
  rule(String.raw`(?<![${W}])0x[0-9a-f]+`, 'addr'),
  rule(String.raw`(?<![${W}])[0-9a-f]{7,}(?![${W}])`, (m: string) =>
    /\d/.test(m) && /[a-f]/.test(m) ? '<hash>' : m,
  ),
  rule(String.raw`(?<![${W}])line\s+\d+`, 'line num'),
  rule(
    String.raw`(?<![${W}.])(?:\d+h\d+m(?:\d+(?:\.\d+)?s)?|\d+m\d+(?:\.\d+)?s|\d+(?:\.\d+)?${DURATION_UNIT_GLUED}|\d+(?:\.\d+)? ${DURATION_UNIT_SPACED})(?![${W}])`,
    'nums',
  ),
  rule(String.raw`:\d+`, ':num'),
  // Free-standing numbers: a digit run not inside an identifier (`3rd` → `numrd`).
  rule(String.raw`(?<![${W}])\d+(?:\.\d+)*`, 'num'),
  // Bare `req_…` ids last: earlier rules may have shortened or lengthened the token.
  rule(String.raw`(?<![${W}])req_(?=[0-9a-z]*\d)[0-9a-z]{8,}(?![${W}])`, '<reqid>'),
  rule(String.raw`[\ue000-\ue009]`, unprotect),
  rule(String.raw`\s+`, ' '),
];

/** The run of `.` a path match ends with (kept outside the `path` token). */
function trailingDots(p: string): string {
  let i = p.length;
  while (i > 0 && p[i - 1] === '.') i--;
  // A path made only of dots (e.g. `./.`) keeps nothing outside.
  return i === 0 ? '' : p.slice(i);
}

/**
 * A message that is only a status (`2`, `Error 2`, `exit: 1`, `(137)`): its number is the failure,
 * kept as it is.
 */
const BARE_STATUS =
  /^(?:(?:error|err|failed|failure|fatal|exit|exited|code|status|rc|result|returncode)\s{0,3}[:=]?\s{0,3})?[(\[]?[+\-]?\d{1,3}[)\]]?\.?$/;

/** Normalise an error text for fingerprinting (see the module comment for the rules). */
export function normalizeErrorText(text: string): string {
  let out = failureSummary(cleanText(String(text ?? '')))
    .toLowerCase()
    .normalize('NFKC');
  if (BARE_STATUS.test(out.trim())) return out.trim().replace(/\s+/g, ' ');
  for (const [re, replacement] of RULES) {
    out = out.replace(re, replacement as string);
  }
  // Again: a combining mark after a replaced token now follows another letter.
  return out.normalize('NFKC').trim();
}
