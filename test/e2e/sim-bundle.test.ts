// The reference executor runs from a bundle of src/sim (src/runtime/sim-bundle.mjs), as real
// processes: built on first use, reused while no source changed, rebuilt when one did, and the
// same command line works from a fresh cache. (Each scenario of the executor itself is in
// sim.test.ts, which runs it through this bundle.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/runtime/paths.js';

const root = projectRoot();
const bin = path.join(root, 'bin', 'drain-sim.js');
const bundle = path.join(root, 'node_modules', '.cache', 'autopack-drain', 'drain-sim.mjs');
const stamp = path.join(root, 'node_modules', '.cache', 'autopack-drain', 'drain-sim.inputs.json');
const help = () => execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });

test('drain-sim runs from its bundle, rebuilt only when one of its sources changed', () => {
  const first = help();
  assert.match(first, /^usage: drain-sim --run-id RUN_ID --phase-id PHASE_ID/);
  const inputs = (JSON.parse(readFileSync(stamp, 'utf8')) as { inputs: [string, number, number][] }).inputs;
  const files = inputs.map((i) => i[0]);
  assert.ok(files.includes('src/sim/main.ts') && files.includes('src/sim/args.ts'), files.join(' '));
  assert.ok(
    files.every((f) => !f.includes('node_modules')),
    'packages stay imports, not bundled',
  );

  const built = statSync(bundle).mtimeMs;
  assert.equal(help(), first);
  assert.equal(statSync(bundle).mtimeMs, built, 'nothing changed: the bundle is reused as it is');

  // A source changes (its mtime here): the next start builds again, with the same result.
  const args = path.join(root, 'src', 'sim', 'args.ts');
  const st = statSync(args);
  utimesSync(args, st.atime, new Date(Date.now() - 1000));
  assert.equal(help(), first);
  assert.notEqual(statSync(bundle).mtimeMs, built, 'a changed source: the bundle was built again');
  const again = (JSON.parse(readFileSync(stamp, 'utf8')) as { inputs: [string, number, number][] }).inputs;
  assert.notDeepEqual(again, inputs, 'the stamp holds the new mtime');
});
