/**
 * The workflow bundle, built once per content: bundling (webpack) takes seconds at every worker
 * start, while what goes into it only changes with the sources. The bundle is kept in
 * node_modules/.cache/autopack-drain, named by a hash of every source file it may include
 * (workflows/, src/, activities/), the lock file and the build settings; any change of them
 * builds a new one. Where the cache cannot be written, the bundle is just built.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { projectRoot } from './paths.js';

const SOURCE_DIRS = ['workflows', 'src', 'activities'];
const SOURCE_FILES = ['package-lock.json', 'tsconfig.json'];

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && /\.(ts|js|mjs|cjs|json)$/.test(e.name))
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

/** A hash of everything the bundle is built from (paths and contents). */
export async function bundleSourceHash(root: string, workflowsPath: string): Promise<string> {
  const h = createHash('sha256');
  h.update(`${process.version}\0${path.relative(root, workflowsPath)}\0`);
  const files = [
    ...(await Promise.all(SOURCE_DIRS.map((d) => sourceFiles(path.join(root, d))))).flat(),
    ...SOURCE_FILES.map((f) => path.join(root, f)),
  ];
  for (const f of files) {
    h.update(`${path.relative(root, f)}\0`);
    h.update(await readFile(f).catch(() => Buffer.from('(absent)')));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 32);
}

const bundleCacheDir = (root = projectRoot()) => path.join(root, 'node_modules', '.cache', 'autopack-drain');

/** Counts for tests: bundles built here, and bundles taken from the cache. */
export const bundleStats = { built: 0, cached: 0 };

/** Webpack's logger for a bundle nobody watches being built: warnings and errors only. */
export const QUIET_BUNDLE_LOGGER = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

/**
 * The bundle of `workflowsPath`: from the cache when one was built from the same sources,
 * else built (and kept, replacing older ones). `logger` is webpack's (quiet by default).
 */
export async function cachedWorkflowBundle(
  workflowsPath: string,
  logger: Parameters<typeof bundleWorkflowCode>[0]['logger'],
): Promise<WorkflowBundle> {
  const root = projectRoot();
  const dir = bundleCacheDir(root);
  const file = path.join(dir, `workflows-${await bundleSourceHash(root, workflowsPath)}.js`);
  const kept = await readFile(file, 'utf8').catch(() => null);
  if (kept) {
    bundleStats.cached += 1;
    return { code: kept };
  }
  const bundle = await bundleWorkflowCode({ workflowsPath, logger });
  bundleStats.built += 1;
  await keep(dir, file, bundle.code).catch(() => {}); // a read-only install just builds each time
  return bundle;
}

/** Writes the bundle atomically and removes the bundles of older sources. */
async function keep(dir: string, file: string, code: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, code);
  await rename(tmp, file);
  for (const old of await readdir(dir)) {
    if (old.startsWith('workflows-') && path.join(dir, old) !== file && !old.endsWith('.tmp')) {
      await rm(path.join(dir, old), { force: true });
    }
  }
}
