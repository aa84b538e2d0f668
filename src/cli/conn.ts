/** Connection flags and session lookups shared by the operator commands. */
import type { Command } from 'commander';
import { Client, WorkflowNotFoundError, type WorkflowExecutionDescription } from '@temporalio/client';
import { connectClient } from '../client.js';
import { temporalTarget } from './env.js';

export interface ConnFlags {
  address?: string;
  namespace?: string;
}

export function addConnFlags(cmd: Command): Command {
  return cmd
    .option('--address <host:port>', 'Temporal address (default TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default TEMPORAL_NAMESPACE or default)');
}

/** Connects, runs `fn`, and closes the connection so the process can exit. */
export async function withClient<T>(flags: ConnFlags, fn: (client: Client) => Promise<T>): Promise<T> {
  const t = temporalTarget(flags);
  const client = await connectClient(t.address, t.namespace);
  try {
    return await fn(client);
  } finally {
    await client.connection.close().catch(() => {});
  }
}

/** describe() of a batchDrain session; a clear error if no workflow has that id. */
export async function describeSession(
  client: Client,
  sessionId: string,
): Promise<WorkflowExecutionDescription> {
  let d: WorkflowExecutionDescription;
  try {
    d = await client.workflow.getHandle(sessionId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new Error(
        `no drain session "${sessionId}" in namespace ${client.options.namespace} (see \`drain list --all\`)`,
      );
    }
    throw err;
  }
  if (d.type !== 'batchDrain') throw new Error(`"${sessionId}" is a ${d.type} workflow, not a drain session`);
  return d;
}

/** Like describeSession, but the session must still be running. */
export async function runningSession(
  client: Client,
  sessionId: string,
): Promise<WorkflowExecutionDescription> {
  const d = await describeSession(client, sessionId);
  if (d.status.name !== 'RUNNING') {
    const closed = d.closeTime ? ` at ${d.closeTime.toISOString()}` : '';
    throw new Error(`session ${sessionId} is not running (status ${d.status.name}${closed})`);
  }
  return d;
}
