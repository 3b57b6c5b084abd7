// The in-memory filesystem's tree: built once from a small description
// (directories as objects, regular files as their bytes or text, symlinks
// with `symlink(target)`), numbered depth first from the root (nodeid and
// ino 1), and never changed after.

import { S_IFDIR, S_IFLNK, S_IFREG } from '../../../core/vfs';
import { FUSE_ROOT_ID } from '../../../fs/fuse';

export class MemSymlink {
  constructor(readonly target: string) {}
}

/** A symlink entry of a tree description. */
export function symlink(target: string): MemSymlink {
  return new MemSymlink(target);
}

/** A directory: its entries by name, in listing order. */
export interface MemTree {
  [name: string]: MemEntry;
}
/** A regular file (bytes, or text as UTF-8), a symlink or a directory. */
export type MemEntry = string | Uint8Array | MemSymlink | MemTree;

export interface MemNode {
  /** Nodeid and st_ino alike. */
  readonly ino: bigint;
  readonly mode: number;
  readonly parent: MemNode;
  /** Regular files: the contents. */
  readonly data?: Uint8Array;
  /** Symlinks: the target. */
  readonly target?: Uint8Array;
  /** Directories: children by name key (see nameKey), in listing order. */
  readonly children?: Map<string, MemChild>;
  readonly nlink: number;
}

export interface MemChild {
  name: Uint8Array;
  node: MemNode;
}

const utf8 = new TextEncoder();
const NAME_MAX = 255;

/** A map key that is exactly the name's bytes (names need not be UTF-8). */
export function nameKey(name: Uint8Array): string {
  let s = '';
  for (let k = 0; k < name.length; k++) s += String.fromCharCode(name[k]!);
  return s;
}

export function isDirNode(n: MemNode): boolean { return n.children !== undefined; }
export function isLinkNode(n: MemNode): boolean { return n.target !== undefined; }

/** Builds the tree; a name that no directory could hold is a RangeError. */
export function buildTree(tree: MemTree): { root: MemNode; nodes: Map<bigint, MemNode> } {
  const nodes = new Map<bigint, MemNode>();
  let next = FUSE_ROOT_ID;
  const make = (entry: MemEntry, parent: MemNode | undefined, where: string): MemNode => {
    const ino = next++;
    let node: MemNode;
    if (typeof entry === 'string' || entry instanceof Uint8Array) {
      const data = typeof entry === 'string' ? utf8.encode(entry) : entry;
      node = { ino, mode: S_IFREG | 0o644, parent: parent!, data, nlink: 1 };
    } else if (entry instanceof MemSymlink) {
      const target = utf8.encode(entry.target);
      if (target.length === 0 || target.length >= 4096 || target.includes(0)) throw new RangeError(`${where}: bad symlink target`);
      node = { ino, mode: S_IFLNK | 0o777, parent: parent!, target, nlink: 1 };
    } else {
      const children = new Map<string, MemChild>();
      const names = Object.keys(entry);
      const subdirs = names.filter((n) => isTree(entry[n]!)).length;
      const dir: MemNode = { ino, mode: S_IFDIR | 0o755, parent: parent!, children, nlink: 2 + subdirs };
      // The root is its own parent ('..' of the root is the root).
      if (parent === undefined) (dir as { parent: MemNode }).parent = dir;
      nodes.set(ino, dir);
      for (const n of names) {
        const name = utf8.encode(n);
        if (name.length === 0 || name.length > NAME_MAX || n === '.' || n === '..' || n.includes('/') || n.includes('\0')) {
          throw new RangeError(`${where}: bad name ${JSON.stringify(n)}`);
        }
        children.set(nameKey(name), { name, node: make(entry[n]!, dir, `${where}/${n}`) });
      }
      return dir;
    }
    nodes.set(ino, node);
    return node;
  };
  const root = make(rootOf(tree), undefined, '');
  return { root, nodes };
}

function isTree(e: MemEntry): e is MemTree {
  return typeof e === 'object' && !(e instanceof Uint8Array) && !(e instanceof MemSymlink);
}

function rootOf(t: MemTree): MemTree {
  if (!isTree(t)) throw new RangeError('the root of a tree description is a directory');
  return t;
}
