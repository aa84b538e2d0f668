import { setHandler } from '@temporalio/workflow';
import { redactSecrets } from '../../src/domain/redact.js';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  stateQuery,
  stopSignal,
} from '../../src/domain/messages.js';
import type { DrainSession } from './session.js';

/** Queries `progress` and `state`; signals `pause`, `resume`, `stop [reason]`. */
export function registerHandlers(session: DrainSession): void {
  const republish = () => {
    if (session.status === 'running') session.publish();
  };
  setHandler(progressQuery, () => session.progress());
  setHandler(stateQuery, () => session.state);
  setHandler(pauseSignal, () => {
    session.paused = true;
    republish();
  });
  setHandler(resumeSignal, () => {
    session.paused = false;
    republish();
  });
  setHandler(stopSignal, (reason?: string) => {
    session.stopRequested = true;
    // The note reaches the memo, the stop reason and the session JSON: redacted like every copy.
    if (typeof reason === 'string' && reason.trim())
      session.stopNote = redactSecrets(reason.trim().slice(0, 500));
    republish();
  });
}
