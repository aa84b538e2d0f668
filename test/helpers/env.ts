/** Moved to harness/env.ts (issue 20: tests, benchmarks and scripts share the harness); kept for the tests' imports. */
export * from '../../harness/env.js';
