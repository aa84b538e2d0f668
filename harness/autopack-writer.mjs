// The one writer of Autopack's rows (src/sim/autopack-rows.ts) and the reference executor's
// opener of DATABASE_URL (src/sim/db.ts), for the small executors tests write as plain scripts
// outside the project: import this file by its absolute URL (harness/autopack-writer.ts),
// or run it as a command, which acts on DRAIN_RUN_ID / DRAIN_PHASE_ID of DATABASE_URL:
//   node autopack-writer.mjs phase-state STATE [REASON]
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const rows = await import('../src/sim/autopack-rows.ts');
const sim = await import('../src/sim/db.ts');

export const { setPhaseState, insertEstimationEvent, insertEscalationEvent, addTokens } = rows;
export const { openSimDb, closeSimDb, loadPhase } = sim;

const main =
  process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (main) {
  const [op, state, reason] = process.argv.slice(2);
  const key = { runId: process.env.DRAIN_RUN_ID, phaseId: process.env.DRAIN_PHASE_ID };
  if (op !== 'phase-state' || !state || !key.runId || !key.phaseId || !process.env.DATABASE_URL) {
    process.stderr.write(
      'usage: DATABASE_URL=… DRAIN_RUN_ID=… DRAIN_PHASE_ID=… autopack-writer.mjs phase-state STATE [REASON]\n',
    );
    process.exit(2);
  }
  const db = await sim.openSimDb(process.env.DATABASE_URL);
  try {
    const n = await rows.setPhaseState(db, key, state, reason ?? null);
    console.log(`[test executor] phase -> ${state} (${n} row)`);
  } finally {
    await sim.closeSimDb(db);
  }
}
