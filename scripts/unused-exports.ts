/**
 * Lists exports of product code that no other file uses (issue 20: no dead exports).
 *
 *   npx tsx scripts/unused-exports.ts
 *   npm run unused-exports
 *
 * Prints one line per finding, `file:line name`, then the total (on stderr), and exits 1 when
 * there is any.
 *
 * Product code is every source file under src, activities, workflows, bin, harness, scripts and
 * bench; its users are product code and test/. An export is every name a file exports: exported
 * declarations (functions, classes, variables, interfaces, types, enums, namespaces), `export
 * default`, `export { x }` lists and re-exports (`export { x } from`, `export * as ns from`). It
 * is used when another file
 *   - imports it by name (`import { x }`, `import type { x }`, `import x` for `default`),
 *   - re-exports it (`export { x } from`),
 *   - takes the whole module: `import * as ns`, `export * from`, a dynamic `import('…')` or
 *     `require('…')` of a literal path, or a type `import('…')` (each uses every export).
 * Only relative paths are followed (`./x.js` is x.ts when there is one, as TypeScript reads it).
 * Exports of entry points, files loaded by path rather than imported (ENTRY_POINTS and the files
 * package.json's scripts run), are all used.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { PRODUCT_DIRS, TEST_DIRS, sourceFiles } from './long-code.js';

/**
 * Files loaded by path, with why; a path ending in `/` is every file under it. Their exports are
 * used by whoever loads them.
 */
export const ENTRY_POINTS: Record<string, string> = {
  'workflows/index.ts': "the worker's workflows (WORKFLOWS_PATH in src/worker.ts, bundled by path)",
  'activities/index.ts': "the worker's activities",
  'bench/floor/workflows.ts': "bench/floor/run.ts's workflows (bundled by path)",
  'bin/': 'commands (package.json bin, run by path)',
  'scripts/': 'scripts run directly (npx tsx scripts/…, node scripts/…)',
  'src/runtime/try-supervisor.mjs': "a try's supervisor (run by path by activities/executor-process.ts)",
  'harness/autopack-writer.mjs': "tests' executors import it by URL or run it (harness/autopack-writer.ts)",
};

/** A name a file exports, at the line of its name. */
export interface Export {
  file: string;
  line: number;
  name: string;
}

/** What a file imports from one module: some names, or all of them (`'*'`). */
export interface Use {
  specifier: string;
  names: string[] | '*';
}

export interface ModuleFacts {
  exports: Export[];
  uses: Use[];
}

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

function scriptKind(fileName: string): ts.ScriptKind {
  if (/\.tsx$/.test(fileName)) return ts.ScriptKind.TSX;
  if (/\.[mc]?js$/.test(fileName)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

const hasModifier = (node: ts.Node, kind: ts.SyntaxKind) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);

/** The identifiers a binding name binds (`a`, `{ a, b: [c] }`). */
function boundNames(name: ts.BindingName): ts.Identifier[] {
  if (ts.isIdentifier(name)) return [name];
  return name.elements.flatMap((e) => (ts.isBindingElement(e) ? boundNames(e.name) : []));
}

const moduleName = (name: ts.ModuleExportName) => name.text;

/** The names one top-level statement exports, as [name node, name]. */
function exportedNames(st: ts.Statement): [ts.Node, string][] {
  if (ts.isExportAssignment(st)) return st.isExportEquals ? [] : [[st, 'default']];
  if (ts.isExportDeclaration(st)) {
    const clause = st.exportClause;
    if (!clause) return []; // `export * from`: its names are the other module's
    if (ts.isNamespaceExport(clause)) return [[clause.name, moduleName(clause.name)]];
    return clause.elements.map((e): [ts.Node, string] => [e.name, moduleName(e.name)]);
  }
  if (!hasModifier(st, ts.SyntaxKind.ExportKeyword)) return [];
  if (ts.isVariableStatement(st))
    return st.declarationList.declarations.flatMap((d) =>
      boundNames(d.name).map((n): [ts.Node, string] => [n, n.text]),
    );
  const isDefault = hasModifier(st, ts.SyntaxKind.DefaultKeyword);
  if (
    ts.isFunctionDeclaration(st) ||
    ts.isClassDeclaration(st) ||
    ts.isInterfaceDeclaration(st) ||
    ts.isTypeAliasDeclaration(st) ||
    ts.isEnumDeclaration(st) ||
    ts.isModuleDeclaration(st)
  ) {
    if (isDefault) return [[st.name ?? st, 'default']];
    return st.name && (ts.isIdentifier(st.name) || ts.isStringLiteral(st.name))
      ? [[st.name, st.name.text]]
      : [];
  }
  return [];
}

/** What one top-level import or re-export takes from its module, if it names one. */
function staticUse(st: ts.Statement): Use | null {
  if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
    const clause = st.importClause;
    const names: string[] = [];
    if (clause?.name) names.push('default');
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) return { specifier: st.moduleSpecifier.text, names: '*' };
    if (bindings) names.push(...bindings.elements.map((e) => moduleName(e.propertyName ?? e.name)));
    return { specifier: st.moduleSpecifier.text, names };
  }
  if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
    const clause = st.exportClause;
    if (!clause || ts.isNamespaceExport(clause)) return { specifier: st.moduleSpecifier.text, names: '*' };
    const names = clause.elements.map((e) => moduleName(e.propertyName ?? e.name));
    return { specifier: st.moduleSpecifier.text, names };
  }
  if (
    ts.isImportEqualsDeclaration(st) &&
    ts.isExternalModuleReference(st.moduleReference) &&
    ts.isStringLiteral(st.moduleReference.expression)
  )
    return { specifier: st.moduleReference.expression.text, names: '*' };
  return null;
}

