import { Context } from '@temporalio/activity';

/** The workflow execution that scheduled the running activity (every drain activity has one). */
export function workflowRun(): { workflowId: string; runId: string } {
  const wf = Context.current().info.workflowExecution;
  if (!wf) throw new Error('this activity must be scheduled by a batchDrain workflow');
  return wf;
}
