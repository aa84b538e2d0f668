/**
 * Where the backlog is: a PostgreSQL URL or a SQLite file, parsed the way Autopack's own
 * `config.get_database_url()` resolves it (../shared/reference/autopack-schema.md):
 *   postgres://…, postgresql://…, postgresql+psycopg2://…   PostgreSQL (the driver suffix dropped)
 *   sqlite:///autopack.db       relative: resolved against the workspace (the executor's cwd)
 *   sqlite:////abs/path.db      absolute
 *   sqlite:///C:/dev/x.db, sqlite:///C:\dev\x.db   a Windows drive path (parsed; usable on Windows only)
 *   sqlite+pysqlite:///…        SQLAlchemy's driver suffix is accepted and dropped
 * DATABASE_URL_FILE names a file holding the URL and wins over DATABASE_URL (as in Autopack).
 * Pure except for the injected file reader; no secret is ever put into an error message.
 */
import path from 'node:path';

export type BacklogLocation =
  | { kind: 'postgres'; url: string }
  | {
      kind: 'sqlite';
      /** Absolute path of the file (a Windows drive path stays in its own form). */
      path: string;
      /** The same database as an absolute URL, as the executor gets it. */
      url: string;
      /** A Windows drive path (C:/…): a Linux worker cannot open it. */
      windows: boolean;
    };

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

const WINDOWS_DRIVE = /^[A-Za-z]:[\\/]/;

/** The scheme of a URL without SQLAlchemy's `+driver` suffix, lower-case ('' when none). */
function schemeOf(raw: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw);
  return m ? m[1].toLowerCase().split('+')[0] : '';
}

/** A short, secret-free description of a URL for error messages. */
function shown(raw: string): string {
  const s = schemeOf(raw);
  return s ? `a ${s}: URL` : 'a value without a scheme';
}

function parseSqlite(raw: string, workspace: string): BacklogLocation {
  const m = /^sqlite(?:\+[A-Za-z0-9_]+)?:\/\/(.*)$/i.exec(raw);
  if (!m) throw new DatabaseUrlError(`not a SQLite URL (${shown(raw)})`);
  const rest = m[1];
  if (!rest.startsWith('/'))
    throw new DatabaseUrlError(
      `a SQLite URL has three slashes before a relative path (sqlite:///autopack.db) and four before an absolute one (sqlite:////abs/autopack.db); got sqlite://${rest.split('?')[0]}`,
    );
  const [pathPart, query] = splitQuery(rest.slice(1));
  if (query !== null)
    throw new DatabaseUrlError(
      `SQLite URL options (?${query}) are not supported: the file is opened as Autopack opens it`,
    );
  let p: string;
  try {
    p = decodeURIComponent(pathPart);
  } catch {
    throw new DatabaseUrlError(`the SQLite path ${JSON.stringify(pathPart)} has a broken %-escape`);
  }
  if (p === '' || p === ':memory:' || p.startsWith('file:'))
    throw new DatabaseUrlError(
      `sqlite:///${p} is not a file two processes can share: name the backlog's .db file (sqlite:///autopack.db)`,
    );
  if (p.includes('\0')) throw new DatabaseUrlError('the SQLite path contains a NUL byte');
  if (WINDOWS_DRIVE.test(p)) {
    const win = p.replace(/\\/g, '/');
    return { kind: 'sqlite', path: win, url: `sqlite:///${win}`, windows: true };
  }
  const abs = p.startsWith('/') ? path.normalize(p) : path.resolve(workspace, p);
  return { kind: 'sqlite', path: abs, url: `sqlite:///${abs}`, windows: false };
}

function splitQuery(s: string): [string, string | null] {
  const i = s.indexOf('?');
  return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
}

/**
 * Parses a database URL. A relative SQLite path is resolved against `workspace` (the
 * directory the executor runs in, as Autopack resolves it against its repository root).
 */
export function parseDatabaseUrl(raw: string, o: { workspace: string }): BacklogLocation {
  const url = raw.trim();
  if (url === '') throw new DatabaseUrlError('the database URL is empty');
  const scheme = schemeOf(url);
  if (scheme === 'sqlite') return parseSqlite(url, o.workspace);
  if (scheme === 'postgres' || scheme === 'postgresql') {
    // SQLAlchemy's postgresql+psycopg2:// is the same database for the pg driver.
    return { kind: 'postgres', url: url.replace(/^[A-Za-z][A-Za-z0-9.-]*\+[A-Za-z0-9_]+:/, 'postgresql:') };
  }
  throw new DatabaseUrlError(
    `unsupported database URL (${shown(url)}): use postgres://user@host/db or sqlite:///autopack.db`,
  );
}

/**
 * The backlog URL from the environment: the content of the file DATABASE_URL_FILE names (it
 * wins, as in Autopack), else DATABASE_URL, else null. `readFile` is injected (tests, clients).
 */
export function databaseUrlFromEnv(
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string,
): string | null {
  const file = env.DATABASE_URL_FILE?.trim();
  if (file) {
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new DatabaseUrlError(`DATABASE_URL_FILE=${file} cannot be read (${code})`);
    }
    const url = text.trim();
    if (!url) throw new DatabaseUrlError(`DATABASE_URL_FILE=${file} is empty`);
    return url;
  }
  return env.DATABASE_URL?.trim() || null;
}

/** How a backlog is named to an operator: the file's absolute path, or the URL (redact it). */
export function backlogLabel(loc: BacklogLocation): string {
  return loc.kind === 'sqlite' ? `SQLite ${loc.path}` : loc.url;
}
