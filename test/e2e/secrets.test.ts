/**
 * Secrets never leave the worker unredacted. A real `drain worker` subprocess runs with
 * secrets in its environment (the embedded Postgres password in DATABASE_URL, PGPASSWORD,
 * GITHUB_TOKEN, OPENAI_API_KEY, a libpq conninfo, a URL with secret query parameters, other
 * secret-named variables) and a pgpass file (PGPASSFILE, a password with an escaped colon);
 * the executor prints its whole environment and every secret in free-text forms and bare (no
 * name in front: only the worker's known secret values catch those), and writes
 * the DATABASE_URL into the phase's last_failure_reason. Every copy that leaves the raw log
 * files is then collected — workflow history (payloads decoded), memo and search attributes,
 * every drain_* row, the session JSON, our header and trailer lines of the logs, the output
 * of the CLI and of the worker — and none may hold a secret. The raw logs must still hold
 * them (they are the evidence, byte for byte). A workflow input carrying a secret is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { startTestEnv, type TestEnv } from '../helpers/env.js';
import { AUTOPACK_WRITER_URL } from '../../harness/autopack-writer.js';
import { runDrain, type CliRun } from '../helpers/cli.js';
import { seedPhases } from '../../src/sim/seed.js';
import { ownLogLines } from '../../src/domain/attempt-log.js';
import { findTemporalCli } from '../../src/runtime/binaries.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { sessionJsonPath, sessionLogsDir, sessionsDir } from '../../activities/paths.js';

const SESSION = 'leaky-1';
const RUN = 'leaky-run';
const FAILING = 'p1-fail';
const SUCCEEDING = 'p2-ok';

const secretValue = () => `S3cr3t-${randomBytes(8).toString('hex')}`;

/**
 * The executor: prints its whole environment to stdout and every secret (read back from the
 * environment) in the free-text forms the redaction knows to stderr, writes the DATABASE_URL
 * and the conninfo password into last_failure_reason (FAILING) or sets COMPLETE, and exits
 * 1 or 0.
 */
function leakyExecutorSource(): string {
  return `import { readFileSync } from 'node:fs';
const [runId, phaseId] = process.argv.slice(2);
const e = process.env;
let out = '';
for (const [k, v] of Object.entries(e)) out += k + '=' + v + '\\n';
process.stdout.write(out);
const extra = new URL(e.EXTRA_URL);
const secrets = [
  decodeURIComponent(new URL(e.DATABASE_URL).password),
  e.PGPASSWORD,
  e.GITHUB_TOKEN,
  e.OPENAI_API_KEY,
  /password=(\\S+)/.exec(e.SERVICE_DSN)[1],
  extra.searchParams.get('sslpassword'),
  extra.searchParams.get('token'),
  // the password field of the pgpass file's first entry, unescaped as libpq does
  /^(?:(?:[^:\\\\]|\\\\.)*:){4}(.*)$/
    .exec(readFileSync(e.PGPASSFILE, 'utf8').split('\\n').find((l) => l && !l.startsWith('#')))[1]
    .replace(/\\\\(.)/g, '$1'),
  e.ACME_WEBHOOK_SECRET,
  e.ACME_SIGNING_KEY,
];
let err = '';
for (const s of secrets) {
  err += 'connecting with --password ' + s + ' to the api\\n';
  err += 'retrying: curl --token=' + s + ' https://api.example/v1\\n';
  err += 'PGPASSWORD=' + s + ' psql -h db\\n';
  err += 'Authorization: Bearer ' + s + '\\n';
}
err += 'DATABASE_URL is ' + e.DATABASE_URL + '\\n';
err += 'dsn: ' + e.SERVICE_DSN + '\\n';
err += 'extra: ' + e.EXTRA_URL + '\\n';
for (const s of secrets) err += 'bare: ' + s + '\\n';
process.stderr.write(err);
const fail = phaseId === ${JSON.stringify(FAILING)};
const reason = 'psycopg2.OperationalError: could not connect to ' + e.DATABASE_URL +
  ' (fallback dsn: password=' + secrets[4] + ')';
const w = await import(${JSON.stringify(AUTOPACK_WRITER_URL)});
const db = await w.openSimDb(e.DATABASE_URL);
await w.setPhaseState(db, { runId, phaseId }, fail ? 'FAILED' : 'COMPLETE', fail ? reason : null);
await w.closeSimDb(db);
process.exitCode = fail ? 1 : 0;
`;
}

