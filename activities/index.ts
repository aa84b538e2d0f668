import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { baselineActivities } from './baseline.js';
import { drainActivities } from './drain.js';
import { selectActivities } from './select.js';
import { sessionActivities } from './session.js';
import type { DatabaseIdentity } from '../src/db/identity.js';

/** Activity inputs of a session carry the identity of the database the session started on. */
export interface PinnedInput {
  database?: DatabaseIdentity | null;
}

/**
 * Refuses (retryably: a correctly configured worker takes the task) an activity of a session
 * that started against another database than this worker's DATABASE_URL points at.
 */
export function checkDatabase(deps: Pick<ActivityDeps, 'database'>, input: unknown): void {
  const pinned = (input as PinnedInput | null | undefined)?.database;
  if (!pinned || pinned.id === deps.database.id) return;
  throw ApplicationFailure.retryable(
    `this worker's DATABASE_URL points at database "${deps.database.name}" (id ${deps.database.id}), ` +
      `but the session was started against database "${pinned.name}" (id ${pinned.id}); ` +
      'leaving the task to a worker configured for that database',
    'WrongDatabase',
  );
}

function pinned<T extends Record<string, (input: never) => Promise<unknown>>>(
  deps: ActivityDeps,
  acts: T,
): T {
  const out: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(acts)) {
    out[name] = async (input: never) => {
      checkDatabase(deps, input);
      return fn(input);
    };
  }
  return out as T;
}

/** All activities, bound to the worker's connections and defaults. */
export function createActivities(deps: ActivityDeps) {
  return pinned(deps, {
    ...selectActivities(deps),
    ...drainActivities(deps),
    ...baselineActivities(deps),
    ...sessionActivities(deps),
  });
}

export type DrainActivities = ReturnType<typeof createActivities>;
