/**
 * Where test executors (plain scripts outside the project) find the one writer of Autopack's
 * rows: autopack-writer.mjs, imported by URL or run as a command.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../src/runtime/paths.js';

const AUTOPACK_WRITER_FILE = path.join(projectRoot(), 'harness', 'autopack-writer.mjs');
/** For `await import(…)` in a test executor's source. */
export const AUTOPACK_WRITER_URL = pathToFileURL(AUTOPACK_WRITER_FILE).href;

/** A shell command that sets the phase of DRAIN_RUN_ID / DRAIN_PHASE_ID to `state` (as Autopack would). */
export function setPhaseCommand(state: string): string {
  return `'${process.execPath}' '${AUTOPACK_WRITER_FILE}' phase-state ${state}`;
}
