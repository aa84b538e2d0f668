/** Step 2 of src/domain/normalize.ts: the failure summary of a cleaned text (pytest, Python tracebacks). */

const TRACEBACK_HEADER = 'Traceback (most recent call last):';
const FRAME = /^\s*File "([^"\n]*)", line \d+(?:, in (.*))?$/;
/** `ValueError: msg`, `pkg.mod.Error: msg`, `KeyboardInterrupt`, `SystemExit: 2`. */
const EXCEPTION_LINE = /^[\p{L}_][\p{L}\p{M}\p{N}_.]*(?::(?:[ \t].*)?)?$/u;
/** Lines of an exception's message kept after its first line (up to a blank line). */
const MAX_EXCEPTION_LINES = 10;
const PYTEST_E = /^E {2,}/;
const PYTEST_LOCATION = /^(\S+?):\d+: \S/;
const PYTEST_SUMMARY = /^(?:FAILED|ERROR) [^\s:]*\.py(?:::|\s|$)/;

/** Last component of a Unix or Windows path (the path itself when it ends in a separator). */
function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** `s` without leading and trailing `ch` (no regex: no backtracking on long runs). */
function trimChar(s: string, ch: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s[a] === ch) a++;
  while (b > a && s[b - 1] === ch) b--;
  return s.slice(a, b);
}

const where = (...parts: Array<string | null>): string => parts.filter((p) => p).join(', ');
const located = (at: string, what: string): string => (at ? `${at}: ${what}` : what);

/** pytest's short test summary lines, in order, without repeats. */
function pytestSummary(lines: string[]): string | null {
  const found = [...new Set(lines.filter((l) => PYTEST_SUMMARY.test(l)).map((l) => l.trim()))];
  // In test order, which pytest-xdist's workers change from run to run: FAILED, then ERROR, sorted.
  const kind = (l: string): number => (l.startsWith('FAILED') ? 0 : 1);
  found.sort((a, b) => kind(a) - kind(b) || (a < b ? -1 : a > b ? 1 : 0));
  return found.length ? found.join('; ') : null;
}

/** The last block of pytest `E   ` lines, after its file and test. */
function pytestErrorLines(lines: string[]): string | null {
  let end = -1;
  for (let i = lines.length - 1; i >= 0 && end < 0; i--) if (PYTEST_E.test(lines[i])) end = i;
  if (end < 0) return null;
  let start = end;
  while (start > 0 && PYTEST_E.test(lines[start - 1])) start--;
  const what = lines.slice(start, end + 1).map((l) => l.slice(1).trim());
  let file: string | null = null;
  for (let i = end + 1, seen = 0; i < lines.length && seen < 3; i++) {
    if (lines[i].trim() === '') continue;
    seen++;
    const m = PYTEST_LOCATION.exec(lines[i]);
    if (m) {
      file = baseName(m[1]);
      break;
    }
  }
  let test: string | null = null;
  for (let i = start - 1; i >= 0 && test === null; i--) {
    const l = lines[i].trim();
    if (l.length > 6 && l.startsWith('___') && l.endsWith('___')) test = trimChar(l, '_').trim() || null;
  }
  return located(where(file, test && `in ${test}`), what.join('\n'));
}

/** The final exception of the last Python traceback, after its innermost frame. */
function pythonTraceback(lines: string[]): string | null {
  let header = -1;
  for (let i = lines.length - 1; i >= 0 && header < 0; i--) {
    if (lines[i].includes(TRACEBACK_HEADER)) header = i;
  }
  if (header < 0) return null;
  let frame = '';
  for (let i = header + 1; i < lines.length; i++) {
    const line = lines[i];
    const f = FRAME.exec(line);
    if (f) {
      frame = where(baseName(f[1]), f[2]?.trim() ? `in ${f[2].trim()}` : null);
      continue;
    }
    if (line.trim() === '' || /^\s/.test(line)) continue; // source lines, carets, blanks
    if (!EXCEPTION_LINE.test(line)) return null;
    const exception = [line];
    for (let j = i + 1; j < lines.length && exception.length < MAX_EXCEPTION_LINES; j++) {
      if (lines[j].trim() === '') break;
      exception.push(lines[j]);
    }
    return located(frame, exception.join('\n'));
  }
  return null;
}

/** Step 2: the failure summary of a cleaned text (see the module comment), or the text itself. */
export function failureSummary(text: string): string {
  const pytest = /^(?:FAILED|ERROR) |^E {2,}/m.test(text);
  if (!pytest && !text.includes(TRACEBACK_HEADER)) return text;
  const lines = text.split('\n');
  return (pytest && (pytestSummary(lines) ?? pytestErrorLines(lines))) || pythonTraceback(lines) || text;
}
