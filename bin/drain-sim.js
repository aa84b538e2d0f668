#!/usr/bin/env node
// The reference executor (see src/sim/): `drain-sim --run-id R --phase-id P [--force]`.
// Runs from a bundle of src/sim rebuilt when a source changes (src/runtime/sim-bundle.mjs: it
// starts for every try, and tsx cost ~0.3 s of CPU each time); through tsx when no bundle can
// be built (a read-only install, esbuild missing).
import { simBundleUrl } from '../src/runtime/sim-bundle.mjs';

const url = await simBundleUrl().catch(() => null);
if (url) {
  await import(url);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/sim/main.ts');
}
