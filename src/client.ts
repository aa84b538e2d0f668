import {
  Client,
  Connection,
  WorkflowIdReusePolicy,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { defaultSessionId } from './domain/session-id.js';
import type { DrainInput } from './domain/types.js';
import type { SessionResult } from './domain/messages.js';
import { DEFAULT_TASK_QUEUE } from './domain/task-queue.js';

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address, connectTimeout: '5s' }).catch((err: Error) => {
    throw new Error(
      `cannot reach Temporal at ${address} (${err.message}); start \`drain dev\`, or set TEMPORAL_ADDRESS / --address`,
    );
  });
  return new Client({ connection, namespace });
}

/** Starts a drain session; its workflow id is the session id. */
export async function startDrain(
  client: Client,
  input: DrainInput,
  o: { sessionId?: string; taskQueue?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const sessionId = o.sessionId ?? defaultSessionId(new Date());
  return client.workflow.start('batchDrain', {
    taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId: sessionId,
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    staticSummary: `batch drain ${input.runId ? `of run ${input.runId}` : 'of the backlog'}`,
  });
}

export type { SessionResult };
