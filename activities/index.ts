import type { ActivityDeps } from './deps.js';
import { baselineActivities } from './baseline.js';
import { drainActivities } from './drain.js';
import { selectActivities } from './select.js';
import { sessionActivities } from './session.js';
import { telemetryActivities } from './telemetry.js';

/** All activities, bound to the worker's connections and defaults. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...selectActivities(deps),
    ...drainActivities(deps),
    ...telemetryActivities(deps),
    ...baselineActivities(deps),
    ...sessionActivities(deps),
  };
}

export type DrainActivities = ReturnType<typeof createActivities>;
