/**
 * Entry point of the reference executor (imported by bin/drain-sim.js; runs on import):
 *   DATABASE_URL=… drain-sim --run-id R --phase-id P [--force]
 * DATABASE_URL: a postgres URL or a SQLite one (sqlite:////abs/path.db; a relative
 * sqlite:///x.db is resolved against the current directory, as Autopack's executor does).
 * Exit codes: see USAGE in args.ts.
 */
import { DatabaseUrlError } from '../db/database-url.js';
import { redactSecrets, secretValuesOf } from '../domain/redact.js';
import { USAGE, parseSimArgs } from './args.js';
import { closeSimDb, openSimDb, type SimDb } from './db.js';
import { runExecutor, type Outcome } from './executor.js';
import { err, guardStdio, out } from './output.js';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const parsed = parseSimArgs(argv);
  if (!parsed.ok) {
    await err(`drain-sim: ${parsed.error}\n\n${USAGE}`);
    return { exitCode: 2 };
  }
  if ('help' in parsed) {
    await out(USAGE);
    return { exitCode: 0 };
  }
  const url = env.DATABASE_URL;
  if (!url) {
    await err(
      'drain-sim: DATABASE_URL is not set; the executor needs the backlog database (the controller passes it)',
    );
    return { exitCode: 2 };
  }
  const known = secretValuesOf(url);
  const safe = (e: unknown) => redactSecrets(e instanceof Error ? e.message : String(e), known);
  let client: SimDb;
  try {
    client = await openSimDb(url);
  } catch (e) {
    if (e instanceof DatabaseUrlError) {
      await err(`drain-sim: DATABASE_URL is not usable: ${safe(e)}`);
      return { exitCode: 2 };
    }
    await err(`drain-sim: cannot connect to the database: ${safe(e)}`);
    return { exitCode: 2 };
  }
  try {
    return await runExecutor(client, {
      runId: parsed.args.runId,
      phaseId: parsed.args.phaseId,
      force: parsed.args.force,
      telemetry: env.TELEMETRY_DB_ENABLED === '1' || env.TELEMETRY_DB_ENABLED?.toLowerCase() === 'true',
      sessionId: env.DRAIN_SESSION_ID,
    });
  } catch (e) {
    await err(`drain-sim: database error: ${safe(e)}`);
    return { exitCode: 1 };
  } finally {
    await closeSimDb(client).catch(() => {});
  }
}

guardStdio();
// Like a killed executor: stop at once, leaving the phase as it is (EXECUTING).
process.on('SIGTERM', () => {
  process.stderr.write('[sim] SIGTERM: exiting\n');
  process.exit(143);
});

main(process.argv.slice(2), process.env).then(
  (outcome) => {
    if ('forever' in outcome) return outcome.forever();
    process.exitCode = outcome.exitCode;
  },
  (e: unknown) => {
    process.stderr.write(
      `drain-sim: ${redactSecrets(String(e), secretValuesOf(process.env.DATABASE_URL ?? ''))}\n`,
    );
    process.exitCode = 1;
  },
);
