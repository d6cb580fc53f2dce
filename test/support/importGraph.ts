/**
 * The import graph of a source tree, read with the TypeScript parser: every static import, re-export,
 * dynamic `import()` and `require()` of every file, with whether it brings values or only types.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import ts from 'typescript';

/** One import of one file. */
export interface ImportEdge {
  /** The importing file, relative to the root, with forward slashes (`src/node/node.ts`). */
  from: string;
  /** The imported file for a relative specifier (`src/wire/keys.ts`), else the package name (`socket.io`, `node:fs`). */
  to: string;
  /** True for `import type`, `export type` and imports whose every name is `type`-qualified. */
  typeOnly: boolean;
  /** Value names the import binds (`default` for a default import, `*` for a namespace or dynamic import). */
  values: string[];
  line: number;
}

/** A file's imports, and the value names its `setup({ actors: { … } })` call hands to XState. */
export interface SourceFile {
  path: string;
  lines: number;
  imports: ImportEdge[];
  setupActors: string[];
}

/** Every `.ts` file below `dir` (relative to `root`), read and parsed. */
export function readSourceTree(root: string, dir: string): SourceFile[] {
  return listTs(join(root, dir)).map((file) => parseSource(relative(root, file).split('\\').join('/'), readFileSync(file, 'utf8')));
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTs(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Parses one file's text; `path` is relative to the root and names relative imports' targets. */
export function parseSource(path: string, text: string): SourceFile {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const imports: ImportEdge[] = [];
  const setupActors: string[] = [];
  const edge = (node: ts.Node, specifier: string, typeOnly: boolean, values: string[]): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    imports.push({ from: path, to: resolveSpecifier(path, specifier), typeOnly, values, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const values = importedValues(node.importClause);
      edge(node, node.moduleSpecifier.text, node.importClause !== undefined && values.length === 0, values);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const values = exportedValues(node);
      edge(node, node.moduleSpecifier.text, values.length === 0, values);
    } else if (ts.isCallExpression(node) && isLoader(node) && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      edge(node, node.arguments[0].text, false, ['*']);
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'setup') {
      setupActors.push(...actorsOf(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { path, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), imports, setupActors };
}

function resolveSpecifier(from: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

function importedValues(clause: ts.ImportClause | undefined): string[] {
  if (!clause || clause.isTypeOnly) return [];
  const values = clause.name ? ['default'] : [];
  const bindings = clause.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) values.push('*');
  if (bindings && ts.isNamedImports(bindings)) {
    for (const element of bindings.elements) if (!element.isTypeOnly) values.push((element.propertyName ?? element.name).text);
  }
  return values;
}

function exportedValues(node: ts.ExportDeclaration): string[] {
  if (node.isTypeOnly) return [];
  const clause = node.exportClause;
  if (!clause || !ts.isNamedExports(clause)) return ['*'];
  return clause.elements.filter((e) => !e.isTypeOnly).map((e) => (e.propertyName ?? e.name).text);
}

/** `import('x')` or `require('x')` (however `require` was made, e.g. by `createRequire`). */
function isLoader(node: ts.CallExpression): boolean {
  return node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require');
}

/** The identifiers given as actor logic in a `setup({ actors: { name: logic } })` call. */
function actorsOf(call: ts.CallExpression): string[] {
  const config = call.arguments[0];
  if (!config || !ts.isObjectLiteralExpression(config)) return [];
  const actors = config.properties.find(
    (p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === 'actors',
  );
  if (!actors || !ts.isObjectLiteralExpression(actors.initializer)) return [];
  return actors.initializer.properties.flatMap((p) => {
    if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.initializer)) return [p.initializer.text];
    if (ts.isShorthandPropertyAssignment(p)) return [p.name.text];
    return [];
  });
}
