import type { Command } from 'commander';
import path from 'node:path';
import { formatVerifyJson, formatVerifyMarkdown, formatVerifyText } from '../../domain/verify-format.js';
import { UsageError } from '../env.js';
import { withBacklogDatabase } from '../database.js';
import { verifySession } from '../verify-session.js';

const FORMATS = ['text', 'md', 'json'] as const;
type Format = (typeof FORMATS)[number];

const HELP = `
Judges the reliability plan's six acceptance criteria for one session from its records
alone: drain_sessions, drain_attempts, drain_baselines and telemetry rows, and the log
files on disk. Temporal is not contacted (no server needs to run).

  1 No Silent Failures              4 Environment/Identity Consistency
  2 No "Unknown error" w/o evidence 5 Throughput / Stability
  3 Correct Phase Selection Safety  6 Telemetry Viability

Each criterion is PASS, FAIL or N/A (nothing to judge; counts as passing).

Output formats:
  (default)    "Session <id>", one line per criterion "[PASS] 1. <title>: <evidence>" with
               its problems indented below it, then "Verdict: PASS (6/6 criteria)" or
               "Verdict: FAIL (criteria 2, 4 failed)"
  --format md  the "Batch Drain Health Acceptance Criteria" block, ready for a report
  --json       {"sessionId", "verdict", "criteria": [{"id", "title", "status", "evidence", "problems"}]}

Database: DATABASE_URL, else this project's embedded Postgres (started for the call if it
is not running).

Exit codes:
  0  every criterion passes (N/A included)
  1  a criterion fails, or the verification could not run (e.g. the database is unreachable)
  2  unknown session (no drain_sessions row and no drain_attempts rows), or bad usage
`;

function outputFormat(flags: { json?: boolean; format?: string }): Format {
  const f = flags.format ?? (flags.json ? 'json' : 'text');
  if (!(FORMATS as readonly string[]).includes(f)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got "${f}")`);
  }
  if (flags.json && f !== 'json') throw new UsageError(`--json and --format ${f} exclude each other`);
  return f as Format;
}

export function registerVerify(program: Command): void {
  program
    .command('verify <sessionId>')
    .description("check a session against the reliability plan's six acceptance criteria, from its records")
    .option('--json', 'print the result as JSON')
    .option('--format <format>', `output format: ${FORMATS.join(' | ')}`)
    .option('--workspace <dir>', 'look for the log files under this workspace (default: the recorded paths)')
    .addHelpText('after', HELP)
    .action(async (sessionId: string, flags: { json?: boolean; format?: string; workspace?: string }) => {
      const format = outputFormat(flags);
      const workspace = flags.workspace ? path.resolve(flags.workspace) : null;
      const result = await withBacklogDatabase((pool) => verifySession(pool, sessionId, { workspace }));
      const print = { text: formatVerifyText, md: formatVerifyMarkdown, json: formatVerifyJson }[format];
      console.log(print(result));
      process.exitCode = result.verdict === 'PASS' ? 0 : 1;
    });
}
