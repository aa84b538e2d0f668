/** Redaction of an argument vector (see src/domain/redact.ts). */
import { isSecretFlag, isSecretName } from './names.js';
import { REDACTED, isNameCode } from './scan.js';
import { redactSecrets } from './text.js';
/** `--name=value` / `NAME=value` with a secret name: the whole value (commas, spaces and all). */
function redactAssignment(arg: string): string {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) return arg;
  const name = arg.slice(0, eq);
  for (let i = 0; i < name.length; i++) if (!isNameCode(name.charCodeAt(i))) return arg;
  return isSecretName(name) ? `${name}=${REDACTED}` : arg;
}

function takesSecretValue(arg: string): boolean {
  for (let i = 0; i < arg.length; i++) if (!isNameCode(arg.charCodeAt(i))) return false;
  return isSecretFlag(arg);
}

/**
 * Redacts an argument vector: the element after `--password`/`-token`/… (whatever it holds),
 * the value of `--password=…` and `PGPASSWORD=…`, and each element through redactSecrets.
 */
export function redactArgv(argv: readonly string[], known: readonly string[] = []): string[] {
  if (!Array.isArray(argv)) return [];
  try {
    const out: string[] = [];
    let valueNext = false;
    for (const raw of argv) {
      const arg = typeof raw === 'string' ? raw : String(raw);
      if (valueNext) {
        out.push(arg === '' ? arg : REDACTED);
        valueNext = false;
        continue;
      }
      valueNext = takesSecretValue(arg);
      out.push(redactSecrets(redactAssignment(arg), known));
    }
    return out;
  } catch {
    return argv.map(() => REDACTED);
  }
}
