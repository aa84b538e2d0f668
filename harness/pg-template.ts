/**
 * An initialised Postgres cluster to copy: initdb takes over a second, a copy of its result a
 * fraction of that. Built once per machine, per Postgres binaries and per version of the code
 * that initialises clusters (src/runtime/postgres.ts), in the temp directory; each test env
 * copies it (ownership and modes kept: as root the cluster belongs to 'postgres') and then
 * starts and migrates its own copy, so no two envs share a cluster or a database identity.
 *
 * The template's server runs with TimeZone = TEST_PG_TIMEZONE, not UTC, and an odd offset
 * (+12:45 / +13:45): Autopack's naive UTC times compared with our timestamptz columns, or a
 * bare now() written into a naive column, shift by it, so every e2e test that runs on such a
 * copy would see the shift. (The product's embedded Postgres keeps its own setting.)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { getFreePort } from '../src/runtime/ports.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/runtime/postgres.js';
import { projectRoot } from '../src/runtime/paths.js';

const run = promisify(execFile);

/** The test servers' TimeZone: not UTC, with a quarter-hour offset. */
export const TEST_PG_TIMEZONE = 'Pacific/Chatham';

async function templateKey(): Promise<string> {
  const h = createHash('sha256');
  h.update(await readFile(path.join(projectRoot(), 'src', 'runtime', 'postgres.ts')));
  h.update(await readFile(path.join(projectRoot(), 'package-lock.json')));
  h.update(String(process.getuid?.() ?? ''));
  h.update(`TimeZone=${TEST_PG_TIMEZONE}`);
  return h.digest('hex').slice(0, 16);
}

/** Builds the template in a dir of its own and moves it into place (the first builder wins). */
async function buildTemplate(final: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drain-pg-template-build-'));
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await getFreePort() });
  await pg.stop();
  // The last setting in postgresql.conf wins over the one initdb wrote.
  await appendFile(
    path.join(dir, 'pg', 'postgresql.conf'),
    `\n# autopack-drain tests: a server TimeZone that is not UTC\ntimezone = '${TEST_PG_TIMEZONE}'\n`,
  );
  await rename(dir, final).catch(async () => {
    await rm(dir, { recursive: true, force: true }); // another process built it meanwhile
  });
}

/** Copies an initialised cluster into `dir` (as `dir/pg`, with its password file). */
export async function copyPostgresTemplate(dir: string): Promise<void> {
  const final = path.join(os.tmpdir(), `drain-pg-template-${await templateKey()}`);
  if (!existsSync(path.join(final, 'pg', 'PG_VERSION'))) await buildTemplate(final);
  await run('cp', ['-a', path.join(final, 'pg'), path.join(final, 'pg-password'), dir]);
}

/**
 * A Postgres of its own for a test file that needs no Temporal: a copy of the template in
 * `dir/pg` (TimeZone TEST_PG_TIMEZONE), started on a free port. `dir` must be reachable by the
 * 'postgres' user when running as root (mode 755).
 */
export async function startTestPostgres(dir: string): Promise<EmbeddedPostgresHandle> {
  await copyPostgresTemplate(dir);
  for (let tries = 1; ; tries++) {
    try {
      return await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await getFreePort() });
    } catch (err) {
      if (tries >= 4 || !/in use/i.test(String((err as Error)?.message))) throw err;
    }
  }
}
