/**
 * A session file's text parsed (see session-file.ts): a leading BOM and the NaN/Infinity
 * Python's json module writes are tolerated. Pure: no Node APIs, no I/O.
 */

const PY_CONSTANTS = ['-Infinity', 'Infinity', 'NaN'];

/** `NaN`, `Infinity`, `-Infinity` outside JSON strings → `null` (Python's json module writes them). */
export function pythonConstantsToNull(s: string): string {
  const parts: string[] = [];
  let from = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '-' || c === 'I' || c === 'N') {
      const word = PY_CONSTANTS.find((w) => s.startsWith(w, i));
      if (word) {
        parts.push(s.slice(from, i), 'null');
        i += word.length - 1;
        from = i + 1;
      }
    }
  }
  parts.push(s.slice(from));
  return parts.join('');
}

/** The parsed text of a session file (a leading BOM and Python's NaN/Infinity tolerated). */
export function parseSessionText(text: string): { value: unknown; notes: string[] } {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { value: JSON.parse(src), notes: [] };
  } catch (err) {
    const fixed = pythonConstantsToNull(src);
    if (fixed !== src) {
      try {
        return { value: JSON.parse(fixed), notes: ['NaN/Infinity (as Python writes them) read as null'] };
      } catch {
        /* report the original error */
      }
    }
    throw new Error(`not valid JSON: ${(err as Error).message}`);
  }
}
