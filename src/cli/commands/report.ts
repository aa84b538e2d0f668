import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Queryable } from '../../db/pool.js';
import { listReportAttempts, reportAttempt } from '../../db/report-facts.js';
import { getSessionRecord } from '../../db/verify-facts.js';
import { renderReportHtml } from '../../domain/report-html.js';
import { verdictLine } from '../../domain/verify-format.js';
import { withBacklogDatabase } from '../database.js';
import { readSessionJson } from '../session-lookup.js';
import { verifySession } from '../verify-session.js';

const HELP = `
Writes one self-contained HTML file about a session (every script and style inlined; it
loads nothing from the network, so it opens offline and can be mailed or archived):

  - the verdict of drain verify: each of the six criteria PASS/FAIL/N/A with its evidence
  - charts: attempt durations (a bar per try), telemetry yield over the session (by attempt
    start time), outcomes by run (stacked bars), the top failure fingerprints, tokens per
    attempt (phases.tokens_used; "n/a" on a backlog without that column, never 0)
  - the BATCH DRAIN SUMMARY, and a table of every try in drain_attempts (with its tokens)

Data: the session's drain_sessions and drain_attempts rows, its log files (for the verdict)
and its session JSON (found under --workspace, else the session's recorded workspace, else
./.autonomous_runs/batch_drain_sessions/). Temporal is not contacted. Secrets in any of it
are redacted; every text is HTML-escaped. Charts are drawn with Chart.js, inlined.

Database: DATABASE_URL, else this project's embedded Postgres (started for the call if it
is not running).

Exit codes:
  0  the file was written (whatever the verdict; it is printed and shown in the file)
  1  the report could not be made (e.g. the database is unreachable, the file not writable)
  2  unknown session, no session JSON found, or bad usage
`;

/** Chart.js's browser build (UMD) from node_modules, with its version. */
export function chartJsLibrary(): { name: string; source: string } {
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('chart.js'));
  const version = (
    JSON.parse(readFileSync(path.join(dist, '..', 'package.json'), 'utf8')) as { version: string }
  ).version;
  return { name: `Chart.js v${version}`, source: readFileSync(path.join(dist, 'chart.umd.min.js'), 'utf8') };
}

interface ReportFlags {
  html: string;
  workspace?: string;
}

/** Gathers the report's data and writes the HTML file (atomically: a temp file, then rename). */
async function writeReport(pool: Queryable, sessionId: string, flags: ReportFlags): Promise<string> {
  const given = flags.workspace ? path.resolve(flags.workspace) : null;
  const verify = await verifySession(pool, sessionId, { workspace: given });
  const recorded = (await getSessionRecord(pool, sessionId))?.workspace ?? undefined;
  const { json } = await readSessionJson(null, sessionId, given ?? recorded);
  const attempts = (await listReportAttempts(pool, sessionId)).map(reportAttempt);
  const html = renderReportHtml({
    session: json,
    verify,
    attempts,
    chartLibrary: chartJsLibrary(),
    generatedAt: new Date().toISOString(),
  });
  const file = path.resolve(flags.html);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, html, 'utf8');
  await rename(tmp, file);
  return `wrote ${file} (${attempts.length} tries; ${verdictLine(verify)})`;
}

export function registerReport(program: Command): void {
  program
    .command('report <sessionId>')
    .description('write a self-contained HTML report of a session: verdict, charts, summary, attempts')
    .requiredOption('--html <file>', 'write the HTML report to this file')
    .option('--workspace <dir>', 'the directory the session drained in (its session JSON and logs)')
    .addHelpText('after', HELP)
    .action(async (sessionId: string, flags: ReportFlags) => {
      console.log(await withBacklogDatabase((pool) => writeReport(pool, sessionId, flags)));
    });
}
