/**
 * Executor command templates, e.g.
 * `python scripts/drain_one_phase.py --run-id {run_id} --phase-id {phase_id} --force`.
 *
 * The template is split into argv with POSIX-shell-like quoting first, and the
 * `{name}` placeholders are substituted inside each argument afterwards, so a value
 * never changes the argument structure: spaces, quotes, `;`, `$()`, newlines or a
 * `{run_id}` inside a value stay literal in one argument. No shell is ever involved.
 *
 * Quoting rules (a subset of sh): whitespace separates arguments; '…' is literal;
 * "…" is literal except that a backslash escapes `"` `\` `$` and backtick (before any
 * other character the backslash is kept); outside quotes a backslash makes the next
 * character literal, and backslash-newline is a line continuation. `$`, globs,
 * `;`, `|` have no special meaning. Windows paths need quotes or forward slashes.
 *
 * Placeholders are `{identifier}` ([A-Za-z_][A-Za-z0-9_]*); any other brace text
 * (`{}`, `{"a":1}`) is literal. There is no escape for a literal `{identifier}`.
 */

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);
const DQ_ESCAPABLE = new Set(['"', '\\', '$', '`']);

/** Split a command template into arguments (see the module comment for the quoting rules). */
export function splitCommand(template: string): string[] {
  if (typeof template !== 'string') throw new Error('command template must be a string');
  if (template.includes('\0')) throw new Error('command template contains a NUL character');
  const args: string[] = [];
  let cur = '';
  let inToken = false;
  let i = 0;
  const n = template.length;
  while (i < n) {
    const c = template[i];
    if (WHITESPACE.has(c)) {
      if (inToken) args.push(cur);
      cur = '';
      inToken = false;
      i++;
    } else if (c === "'") {
      const end = template.indexOf("'", i + 1);
      if (end < 0)
        throw new Error(`unbalanced single quote at position ${i} in command template: ${template}`);
      cur += template.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (c === '"') {
      inToken = true;
      i++;
      let closed = false;
      while (i < n) {
        const d = template[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n && DQ_ESCAPABLE.has(template[i + 1])) {
          cur += template[i + 1];
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
      if (!closed) throw new Error(`unbalanced double quote in command template: ${template}`);
    } else if (c === '\\') {
      if (i + 1 >= n) throw new Error(`command template ends with a lone backslash: ${template}`);
      if (template[i + 1] !== '\n') {
        cur += template[i + 1];
        inToken = true;
      }
      i += 2;
    } else {
      cur += c;
      inToken = true;
      i++;
    }
  }
  if (inToken) args.push(cur);
  if (args.length === 0) throw new Error('command template is empty');
  return args;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Split `template`, then replace `{name}` placeholders inside each argument with
 * `vars[name]` in a single pass (values are never split or substituted again).
 * Throws on an unknown placeholder (naming it and the known ones) or a value with a
 * NUL character (which no argv can carry).
 */
export function renderCommand(template: string, vars: Record<string, string>): string[] {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(vars, k);
  return splitCommand(template).map((arg) =>
    arg.replace(PLACEHOLDER, (_m: string, name: string) => {
      if (!has(name)) {
        const known = Object.keys(vars)
          .sort()
          .map((k) => `{${k}}`)
          .join(', ');
        throw new Error(
          `unknown placeholder {${name}} in command template; known placeholders: ${known || '(none)'}`,
        );
      }
      const value = String(vars[name]);
      if (value.includes('\0')) throw new Error(`value of {${name}} contains a NUL character`);
      return value;
    }),
  );
}
