// The reference executor's code as one JavaScript file (bin/drain-sim.js runs it). An executor
// starts for every try, and loading its TypeScript through tsx cost ~0.3 s of CPU each time
// (~0.48 s for `drain-sim --help`, ~0.2 s from the bundle, measured on this 2-core VM): the test
// suite runs it hundreds of times. The bundle is built with esbuild (tsx's own) into
// node_modules/.cache/autopack-drain/drain-sim.mjs, the packages left as imports, and rebuilt
// when any of its sources changed (size or mtime of each input esbuild reported). Plain
// JavaScript, so checking it loads nothing but node:fs. `import.meta.url` in a source keeps its
// own file's URL (a bundle would otherwise give its own).
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cacheDir = path.join(root, 'node_modules', '.cache', 'autopack-drain');
const bundle = path.join(cacheDir, 'drain-sim.mjs');
const stampFile = path.join(cacheDir, 'drain-sim.inputs.json');
const ENTRY = 'src/sim/main.ts';

/** [file relative to the root, mtime, size] of each input, or null when one cannot be read. */
function stats(files) {
  try {
    return files.map((f) => {
      const st = statSync(path.join(root, f));
      return [f, st.mtimeMs, st.size];
    });
  } catch {
    return null;
  }
}

/** The bundle is there and none of the inputs it was built from changed since. */
function isFresh() {
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    statSync(bundle);
    const now = stats(stamp.inputs.map((i) => i[0]));
    return now !== null && JSON.stringify(now) === JSON.stringify(stamp.inputs);
  } catch {
    return false;
  }
}

/** esbuild plugin: `import.meta.url` in a source of ours is that source's URL. */
const ownMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/** Builds the bundle (into a file of this process, then renamed: concurrent builds are safe). */
async function build() {
  const { build: esbuild } = await import('esbuild');
  mkdirSync(cacheDir, { recursive: true });
  const started = Date.now();
  const tmp = `${bundle}.${process.pid}.tmp`;
  const r = await esbuild({
    absWorkingDir: root,
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: tmp,
    metafile: true,
    plugins: [ownMetaUrl],
    logLevel: 'silent',
  });
  renameSync(tmp, bundle);
  const inputs = stats(Object.keys(r.metafile.inputs));
  // A source edited while this ran: no stamp, so the next start builds again.
  if (inputs && inputs.every((i) => i[1] < started)) {
    writeFileSync(`${stampFile}.${process.pid}`, JSON.stringify({ inputs }));
    renameSync(`${stampFile}.${process.pid}`, stampFile);
  }
}

/** The URL of the reference executor's bundle, built first when missing or stale. */
export async function simBundleUrl() {
  if (!isFresh()) await build();
  return pathToFileURL(bundle).href;
}
