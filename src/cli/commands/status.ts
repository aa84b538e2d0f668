import type { Command } from 'commander';
import { connectClient } from '../../client.js';
import { addConnFlags, withClient } from '../conn.js';
import { progressQuery, type Progress } from '../../domain/messages.js';
import { formatSummary } from '../../domain/report.js';
import { formatSeconds } from '../../domain/format.js';
import { temporalTarget } from '../env.js';
import { readSessionJson, sessionIdOrNewest } from '../session-lookup.js';

const conn = addConnFlags;

export function formatProgress(p: Progress): string {
  const lines = [
    `Session ${p.sessionId}: ${p.status}${p.dryRun ? ' (dry run)' : ''}`,
    `  processed ${p.processed}/${p.batchSize}: ${p.succeeded} ok, ${p.failed} failed, ${p.timeouts} timeouts, ${p.telemetryEvents} telemetry events`,
    `  elapsed ${formatSeconds(Math.round(p.elapsedSeconds))}${p.remainingSeconds == null ? '' : `, ${formatSeconds(Math.round(p.remainingSeconds))} of time budget left`}`,
  ];
  const draining = (c: NonNullable<Progress['current']>) =>
    `draining ${c.runId} / ${c.phaseId} (attempt ${c.attempt}) for ${formatSeconds(Math.round(c.runningSeconds))} (timeout ${formatSeconds(c.timeoutSeconds)})`;
  const slots = p.slots ?? [];
  if (slots.length > 1) {
    lines.push(`  ${slots.length} slots, ${slots.filter(Boolean).length} draining:`);
    slots.forEach((c, i) =>
      lines.push(`    slot ${i + 1}: ${c ? draining(c) : 'idle (selecting or waiting)'}`),
    );
  } else if (p.current) {
    lines.push(`  ${draining(p.current)}`);
  }
  const stopped = Object.entries(p.stoppedRuns);
  if (stopped.length) lines.push(`  stopped runs: ${stopped.map(([r, why]) => `${r} (${why})`).join('; ')}`);
  if (p.stoppedFingerprints.length) lines.push(`  stopped fingerprints: ${p.stoppedFingerprints.length}`);
  if (p.stopReason) lines.push(`  stop reason: ${p.stopReason}`);
  if (p.sessionJson) lines.push(`  session file: ${p.sessionJson}`);
  return lines.join('\n');
}

export function registerStatus(program: Command): void {
  conn(program.command('status [sessionId]').description('progress of a session (default: the newest)'))
    .option('--json', 'print the progress query result as JSON')
    .action(
      async (id: string | undefined, flags: { json?: boolean; address?: string; namespace?: string }) => {
        await withClient(flags, async (client) => {
          const sessionId = await sessionIdOrNewest(client, id);
          const p = await client.workflow.getHandle(sessionId).query(progressQuery);
          console.log(flags.json ? JSON.stringify(p, null, 2) : formatProgress(p));
        });
      },
    );

  conn(
    program
      .command('summary <sessionId>')
      .description('the BATCH DRAIN SUMMARY of a session, from its session JSON'),
  )
    .option('--workspace <dir>', 'the directory the session drained in (default: from the session, else .)')
    .option('--json', 'print the session JSON')
    .action(
      async (
        id: string,
        flags: { workspace?: string; json?: boolean; address?: string; namespace?: string },
      ) => {
        const t = temporalTarget(flags);
        const client = await connectClient(t.address, t.namespace).catch(() => null);
        try {
          const { json } = await readSessionJson(client, id, flags.workspace);
          console.log(flags.json ? JSON.stringify(json, null, 2) : formatSummary(json));
        } finally {
          await client?.connection.close().catch(() => {});
        }
      },
    );
}
