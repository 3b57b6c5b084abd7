// The inode table: nodeids are small integers handed out here (never host
// pointers), root = 1. One entry per host (dev, ino): looking the same file
// up twice, by any name, yields the same nodeid and adds to its lookup
// count, as virtiofsd does. An entry is dropped when FORGET brings its
// count to 0; the root is never dropped.

import type { BigIntStats } from 'node:fs';
import { FUSE_ROOT_ID } from '../../../fs/fuse';
import { S_IFMT, isDir } from './host-attrs';

export interface Inode {
  readonly nodeid: bigint;
  readonly dev: bigint;
  readonly ino: bigint;
  /** Birth time (statx btime; 0 where the filesystem has none): with
   *  (dev, ino) the file's identity, since a freed inode number is soon
   *  reused and Node has no generation numbers or O_PATH handles to hold. */
  readonly btime: bigint;
  /** S_IFMT bits and permissions at the last lookup. */
  mode: number;
  /** Path relative to root, '/'-joined checked components ('' for root).
   *  Updated by every lookup (the latest verified name of a hard link or
   *  a renamed file). */
  path: Buffer;
  /** Name in the parent directory, and the parent's identity at lookup:
   *  non-directories are reached through their verified parent. */
  name: Buffer;
  parent: ParentRef | null;
  /** A non-directory's other names seen by lookups (hard links), by path:
   *  when the name in use goes (unlink, a rename over it) the file is
   *  reached by one of these, as virtiofsd reaches it by its O_PATH fd. */
  links?: Map<string, Link>;
  nlookup: bigint;
}

export interface ParentRef { nodeid: bigint; path: Buffer; dev: bigint; ino: bigint }

interface Link { name: Buffer; path: Buffer; parent: ParentRef }

const pathKey = (p: Buffer) => p.toString('latin1');
const refOf = (parent: Inode): ParentRef => ({ nodeid: parent.nodeid, path: parent.path, dev: parent.dev, ino: parent.ino });

function key(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}

export class InodeTable {
  private readonly byId = new Map<bigint, Inode>();
  private readonly byKey = new Map<string, Inode>();
  private next = FUSE_ROOT_ID + 1n;
  readonly root: Inode;

  constructor(rootDev: bigint, rootIno: bigint, rootMode: number) {
    this.root = {
      nodeid: FUSE_ROOT_ID, dev: rootDev, ino: rootIno, btime: 0n, mode: rootMode,
      path: Buffer.alloc(0), name: Buffer.alloc(0), parent: null, nlookup: 1n,
    };
    this.insert(this.root);
  }

  private insert(i: Inode): void {
    this.byId.set(i.nodeid, i);
    this.byKey.set(key(i.dev, i.ino), i);
  }

