/**
 * Reads the files the worker's known secrets come from (the pgpass file, the file
 * DATABASE_URL_FILE names) and hands their text to the pure collection in
 * src/domain/known-secrets.ts. A file that cannot be read is no source (never an error).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { knownSecretValues } from '../domain/known-secrets.js';

/** The pgpass file libpq reads: PGPASSFILE, else ~/.pgpass (%APPDATA%\postgresql\pgpass.conf on Windows). */
export function pgpassPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  if (env.PGPASSFILE?.trim()) return env.PGPASSFILE.trim();
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'postgresql', 'pgpass.conf');
  return path.join(home, '.pgpass');
}

function readOrNull(file: string | undefined): string | null {
  if (!file) return null;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Every secret value the worker and its executors are given (see src/domain/known-secrets.ts):
 * from the database URL(s) the worker uses, the environment, the pgpass file and the file
 * DATABASE_URL_FILE names.
 */
export function collectKnownSecrets(
  databaseUrls: string | null | undefined | ReadonlyArray<string | null | undefined>,
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): string[] {
  return knownSecretValues({
    databaseUrls: Array.isArray(databaseUrls) ? databaseUrls : [databaseUrls as string | null | undefined],
    env,
    pgpass: readOrNull(pgpassPath(env, home)),
    databaseUrlFile: readOrNull(env.DATABASE_URL_FILE?.trim()),
  });
}
