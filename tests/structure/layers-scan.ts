// The floors between layers, read from every import in the tree (parsed
// with the TypeScript compiler, so strings and comments never count):
// core < drivers < fs/fuse < fs/virtiofs < tools < lib; the device model
// (tools/vmm) uses drivers and fs/fuse, never the guest filesystem.
//
// Entries: tools/ and lib/ (the programs and the package's library entry)
// reach core/, drivers/ and fs/ only through an entry file, a folder's
// index.ts (portable) or index.node.ts (the Node-side entry: index.ts plus
// the folder's *.node.ts files). A folder with no entry (core/native,
// fs/virtiofs/vnops, drivers/ itself) is reached through its parent's or a
// sibling's. lib/ reaches a tools/ folder that has an index through it.
// Portability: a portable file (not *.node.ts) in core/, drivers/ or fs/
// never imports a *.node.ts file, so a portable entry stays portable all
// the way down (tests/core/portability.test.ts checks each file alone).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

export const LAYERS = ['core', 'drivers', 'fs/fuse', 'fs/virtiofs', 'tools', 'lib'] as const;
export type Layer = (typeof LAYERS)[number];
/** The layers a microkernel embeds: no Node outside *.node.ts files. */
const PORTABLE: readonly Layer[] = ['core', 'drivers', 'fs/fuse', 'fs/virtiofs'];
/** The layers that use the others only through their entries. */
const CONSUMERS: readonly Layer[] = ['tools', 'lib'];

export interface Edge { from: string; to: string; line: number }

/** The layer of a path relative to the project root, or undefined. */
export function layerOf(rel: string): Layer | undefined {
  const p = rel.split(path.sep).join('/');
  for (const l of [...LAYERS].reverse()) if (p === l || p.startsWith(`${l}/`)) return l;
  return undefined;
}

function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path.relative(root, p));
    }
  };
  walk(path.join(root, dir));
  return out.sort();
}

/** The project file a relative specifier names ('x' -> x.ts or x/index.ts). */
export function resolveImport(root: string, fromRel: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.join(path.dirname(path.join(root, fromRel)), spec);
  for (const cand of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (fs.existsSync(cand) && fs.statSync(cand).isFile()) return path.relative(root, cand);
  }
  return undefined;
}

/** Every relative import, export-from and dynamic import of a file, resolved. */
export function importsOf(root: string, rel: string, text?: string): Edge[] {
  const src = text ?? fs.readFileSync(path.join(root, rel), 'utf8');
  const sf = ts.createSourceFile(rel, src, ts.ScriptTarget.Latest, true);
  const out: Edge[] = [];
  const add = (lit: ts.Node): void => {
    if (!ts.isStringLiteral(lit) || !lit.text.startsWith('.')) return; // packages and node: modules
    const to = resolveImport(root, rel, lit.text);
    const line = sf.getLineAndCharacterOfPosition(lit.getStart()).line + 1;
    out.push({ from: rel, to: to ?? `${lit.text} (unresolved)`, line });
  };
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier) add(n.moduleSpecifier);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0]) add(n.arguments[0]);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The innermost folder of a tools/ path around rel that has an index.ts. */
function indexedFolder(root: string, rel: string): string | undefined {
  for (let d = path.dirname(rel); d !== '.' && layerOf(d) !== undefined; d = path.dirname(d)) {
    if (fs.existsSync(path.join(root, d, 'index.ts'))) return d;
  }
  return undefined;
}

const isEntry = (rel: string): boolean => ['index.ts', 'index.node.ts'].includes(path.basename(rel));
const isNodeOnly = (rel: string): boolean => rel.endsWith('.node.ts');

/** Why an edge breaks a floor, or undefined. */
export function violation(root: string, e: Edge): string | undefined {
  if (e.to.endsWith('(unresolved)')) return `${e.from}:${e.line}: import ${e.to}`;
  const a = layerOf(e.from);
  const b = layerOf(e.to);
  if (a === undefined || b === undefined) return undefined;
  if (LAYERS.indexOf(b) > LAYERS.indexOf(a)) return `${e.from}:${e.line}: ${a} imports ${e.to} from ${b}, a layer above`;
  const p = e.from.split(path.sep).join('/');
  if (p.startsWith('tools/vmm/') && b === 'fs/virtiofs') {
    return `${e.from}:${e.line}: the device model imports the guest filesystem (${e.to})`;
  }
  if (PORTABLE.includes(a) && !isNodeOnly(e.from) && isNodeOnly(e.to)) {
    return `${e.from}:${e.line}: a portable file imports the Node-only ${e.to}`;
  }
  if (CONSUMERS.includes(a) && PORTABLE.includes(b) && !isEntry(e.to)) {
    return `${e.from}:${e.line}: imports ${e.to} past its folder's entry (an index.ts or index.node.ts)`;
  }
  if (a === 'lib' && b === 'tools') {
    const folder = indexedFolder(root, e.to);
    if (folder !== undefined && path.basename(e.to) !== 'index.ts') {
      return `${e.from}:${e.line}: imports ${e.to} past ${folder}/index.ts`;
    }
  }
  return undefined;
}

export function scanTree(root: string): { files: string[]; edges: number; problems: string[] } {
  const files = ['core', 'drivers', 'fs', 'tools', 'lib'].flatMap((d) => sourceFiles(root, d));
  const problems: string[] = [];
  let edges = 0;
  for (const f of files) {
    for (const e of importsOf(root, f)) {
      edges++;
      const v = violation(root, e);
      if (v !== undefined) problems.push(v);
    }
  }
  return { files, edges, problems };
}
