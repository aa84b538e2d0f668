import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The directory holding this project's package.json (found upwards from this file). */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return (cachedRoot = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Where local state lives (embedded Postgres, dev server db, logs): DRAIN_STATE_DIR or `<root>/.drain`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DRAIN_STATE_DIR?.trim();
  return fromEnv ? path.resolve(fromEnv) : path.join(projectRoot(), '.drain');
}

/** Where `npm run setup-tools` installs the Temporal binaries: `<root>/.tools`. */
export function toolsDir(): string {
  return path.join(projectRoot(), '.tools');
}
