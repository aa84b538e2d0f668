/**
 * Session report: the session JSON (report-json.ts) and the text output in the original
 * controller's shape (report-text.ts). Pure; safe inside Temporal's workflow sandbox.
 */
export {
  snapshotOf,
  drainResultJson,
  buildSessionJson,
  jsonSafe,
  toNum,
  toIso,
  byCodeUnit,
  type SessionSnapshot,
  type DrainResultJson,
  type SessionJson,
  type SkippedJson,
  type PlannedJson,
  type DbIdentity,
} from './report-json.js';
export { formatSummary, formatPlan, oneLine } from './report-text.js';
