/**
 * The floor under bench/overhead: what the Temporal server and SDK on this machine spend on a
 * workflow that does nothing but loop over one no-op activity (and, optionally, no-op local
 * activities), with no database, files or processes.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface FloorActivities {
  noop(i: number): Promise<number>;
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

/** `n` rounds of one activity followed by `locals` local activities. */
export async function floorLoop(n: number, locals: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += await noop(i);
    for (let j = 0; j < locals; j++) sum += await local.noop(j);
  }
  return sum;
}
