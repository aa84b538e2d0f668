/**
 * The task queue workers poll and sessions are started on when none is given. Its own module so
 * that the client side (drain start, drain schedule, src/client.ts) can name it without loading
 * src/worker.ts and the Temporal worker it brings.
 */
export const DEFAULT_TASK_QUEUE = 'autopack-drain';
