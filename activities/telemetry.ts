import type { ActivityDeps } from './deps.js';
import { countTelemetry, type TelemetryCounts } from '../src/db/telemetry.js';

export function telemetryActivities(deps: ActivityDeps) {
  return {
    /** Telemetry rows for a phase and overall. */
    async countPhaseTelemetry(runId: string, phaseId: string): Promise<TelemetryCounts> {
      return countTelemetry(deps.pool, runId, phaseId);
    },
  };
}
