/**
 * The layers import in one direction (issue 20; eslint.config.js): each rule of
 * `no-restricted-imports` fires on a wrong arrow and stays quiet on a right one, by ESLint's
 * Node API on small snippets linted as if they were files of that layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const eslint = new ESLint({ cwd: root });

/** The no-restricted-imports messages (and any fatal parse error) for `code` as `file`. */
async function restrictions(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.fatal)
    .map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

interface Case {
  rule: string;
  file: string;
  wrong: string[];
  right: string[];
}

const cases: Case[] = [
  {
    rule: 'src/domain imports only src/domain (and pure packages)',
    file: 'src/domain/x-check.ts',
    wrong: [
      "import type { Queryable } from '../db/pool.js';",
      "import { projectRoot } from '../runtime/paths.js';",
      "import { main } from '../cli/main.js';",
      "export * from '../db/attempts.js';",
      "import pg from 'pg';",
      "import { readFileSync } from 'node:fs';",
      "import { Client } from '@temporalio/client';",
    ],
    right: [
      "import type { AttemptRow } from './rows.js';",
      "import { redactUrl } from './redact.js';",
      "import { z } from 'zod';",
      "import path from 'node:path';",
      "import { defineQuery } from '@temporalio/workflow';",
    ],
  },
  {
    rule: 'src/domain/<dir> imports only src/domain',
    file: 'src/domain/verify/x-check.ts',
    wrong: [
      "import { projectRoot } from '../../runtime/paths.js';",
      "import { x } from '../../../test/x.js';",
    ],
    right: ["import { redactUrl } from '../redact.js';", "import { y } from './shared.js';"],
  },
  {
    rule: 'src never imports test/, bench/, scripts/, harness/',
    file: 'src/runtime/x-check.ts',
    wrong: [
      "import { startTestEnv } from '../../harness/env.js';",
      "import { runCli } from '../../test/helpers/cli.js';",
      "import { medianMs } from '../../bench/select-setup.js';",
      "import { findingsIn } from '../../scripts/long-code.js';",
    ],
    right: [
      "import { createPool } from '../db/pool.js';",
      "import { isProcessAlive } from './process-group.js';",
    ],
  },
  {
    rule: 'src (top level) never imports harness/',
    file: 'src/x-check.ts',
    wrong: ["import { startTestEnv } from '../harness/env.js';"],
    right: ["import { createPool } from './db/pool.js';"],
  },
  {
    rule: 'activities never import harness/ or test/',
    file: 'activities/x-check.ts',
    wrong: [
      "import { startTestEnv } from '../harness/env.js';",
      "import { x } from '../test/helpers/cli.js';",
    ],
    right: ["import { createPool } from '../src/db/pool.js';"],
  },
  {
    rule: 'harness never imports test/',
    file: 'harness/chaos/x-check.ts',
    wrong: ["import { runCli } from '../../test/helpers/cli.js';"],
    right: [
      "import { seedPhases } from '../../src/sim/seed.js';",
      "import { startTestEnv } from '../env.js';",
    ],
  },
  {
    rule: 'bench never imports test/',
    file: 'bench/x-check.ts',
    wrong: ["import { startTestEnv } from '../test/helpers/env.js';"],
    right: [
      "import { startTestEnv } from '../harness/env.js';",
      "import { seedPhases } from '../src/sim/seed.js';",
    ],
  },
  {
    rule: 'scripts never import test/',
    file: 'scripts/x-check.ts',
    wrong: ["import { startTestEnv } from '../test/helpers/env.js';"],
    right: ["import { SCENARIOS } from '../harness/histories/scenarios.js';"],
  },
  {
    rule: 'workflows/<dir> imports only workflows/, src/domain, @temporalio/workflow (types from activities)',
    file: 'workflows/drain/x-check.ts',
    wrong: [
      "import { listSessionAttempts } from '../../src/db/attempts.js';",
      "import { projectRoot } from '../../src/runtime/paths.js';",
      "import { drainActivities } from '../../activities/drain.js';",
      "import { Client } from '@temporalio/client';",
      "import { startTestEnv } from '../../harness/env.js';",
    ],
    right: [
      "import type { DrainActivities } from '../../activities/index.js';",
      "import { parseDrainInput } from '../../src/domain/input.js';",
      "import { runSession } from './session.js';",
      "import { batchDrain } from '../batch-drain.js';",
      "import { proxyActivities } from '@temporalio/workflow';",
    ],
  },
  {
    rule: 'workflows (top level) imports only workflows/ and src/domain',
    file: 'workflows/x-check.ts',
    wrong: ["import { createPool } from '../src/db/pool.js';", "import { x } from '../bench/select.js';"],
    right: [
      "import { parseDrainInput } from '../src/domain/input.js';",
      "import { drainOne } from './drain/phase.js';",
    ],
  },
];

for (const c of cases) {
  test(`import direction: ${c.rule}`, async () => {
    for (const code of c.wrong) {
      const found = await restrictions(c.file, `${code}\n`);
      assert.equal(found.length, 1, `${c.file}: ${code} should be refused, got ${JSON.stringify(found)}`);
      assert.match(found[0], /^no-restricted-imports: /);
    }
    for (const code of c.right) {
      assert.deepEqual(await restrictions(c.file, `${code}\n`), [], `${c.file}: ${code} should pass`);
    }
  });
}
