/**
 * The chaos suite, long form: `npm run chaos` (about 5–10 minutes on a 2-core machine).
 *
 *   npx tsx bench/chaos.ts [--short]        CHAOS_SEED=N replays a run's plan
 *
 * 40 phases (8 runs × 5, 1–3 s each, 8 of them forking a setsid grandchild) drained by two
 * competing sessions on 3 `drain worker` processes, while it kills a worker with kill -9 ×10
 * (a replacement each time), restarts the Temporal dev server ×2 and stops Postgres for 15 s
 * ×2, at random points. Prints the seed, every fault as it happens, timing and fault counts,
 * and the counted invariants (see test/helpers/chaos.ts for their exact definitions); exits 1
 * unless every invariant holds. `--short` runs the short form of test/e2e/chaos.test.ts.
 * Ctrl-C stops the faults and the wait; the invariants are still counted and the services
 * and their temp directory removed.
 */
import { LONG_FORM, SHORT_FORM, runChaos } from '../test/helpers/chaos.js';

const short = process.argv.includes('--short');
const stop = new AbortController();
process.once('SIGINT', () => {
  console.log('interrupted: no more faults; counting what there is');
  stop.abort();
});
const result = await runChaos({ ...(short ? SHORT_FORM : LONG_FORM), signal: stop.signal });
console.log(result.ok ? 'chaos: every invariant holds' : 'chaos: INVARIANTS FAILED');
process.exit(result.ok ? 0 : 1);
