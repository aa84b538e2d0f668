/**
 * Lists functions over 80 lines and files over 400 lines (issue 20: code short enough to read).
 *
 *   npx tsx scripts/long-code.ts           # product code: src, activities, workflows, bin, harness, scripts, bench
 *   npx tsx scripts/long-code.ts --tests   # and test/ too
 *   npm run long-code
 *
 * Prints one line per finding, `file:line name N lines` (a file's own line is `file:1 (file) N
 * lines`), and exits 1 when product code has any (test/ findings are listed, never fail).
 *
 * A function is every function-like node the TypeScript compiler parses (declarations,
 * function expressions, arrow functions, methods, accessors, constructors), nested ones
 * included: an outer function's lines include its nested functions'. Its lines are counted from
 * the line of its first token (decorators and leading comments aside) to the line of its last,
 * both included. A file's lines are its lines of text (a final newline ends the last line).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

export const MAX_FUNCTION_LINES = 80;
export const MAX_FILE_LINES = 400;

export const PRODUCT_DIRS = ['src', 'activities', 'workflows', 'bin', 'harness', 'scripts', 'bench'];
export const TEST_DIRS = ['test'];

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

export interface FunctionLength {
  name: string;
  /** 1-based line of its first token. */
  line: number;
  lines: number;
}

export interface Finding extends FunctionLength {
  file: string;
}

/** The name of a property, method or class (identifiers, string and numeric literals, `[computed]`). */
function nameText(name: ts.PropertyName | ts.BindingName | undefined, sf: ts.SourceFile): string | null {
  if (!name) return null;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) return name.text;
  if (ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  return name.getText(sf);
}

/** `Class.` or `object.` for a member of a named class or of an object literal bound to a name. */
function ownerPrefix(member: ts.Node, sf: ts.SourceFile): string {
  const owner = member.parent;
  if (ts.isClassLike(owner)) return `${owner.name?.text ?? '<class>'}.`;
  if (ts.isObjectLiteralExpression(owner)) {
    const holder = owner.parent;
    if (ts.isVariableDeclaration(holder) || ts.isPropertyAssignment(holder))
      return `${nameText(holder.name, sf) ?? '<object>'}.`;
    if (ts.isReturnStatement(holder)) return '<returned>.';
  }
  return '';
}

const cut = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** A readable name for a function-like node: its declared name, else what it is bound to. */
export function functionName(fn: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(fn)) return `${ownerPrefix(fn, sf)}constructor`;
  if (ts.isMethodDeclaration(fn) || ts.isGetAccessorDeclaration(fn) || ts.isSetAccessorDeclaration(fn)) {
    const kind = ts.isGetAccessorDeclaration(fn) ? 'get ' : ts.isSetAccessorDeclaration(fn) ? 'set ' : '';
    return `${kind}${ownerPrefix(fn, sf)}${nameText(fn.name, sf)}`;
  }
  if (ts.isFunctionDeclaration(fn)) return fn.name?.text ?? 'default';
  if (ts.isFunctionExpression(fn) && fn.name) return fn.name.text;
  const p = fn.parent;
  if (ts.isVariableDeclaration(p)) return nameText(p.name, sf) ?? '<anonymous>';
  if (ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))
    return `${ownerPrefix(p, sf)}${nameText(p.name, sf)}`;
  if (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.EqualsToken)
    return p.left.getText(sf);
  if (ts.isCallExpression(p) || ts.isNewExpression(p)) {
    const title = p.arguments?.[0];
    const what = title && ts.isStringLiteralLike(title) ? ` ${JSON.stringify(cut(title.text))}` : '';
    return `<callback of ${cut(p.expression.getText(sf))}${what}>`;
  }
  return '<anonymous>';
}

/** Every function-like node with a body in `text`, with its length in lines. */
export function functionLengths(fileName: string, text: string): FunctionLength[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, scriptKind(fileName));
  const out: FunctionLength[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(fn.getEnd()).line;
      out.push({ name: functionName(fn, sf), line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function scriptKind(fileName: string): ts.ScriptKind {
  if (/\.tsx$/.test(fileName)) return ts.ScriptKind.TSX;
  if (/\.[mc]?js$/.test(fileName)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

/** Lines of text: a final newline ends the last line, it does not start another. */
export function lineCount(text: string): number {
  if (text === '') return 0;
  const n = text.split('\n').length;
  return text.endsWith('\n') ? n - 1 : n;
}

/** The findings in one file's text: functions over MAX_FUNCTION_LINES, the file over MAX_FILE_LINES. */
export function findingsIn(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  const lines = lineCount(text);
  if (lines > MAX_FILE_LINES) out.push({ file, name: '(file)', line: 1, lines });
  for (const f of functionLengths(file, text)) if (f.lines > MAX_FUNCTION_LINES) out.push({ file, ...f });
  return out;
}

/** Source files under `dir` (relative to `root`), sorted; node_modules and .d.ts files aside. */
export function sourceFiles(root: string, dir: string): string[] {
  const abs = path.join(root, dir);
  let names: string[];
  try {
    if (!statSync(abs).isDirectory()) return [];
    names = readdirSync(abs).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) out.push(...sourceFiles(root, rel));
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

export function findingsUnder(root: string, dirs: readonly string[]): Finding[] {
  return dirs.flatMap((d) =>
    sourceFiles(root, d).flatMap((f) => findingsIn(f, readFileSync(path.join(root, f), 'utf8'))),
  );
}

export const findingLine = (f: Finding) => `${f.file}:${f.line} ${f.name} ${f.lines} lines`;

function main(argv: string[]): number {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const product = findingsUnder(root, PRODUCT_DIRS);
  for (const f of product) console.log(findingLine(f));
  const tests = argv.includes('--tests') ? findingsUnder(root, TEST_DIRS) : [];
  for (const f of tests) console.log(findingLine(f));
  const count = (fs: Finding[]) =>
    `${fs.filter((f) => f.name !== '(file)').length} function(s) over ${MAX_FUNCTION_LINES} lines, ` +
    `${fs.filter((f) => f.name === '(file)').length} file(s) over ${MAX_FILE_LINES} lines`;
  console.error(
    `product code: ${count(product)}${argv.includes('--tests') ? `; test/: ${count(tests)}` : ''}`,
  );
  return product.length > 0 ? 1 : 0;
}

const invokedDirectly =
  process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url;
if (invokedDirectly) process.exit(main(process.argv.slice(2)));
