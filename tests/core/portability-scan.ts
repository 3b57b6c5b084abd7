// The portability rule of core/, drivers/ and fs/: no Node built-in module
// and no Node global outside `.node.ts` files. Parsing with the TypeScript
// compiler (rather than regexes) means comments, strings and regex
// literals can never trip the check, and property names are told apart
// from references to the globals.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { builtinModules } = require('node:module') as { builtinModules: string[] };
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.replace(/^node:/, '')]));

export const NODE_GLOBALS = ['Buffer', 'process', '__dirname', '__filename', 'require'] as const;

export interface Violation { file: string; line: number; what: string }

export function isNodeBuiltin(spec: string): boolean {
  if (spec.startsWith('node:')) return true;
  return BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!);
}

/** Every .ts file under `dirs` (recursively) not named *.node.ts. */
export function portableFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.node.ts')) out.push(p);
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return out.sort();
}

/** Inside a `declare ...` (the node or any ancestor)? */
function isAmbient(n: ts.Node): boolean {
  for (let a: ts.Node | undefined = n; a; a = a.parent) {
    if (ts.canHaveModifiers(a) && ts.getModifiers(a)?.some((m) => m.kind === ts.SyntaxKind.DeclareKeyword)) return true;
  }
  return false;
}

function declaredLocally(sf: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (n: ts.Node) => {
    // `declare const process: ...` describes the Node global: not local.
    const ambient = sf.isDeclarationFile || isAmbient(n);
    if (!ambient && (ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isFunctionDeclaration(n)
        || ts.isClassDeclaration(n) || ts.isBindingElement(n) || ts.isImportClause(n)
        || ts.isNamespaceImport(n) || ts.isImportSpecifier(n) || ts.isImportEqualsDeclaration(n)
        || ts.isEnumDeclaration(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n))) {
      const name = n.name;
      if (name && ts.isIdentifier(name)) names.add(name.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return names;
}

/** Is this identifier a reference to a binding (not a property or label name)? */
function isReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if ((ts.isPropertyAccessExpression(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)
      || ts.isPropertySignature(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p)
      || ts.isGetAccessorDeclaration(p) || ts.isSetAccessorDeclaration(p) || ts.isEnumMember(p))
      && p.name === id) return false;
  if (ts.isQualifiedName(p) && p.right === id) return false;
  if (ts.isBindingElement(p) && p.propertyName === id) return false;
  if ((ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) && p.propertyName === id) return false;
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
  return true;
}

function literalText(n: ts.Node | undefined): string | undefined {
  return n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) ? n.text : undefined;
}

/** Violations of the portability rule in one file's text. */
export function scanSource(text: string, file = 'sample.ts'): Violation[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Violation[] = [];
  const local = declaredLocally(sf);
  const report = (n: ts.Node, what: string) => {
    const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    out.push({ file, line, what });
  };
  const spec = (n: ts.Node, s: string | undefined, how: string) => {
    if (s !== undefined && isNodeBuiltin(s)) report(n, `${how} of Node built-in '${s}'`);
  };
  const globals = new Set<string>(NODE_GLOBALS);

  const visit = (n: ts.Node) => {
    if (ts.isImportDeclaration(n)) spec(n, literalText(n.moduleSpecifier), 'import');
    else if (ts.isExportDeclaration(n)) spec(n, literalText(n.moduleSpecifier), 'export-from');
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      spec(n, literalText(n.moduleReference.expression), 'import = require');
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) {
      spec(n, literalText(n.argument.literal), 'import type');
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      spec(n, literalText(n.arguments[0]), 'dynamic import');
    } else if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'require'
        && !local.has('require')) {
      spec(n, literalText(n.arguments[0]), 'require');
    } else if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression)
        && n.expression.text === 'globalThis' && globals.has(n.name.text)) {
      report(n, `Node global '${n.name.text}' (via globalThis)`);
    } else if (ts.isElementAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'globalThis') {
      const k = literalText(n.argumentExpression);
      if (k !== undefined && globals.has(k)) report(n, `Node global '${k}' (via globalThis)`);
    } else if (ts.isIdentifier(n) && globals.has(n.text) && !local.has(n.text) && isReference(n)) {
      report(n, `Node global '${n.text}'`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

export function scanFile(file: string, root = process.cwd()): Violation[] {
  return scanSource(fs.readFileSync(file, 'utf8'), path.relative(root, file));
}
