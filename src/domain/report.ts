/**
 * Session report: the session JSON (report-json.ts) and the text output in the original
 * controller's shape (report-text.ts). Pure; safe inside Temporal's workflow sandbox.
 */
export {
  snapshotOf,
  drainResultJson,
  buildSessionJson,
  type SessionSnapshot,
  type DrainResultJson,
  type SessionJson,
} from './report-json.js';
export { formatSummary, formatPlan } from './report-text.js';
