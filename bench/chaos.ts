/**
 * The chaos suite, long form: `npm run chaos` (about 5 minutes on a 2-core machine).
 *
 *   npx tsx bench/chaos.ts [--short]        CHAOS_SEED=N replays a run's plan
 *
 * 40 phases (8 runs × 5, 1–3 s each, 8 of them forking a setsid grandchild) drained by two
 * competing sessions on 3 `drain worker` processes on two hosts (1 in this PID namespace, 2
 * with --max-concurrent 1 in a PID + UTS + mount namespace "chaos-b"; root and
 * unshare/nsenter needed), while it kills a worker with kill -9 ×10 (a replacement on the
 * same host each time), restarts the Temporal dev server ×2, stops Postgres for 15 s ×2,
 * partitions a worker ×2 (SIGSTOP past the heartbeat timeout, then SIGCONT) and slows the
 * database ×2 (the lease rows of the runs being drained locked past the fence bound F), at
 * random points. Prints the seed, every fault as it happens, timing, fault counts, hosts and
 * what each partition and slow database came to, and the counted invariants (see
 * harness/chaos/run.ts for their exact definitions); exits 1 unless every invariant holds.
 * `--short` runs the short form of test/e2e/chaos.test.ts.
 * Ctrl-C stops the faults and the wait; the invariants are still counted and the services,
 * the second host and their temp directory removed.
 */
import { LONG_FORM, SHORT_FORM, runChaos } from '../harness/chaos/run.js';

const short = process.argv.includes('--short');
const stop = new AbortController();
process.once('SIGINT', () => {
  console.log('interrupted: no more faults; counting what there is');
  stop.abort();
});
const result = await runChaos({ ...(short ? SHORT_FORM : LONG_FORM), signal: stop.signal });
console.log(result.ok ? 'chaos: every invariant holds' : 'chaos: INVARIANTS FAILED');
process.exit(result.ok ? 0 : 1);
