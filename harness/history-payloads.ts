/** Payload sizes of a session's workflow histories (every run of its chain), for cost tests. */
import type { Client } from '@temporalio/client';

/** Sum of payload bytes of every `payloads` list found in one history event. */
function eventPayloadBytes(event: unknown): number {
  let total = 0;
  const walk = (v: unknown) => {
    if (!v || typeof v !== 'object') return;
    if (v instanceof Uint8Array) return;
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.payloads)) {
      for (const p of o.payloads as Array<{ data?: Uint8Array | null }>) total += p?.data?.length ?? 0;
    }
    for (const x of Object.values(o)) if (x && typeof x === 'object') walk(x);
  };
  walk(event);
  return total;
}

interface HistoryCost {
  runs: number;
  events: number;
  /** Bytes of the largest payload-carrying event (an activity input or result, a continue-as-new). */
  largestPayload: number;
}

/** Events and the largest payload over every run of the workflow id. */
export async function historyCost(client: Client, workflowId: string): Promise<HistoryCost> {
  const cost: HistoryCost = { runs: 0, events: 0, largestPayload: 0 };
  for await (const w of client.workflow.list({
    query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'`,
  })) {
    const history = await client.workflow.getHandle(workflowId, w.runId).fetchHistory();
    cost.runs += 1;
    for (const e of history.events ?? []) {
      cost.events += 1;
      cost.largestPayload = Math.max(cost.largestPayload, eventPayloadBytes(e));
    }
  }
  return cost;
}