/** A whole module taken anywhere: `import('…')`, `require('…')`, a type `import('…')`. */
function wholeModuleUse(node: ts.Node): Use | null {
  if (ts.isCallExpression(node)) {
    const [arg] = node.arguments;
    const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
    const required = ts.isIdentifier(node.expression) && node.expression.text === 'require';
    if ((dynamic || required) && arg && ts.isStringLiteralLike(arg))
      return { specifier: arg.text, names: '*' };
  }
  if (ts.isImportTypeNode(node)) {
    const arg = node.argument;
    if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal))
      return { specifier: arg.literal.text, names: '*' };
  }
  return null;
}

/** The names `text` exports and what it uses of other modules. */
export function moduleFacts(file: string, text: string): ModuleFacts {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKind(file));
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const exports: Export[] = [];
  const uses: Use[] = [];
  for (const st of sf.statements) {
    for (const [node, name] of exportedNames(st)) exports.push({ file, line: lineOf(node), name });
    const use = staticUse(st);
    if (use) uses.push(use);
  }
  const visit = (node: ts.Node) => {
    const use = wholeModuleUse(node);
    if (use) uses.push(use);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { exports, uses };
}

/** The file (relative, `/`-separated) a relative specifier of `from` names among `files`, if any. */
export function resolveSpecifier(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = base.replace(/\.([mc]?)js$/, '');
  const candidates = /\.[mc]?js$/.test(base)
    ? [`${stem}.${base.endsWith('.mjs') ? 'mts' : base.endsWith('.cjs') ? 'cts' : 'ts'}`, `${stem}.tsx`, base]
    : [base, `${base}.ts`, `${base}.tsx`, `${base}.js`, `${base}/index.ts`, `${base}/index.js`];
  return candidates.find((c) => files.has(c)) ?? null;
}

/** Whether `file` is an entry point: listed in `entries` (a `dir/` entry is every file under it). */
export const isEntryPoint = (file: string, entries: Iterable<string>) =>
  [...entries].some((e) => (e.endsWith('/') ? file.startsWith(e) : file === e));

/**
 * The exports of `product` files that no other file of `files` uses, entry points aside.
 * `files` maps each file (relative, `/`-separated) to its text; `product` is a subset of them.
 */
export function unusedExports(
  files: ReadonlyMap<string, string>,
  product: ReadonlySet<string>,
  entries: Iterable<string>,
): Export[] {
  const names = new Set(files.keys());
  const facts = new Map([...files].map(([f, text]) => [f, moduleFacts(f, text)]));
  const used = new Map<string, Set<string> | '*'>();
  for (const [file, { uses }] of facts) {
    for (const use of uses) {
      const target = resolveSpecifier(file, use.specifier, names);
      if (!target || target === file) continue;
      const had = used.get(target);
      if (had === '*') continue;
      if (use.names === '*') used.set(target, '*');
      else used.set(target, new Set([...(had ?? []), ...use.names]));
    }
  }
  const entryList = [...entries];
  const out: Export[] = [];
  for (const file of [...product].sort()) {
    const u = used.get(file);
    if (u === '*' || isEntryPoint(file, entryList)) continue;
    for (const e of facts.get(file)?.exports ?? []) if (!u?.has(e.name)) out.push(e);
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** Files package.json's scripts run (`tsx bench/x.ts`, `node scripts/y.mjs`). */
export function scriptEntryPoints(packageJson: string): string[] {
  const scripts = Object.values(
    (JSON.parse(packageJson) as { scripts?: Record<string, string> }).scripts ?? {},
  );
  return scripts
    .flatMap((s) => s.split(/\s+/).filter((w) => SOURCE.test(w)))
    .map((w) => path.posix.normalize(w));
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/** The unused exports of product code under `root`, its files read from disk. */
export function unusedExportsUnder(root: string): Export[] {
  const product = PRODUCT_DIRS.flatMap((d) => sourceFiles(root, d)).map(toPosix);
  const all = [...product, ...TEST_DIRS.flatMap((d) => sourceFiles(root, d)).map(toPosix)];
  const files = new Map(all.map((f) => [f, readFileSync(path.join(root, f), 'utf8')]));
  const entries = [
    ...Object.keys(ENTRY_POINTS),
    ...scriptEntryPoints(readFileSync(path.join(root, 'package.json'), 'utf8')),
  ];
  return unusedExports(files, new Set(product), entries);
}

export const exportLine = (e: Export) => `${e.file}:${e.line} ${e.name}`;

function main(): number {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const unused = unusedExportsUnder(root);
  for (const e of unused) console.log(exportLine(e));
  console.error(`${unused.length} unused export(s) in ${new Set(unused.map((e) => e.file)).size} file(s)`);
  return unused.length > 0 ? 1 : 0;
}

const invokedDirectly =
  process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url;
if (invokedDirectly) process.exit(main());
