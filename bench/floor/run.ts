/**
 * Runs bench/floor/workflows.ts on a server: milliseconds per round of one no-op activity, and
 * of one activity and two local activities (the shape of a drain phase: drainPhase, then
 * recording and the next pick as local activities).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Client } from '@temporalio/client';

interface FloorFigures {
  activityMs: number;
  activityAndTwoLocalsMs: number;
}

export async function measureFloor(address: string, client: Client, rounds: number): Promise<FloorFigures> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(here, 'workflows.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  const connection = await NativeConnection.connect({ address });
  const taskQueue = `floor-${process.pid}`;
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: bundle,
    activities: { noop: async (i: number) => i },
  });
  const running = worker.run();
  const perRound = async (locals: number) => {
    const started = performance.now();
    await client.workflow.execute('floorLoop', {
      taskQueue,
      workflowId: `floor-${locals}-${Date.now()}`,
      args: [rounds, locals],
    });
    return (performance.now() - started) / rounds;
  };
  try {
    await perRound(0); // warm-up: the first workflow of a worker pays for its VM
    return { activityMs: await perRound(0), activityAndTwoLocalsMs: await perRound(2) };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
}