/** Every string value under a key `data` (Temporal payloads are base64 there), decoded. */
function decodedPayloads(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) decodedPayloads(x, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'data' && typeof x === 'string') out.push(Buffer.from(x, 'base64').toString('utf8'));
      else decodedPayloads(x, out);
    }
  }
  return out;
}

interface HistoryEvent {
  eventId?: string | number;
  eventType?: string;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  [attributes: string]: unknown;
}

/** The decoded payloads of each history event, named "event <id> <type> (<activity type>)". */
function historyPayloads(history: { events?: HistoryEvent[] }): { where: string; text: string }[] {
  const events = history.events ?? [];
  const activityOf = new Map<string, string>();
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) activityOf.set(String(e.eventId), name);
  }
  return events.flatMap((e) => {
    const attrs = Object.values(e).find(
      (v): v is { scheduledEventId: unknown } =>
        typeof v === 'object' && v !== null && 'scheduledEventId' in v,
    );
    const activity = activityOf.get(String(attrs?.scheduledEventId ?? e.eventId));
    const where = `workflow history event ${e.eventId} ${e.eventType}${activity ? ` (${activity})` : ''}`;
    return decodedPayloads(e).map((text) => ({ where, text }));
  });
}

/** Files under dir, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** `drain <args>` without the `--address` that runDrain adds (for commands without Temporal). */
function runLocalDrain(args: string[], extraEnv: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(projectRoot(), 'bin', 'drain.js'), ...args],
      { env: { ...process.env, ...extraEnv }, timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        if (typeof code !== 'number') reject(err);
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

const isLog = (f: string) => f.endsWith('.stdout.txt') || f.endsWith('.stderr.txt');

/** Our lines of a log file: the header (before the first `# ---` line) and the trailer. */
function ownLines(text: string): { header: string; trailer: string } {
  const own = ownLogLines(text);
  assert.ok(own.header, 'the log has a header ending in "# ---"');
  return { header: own.header, trailer: own.trailer ?? '' };
}

describe('secrets never reach history, rows, the session JSON, log headers or CLI output', () => {
  let env: TestEnv;
  let worker: ChildProcess;
  /** name → value; name says where the secret came from. */
  const secrets: Record<string, string> = {};
  const cli: Record<string, CliRun> = {};
  let start: CliRun;

  /** Where a secret appears in `text`, as "<where>: <secret> in …context…" (secrets masked). */
  function leaksIn(where: string, text: string): string[] {
    const entries = Object.entries(secrets);
    const masked = entries.reduce((acc, [n, v]) => acc.split(v).join(`<${n}>`), text);
    const out: string[] = [];
    for (const [name, value] of entries) {
      if (!text.includes(value)) continue;
      const i = masked.indexOf(`<${name}>`);
      const context = masked.slice(Math.max(0, i - 120), i + name.length + 80).replace(/\n/g, '\\n');
      out.push(`${where}: ${name} in …${context}…`);
    }
    return out;
  }

  function assertNoLeaks(leaks: string[]): void {
    assert.deepEqual(leaks, [], `secrets leaked:\n${leaks.join('\n')}`);
  }

  function temporal(args: string[]): string {
    return execFileSync(findTemporalCli(), [...args, '--address', env.temporal.address], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
  }

  before(async () => {
    env = await startTestEnv();
    const s = {
      pw: decodeURIComponent(new URL(env.databaseUrl).password),
      pg: secretValue(),
      gh: secretValue(),
      openai: secretValue(),
      dsn: secretValue(),
      sslpw: secretValue(),
      token: secretValue(),
      pgpass: `Pg:pass\\${secretValue()}`,
      webhook: secretValue(),
      signing: secretValue(),
    };
    assert.ok(s.pw.length >= 12, 'the embedded Postgres password is long enough to search for');
    Object.assign(secrets, {
      'secret1 (DATABASE_URL password)': s.pw,
      'secret2 (PGPASSWORD)': s.pg,
      'secret3 (GITHUB_TOKEN)': s.gh,
      'secret4 (OPENAI_API_KEY)': s.openai,
      'secret5 (SERVICE_DSN password=)': s.dsn,
      'secret6 (EXTRA_URL ?sslpassword=)': s.sslpw,
      'secret7 (EXTRA_URL &token=)': s.token,
      'secret8 (PGPASSFILE entry, escaped : and \\)': s.pgpass,
      'secret9 (ACME_WEBHOOK_SECRET)': s.webhook,
      'secret10 (ACME_SIGNING_KEY)': s.signing,
    });
    const pgpass = path.join(env.dir, 'pgpass');
    const escaped = s.pgpass.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
    writeFileSync(pgpass, `# host:port:db:user:password\ndb.example:5432:autopack:drain:${escaped}\n`, {
      mode: 0o600,
    });
    const script = path.join(env.dir, 'leaky.mjs');
    writeFileSync(script, leakyExecutorSource());
    chmodSync(script, 0o755);
    await seedPhases(env.pool, [
      { runId: RUN, phaseId: FAILING, lastFailureReason: 'patch apply failed' },
      { runId: RUN, phaseId: SUCCEEDING, lastFailureReason: 'patch apply failed' },
    ]);
    worker = env.spawnWorker({
      PGPASSWORD: s.pg,
      GITHUB_TOKEN: s.gh,
      OPENAI_API_KEY: s.openai,
      SERVICE_DSN: `host=db port=5432 password=${s.dsn} dbname=x`,
      EXTRA_URL: `postgresql://db/x?sslpassword=${s.sslpw}&token=${s.token}`,
      PGPASSFILE: pgpass,
      ACME_WEBHOOK_SECRET: s.webhook,
      ACME_SIGNING_KEY: s.signing,
    });
    const template = `'${process.execPath}' '${script}' {run_id} {phase_id}`;
    const addr = env.temporal.address;
    const withDb = { DATABASE_URL: env.databaseUrl };
    // Batch size 3: the failing phase is drained twice, so the second selection reads the
    // last_failure_reason its executor wrote (with the DATABASE_URL in it).
    start = await runDrain(
      addr,
      [
        'start',
        '--wait',
        '--batch-size',
        '3',
        '--phase-timeout-seconds',
        '60',
        '--executor',
        template,
        '--session-id',
        SESSION,
        '--task-queue',
        env.taskQueue,
      ],
      120_000,
      withDb,
    );
    cli['drain start --wait'] = start;
    cli['drain status'] = await runDrain(addr, ['status', SESSION]);
    cli['drain status --json'] = await runDrain(addr, ['status', SESSION, '--json']);
    cli['drain summary'] = await runDrain(addr, ['summary', SESSION, '--workspace', env.workspace]);
    cli['drain summary --json'] = await runDrain(addr, [
      'summary',
      SESSION,
      '--workspace',
      env.workspace,
      '--json',
    ]);
    cli['drain list'] = await runDrain(addr, ['list']);
    cli['drain list --json'] = await runDrain(addr, ['list', '--json']);
    // verify reads records only (no Temporal, no --address flag).
    cli['drain verify --json'] = await runLocalDrain(['verify', SESSION, '--json'], withDb);
    cli['drain verify'] = await runLocalDrain(['verify', SESSION], withDb);
  });
  after(() => env?.teardown());

  test('the session ran: three attempts, the failing phase twice', async () => {
    assert.equal(
      start.code,
      1,
      `drain start --wait: a phase is still failed\n${start.stdout}\n${start.stderr}`,
    );
    const r = await env.pool.query(
      'SELECT phase_id, attempt, success FROM drain_attempts WHERE session_id = $1 ORDER BY id',
      [SESSION],
    );
    assert.deepEqual(r.rows.map((x) => [x.phase_id, x.attempt, x.success]).sort(), [
      [FAILING, 1, false],
      [FAILING, 2, false],
      [SUCCEEDING, 1, true],
    ]);
    for (const [name, run] of Object.entries(cli)) {
      assert.ok(run.code === 0 || run.code === 1, `${name} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
    }
  });

  test('the evidence is there: raw logs hold the secrets, the rows hold *** in their place', async () => {
    const logs = filesUnder(sessionLogsDir(env.workspace, SESSION)).filter(isLog);
    assert.equal(logs.length, 6, `two log files per attempt: ${logs.join(', ')}`);
    const raw = (suffix: string) =>
      logs
        .filter((f) => path.basename(f).includes(FAILING) && f.endsWith(suffix))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
    const out = raw('.stdout.txt');
    const err = raw('.stderr.txt');
    assert.ok(
      out.includes(`GITHUB_TOKEN=${secrets['secret3 (GITHUB_TOKEN)']}`),
      'raw stdout log has the env',
    );
    assert.ok(out.includes(`DATABASE_URL=${env.databaseUrl}`), 'raw stdout log has the DATABASE_URL');
    assert.ok(err.includes(`--password ${secrets['secret2 (PGPASSWORD)']}`), 'raw stderr log has free text');
    assert.ok(err.includes(`DATABASE_URL is ${env.databaseUrl}`), 'raw stderr log has the DATABASE_URL');
    for (const [name, value] of Object.entries(secrets))
      assert.ok(err.includes(`bare: ${value}\n`), `raw stderr log has ${name} bare`);

    const rows = (
      await env.pool.query(
        `SELECT phase_id, stdout_excerpt, stderr_excerpt, last_failure_reason, error_message
           FROM drain_attempts WHERE session_id = $1`,
        [SESSION],
      )
    ).rows;
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.match(row.stdout_excerpt, /^GITHUB_TOKEN=\*\*\*$/m, `${row.phase_id}: stdout excerpt redacted`);
      assert.match(row.stdout_excerpt, /^PGPASSWORD=\*\*\*$/m);
      assert.match(row.stderr_excerpt, /connecting with --password \*\*\* to the api/);
      assert.match(row.stderr_excerpt, /^Authorization: Bearer \*\*\*$/m);
      assert.ok(row.stderr_excerpt.includes('DATABASE_URL is postgres://postgres:***@127.0.0.1:'));
      // Printed bare, every secret is known to the worker (DATABASE_URL, PGPASSWORD, pgpass,
      // secret-named variables, passwords in any variable's URL or conninfo).
      const bare = row.stderr_excerpt.split('\n').filter((l: string) => l.startsWith('bare: '));
      assert.deepEqual(
        bare,
        Object.keys(secrets).map(() => 'bare: ***'),
        `${row.phase_id}: bare secrets`,
      );
    }
    for (const row of rows.filter((x) => x.phase_id === FAILING)) {
      assert.match(
        row.last_failure_reason,
        /could not connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+/,
      );
      assert.match(row.last_failure_reason, /\(fallback dsn: password=\*\*\*/);
      assert.ok(row.error_message.includes('postgres://postgres:***@'), row.error_message);
    }
  });

  test('workflow history (payloads decoded), memo and search attributes hold no secret', () => {
    const show = temporal(['workflow', 'show', '--workflow-id', SESSION, '--output', 'json']);
    const history = JSON.parse(show);
    const payloads = historyPayloads(history);
    assert.ok(
      payloads.some((p) => p.text.includes('stderrExcerpt')),
      'the history holds the attempt outcomes',
    );
    const describe = temporal(['workflow', 'describe', '--workflow-id', SESSION, '--output', 'json']);
    const described = decodedPayloads(JSON.parse(describe));
    assertNoLeaks([
      ...leaksIn('workflow history (raw JSON)', show),
      ...payloads.flatMap((p) => leaksIn(p.where, p.text)),
      ...leaksIn('workflow describe (raw JSON)', describe),
      ...described.flatMap((p, i) => leaksIn(`workflow describe memo/search-attribute payload #${i}`, p)),
    ]);
  });

  test('no drain_* table row holds a secret', async () => {
    const tables = (
      await env.pool.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables
          WHERE table_schema = 'public' AND table_name LIKE 'drain\\_%' ORDER BY 1`,
      )
    ).rows.map((r) => r.t);
    assert.ok(tables.includes('drain_attempts') && tables.includes('drain_sessions'), tables.join(', '));
    const leaks: string[] = [];
    for (const t of tables) {
      const rows = (await env.pool.query(`SELECT to_jsonb(x)::text AS j FROM ${t} x`)).rows;
      rows.forEach((r, i) => leaks.push(...leaksIn(`${t} row #${i}`, r.j as string)));
    }
    assertNoLeaks(leaks);
  });

  test('the session JSON and the other non-log files of the session hold no secret', () => {
    const file = sessionJsonPath(env.workspace, SESSION);
    assert.ok(existsSync(file), file);
    const others = filesUnder(sessionsDir(env.workspace)).filter((f) => !isLog(f));
    assert.ok(others.includes(file));
    assertNoLeaks(others.flatMap((f) => leaksIn(path.relative(env.workspace, f), readFileSync(f, 'utf8'))));
  });

  test("the logs' header and trailer lines hold no secret", () => {
    const logs = filesUnder(sessionLogsDir(env.workspace, SESSION)).filter(isLog);
    assert.ok(logs.length > 0);
    const leaks: string[] = [];
    for (const f of logs) {
      const { header, trailer } = ownLines(readFileSync(f, 'utf8'));
      assert.match(header, /^DATABASE_URL=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\//);
      leaks.push(...leaksIn(`${path.basename(f)} header`, header));
      leaks.push(...leaksIn(`${path.basename(f)} trailer`, trailer));
    }
    assertNoLeaks(leaks);
  });

  test("the CLI's and the worker's output hold no secret", () => {
    assert.match(start.stdout, /Database: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:/, 'the banner is shown');
    const leaks = Object.entries(cli).flatMap(([name, r]) => [
      ...leaksIn(`${name} stdout`, r.stdout),
      ...leaksIn(`${name} stderr`, r.stderr),
    ]);
    leaks.push(...leaksIn('drain worker output', (worker as unknown as { output: string }).output));
    assertNoLeaks(leaks);
  });

  test('a workflow input carrying a secret is refused', async () => {
    const secretX = secretValue();
    // Through Temporal directly: the input is in the start event (Temporal stores it before
    // any of our code runs); the workflow fails at once, non-retryable, naming the field.
    const t0 = Date.now();
    temporal([
      'workflow',
      'start',
      '--type',
      'batchDrain',
      '--task-queue',
      env.taskQueue,
      '--workflow-id',
      'leaky-input',
      '--input',
      JSON.stringify({ executor: `tool --password ${secretX} {run_id}` }),
    ]);
    const err = await env.client.workflow
      .getHandle('leaky-input')
      .result()
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkflowFailedError, `workflow failed: ${String(err)}`);
    const cause = err.cause as {
      message: string;
      type?: string;
      nonRetryable?: boolean;
      details?: unknown[];
    };
    assert.equal(cause.type, 'InvalidDrainInput');
    assert.equal(cause.nonRetryable, true);
    assert.deepEqual(cause.details, ['executor']);
    assert.ok(cause.message.includes('executor'), cause.message);
    assert.ok(!cause.message.includes(secretX), 'the failure does not echo the secret');
    assert.ok(Date.now() - t0 < 20_000, 'fails fast');

    // Through the CLI: refused before any workflow is started, so nothing reaches history.
    const r = await runDrain(env.temporal.address, [
      'start',
      '--executor',
      `tool --password ${secretX}`,
      '--session-id',
      'leaky-cli-input',
      '--task-queue',
      env.taskQueue,
    ]);
    assert.equal(r.code, 2, `drain start exits 2\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /executor/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(secretX), 'the CLI does not echo the secret');
    await assert.rejects(
      env.client.workflow.getHandle('leaky-cli-input').describe(),
      WorkflowNotFoundError,
      'no workflow was started',
    );
  });
});