  get(nodeid: bigint): Inode | undefined {
    return this.byId.get(nodeid);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Counts one lookup of `name` in `parent` that found `st`: the existing
   *  entry for (dev, ino), or a new one. Synchronous, so concurrent
   *  lookups of the same file cannot create two entries. */
  lookedUp(parent: Inode, name: Buffer, path: Buffer, st: BigIntStats): Inode {
    const mode = Number(st.mode);
    let i = this.byKey.get(key(st.dev, st.ino));
    if (i !== undefined && i !== this.root && ((i.mode & S_IFMT) !== (mode & S_IFMT) || i.btime !== st.birthtimeNs)) {
      // A reused inode number: the old entry keeps its nodeid until
      // forgotten, but no longer answers for (dev, ino).
      this.byKey.delete(key(st.dev, st.ino));
      i = undefined;
    }
    if (i === undefined) {
      i = {
        nodeid: this.next++, dev: st.dev, ino: st.ino, btime: st.birthtimeNs, mode, path, name,
        parent: { nodeid: parent.nodeid, path: parent.path, dev: parent.dev, ino: parent.ino }, nlookup: 0n,
      };
      this.insert(i);
    } else if (i !== this.root) {
      if (!isDir(mode) && !i.path.equals(path)) {
        // Another name of the same file: the one in use is kept in reserve.
        i.links ??= new Map();
        i.links.set(pathKey(i.path), { name: i.name, path: i.path, parent: i.parent! });
        i.links.delete(pathKey(path));
      }
      i.mode = mode;
      i.path = path;
      i.name = name;
      i.parent = refOf(parent);
    }
    i.nlookup += 1n;
    return i;
  }

  /** Subtracts n lookups. Returns a complaint when n exceeded the count
   *  (clamped to it) or the nodeid is unknown, else undefined. */
  forget(nodeid: bigint, n: bigint): string | undefined {
    const i = this.byId.get(nodeid);
    if (i === undefined) return `FORGET of unknown nodeid ${nodeid}`;
    let complaint: string | undefined;
    let take = n;
    if (take > i.nlookup) {
      complaint = `FORGET of ${n} lookups on nodeid ${nodeid}, which has ${i.nlookup}: clamped`;
      take = i.nlookup;
    }
    if (i === this.root) {
      // The root is never dropped; its count never goes below 1.
      if (i.nlookup - take < 1n) take = i.nlookup - 1n;
      i.nlookup -= take;
      return complaint;
    }
    i.nlookup -= take;
    if (i.nlookup === 0n) {
      this.byId.delete(nodeid);
      const k = key(i.dev, i.ino);
      if (this.byKey.get(k) === i) this.byKey.delete(k);
    }
    return complaint;
  }

  /** The held inode of a host (dev, ino), if any. */
  byHost(dev: bigint, ino: bigint): Inode | undefined {
    return this.byKey.get(key(dev, ino));
  }

  /**
   * A rename moved `moved` (an inode held here) to `name` in `parent`: it
   * is reached by its new path from now on, and when it is a directory so
   * is everything below it (their paths and their parents' paths start with
   * its old path). O(inodes held), as renames are rare next to lookups.
   */
  moved(moved: Inode, parent: Inode, name: Buffer, path: Buffer, oldPath: Buffer = moved.path): void {
    if (!isDir(moved.mode) && !moved.path.equals(oldPath)) {
      // A link other than the one in use was renamed: the reserve follows.
      moved.links ??= new Map();
      moved.links.delete(pathKey(oldPath));
      moved.links.set(pathKey(path), { name, path, parent: refOf(parent) });
      return;
    }
    const old = moved.path;
    moved.path = path;
    moved.name = name;
    moved.parent = refOf(parent);
    moved.links?.delete(pathKey(path));
    if (!isDir(moved.mode)) return;
    const prefix = Buffer.concat([old, Buffer.from('/')]);
    const under = (p: Buffer) => p.subarray(0, prefix.length).equals(prefix);
    const swap = (p: Buffer): Buffer => Buffer.concat([path, p.subarray(old.length)]);
    const swapRef = (pp: ParentRef): ParentRef => (pp.path.equals(old) || under(pp.path) ? { ...pp, path: swap(pp.path) } : pp);
    for (const i of this.byId.values()) {
      if (i === moved) continue;
      if (under(i.path)) i.path = swap(i.path);
      if (i.parent) i.parent = swapRef(i.parent);
      if (i.links?.size) {
        const links = [...i.links.values()].map((l) => ({ ...l, path: under(l.path) ? swap(l.path) : l.path, parent: swapRef(l.parent) }));
        i.links = new Map(links.map((l) => [pathKey(l.path), l]));
      }
    }
  }

  /** The name at `path` of the held file (dev, ino) is gone (unlink, or a
   *  rename over it): if that was the name in use, another known link is. */
  unlinked(dev: bigint, ino: bigint, path: Buffer): void {
    const i = this.byKey.get(key(dev, ino));
    if (i === undefined || i === this.root || isDir(i.mode)) return;
    i.links?.delete(pathKey(path));
    if (!i.path.equals(path) || !i.links?.size) return;
    const [k, l] = i.links.entries().next().value as [string, Link];
    i.links.delete(k);
    i.path = l.path;
    i.name = l.name;
    i.parent = l.parent;
  }

  /** DESTROY: every inode but the root goes. */
  clear(): void {
    this.byId.clear();
    this.byKey.clear();
    this.root.nlookup = 1n;
    this.insert(this.root);
  }

  isDir(i: Inode): boolean {
    return isDir(i.mode);
  }
}
