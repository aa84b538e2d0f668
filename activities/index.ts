import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { baselineActivities } from './baseline.js';
import { drainActivities } from './drain.js';
import { selectActivities } from './select.js';
import { sessionActivities, type FinishPhaseInput } from './session.js';
import type { SelectParams } from '../src/domain/selection.js';
import type { SelectResult } from '../src/db/select-shared.js';
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
  const select = selectActivities(deps);
  const session = sessionActivities(deps);
  return pinned(deps, {
    ...select,
    ...drainActivities(deps),
    ...baselineActivities(deps),
    ...session,
    /**
     * A slot's phase finished (finishPhase: verdict, session JSON, its run's lease released) and
     * the slot's next pick (selectNextPhase) in one activity: one round trip less per phase for
     * sessions whose slots pick in parallel (workflows/drain/slots.ts). A retry finishes again
     * (idempotent) and picks again; a run leased by a lost first try stays this session's until
     * its lease expires.
     */
    async finishPhaseAndPick(o: FinishPhaseInput & { next: SelectParams }): Promise<SelectResult> {
      await session.finishPhase(o);
      return select.selectNextPhase(o.next);
    },
  });
}

export type DrainActivities = ReturnType<typeof createActivities>;
