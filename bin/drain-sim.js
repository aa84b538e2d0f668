#!/usr/bin/env node
// The reference executor (see src/sim/): `drain-sim --run-id R --phase-id P [--force]`.
import { register } from 'tsx/esm/api';

register();
await import('../src/sim/main.ts');
