// An in-memory filesystem for the VFS tests: files, directories, symlinks,
// readdir in small batches, FUSE-like lookup counting (every lookup counts,
// inactive forgets), and a log of what the VFS asked for.

import { Errno, ErrnoError } from '../../core/errno';
import {
  DirEntry, FileSystemType, FsEntry, MountedFs, MountOptions, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SetAttr, Stat,
  StatFs, Vnode, Vnops, modeToDt,
} from '../../core/vfs';

export type Node =
  | { ino: bigint; mode: number; kind: 'file'; data: Uint8Array }
  | { ino: bigint; mode: number; kind: 'dir'; children: Map<string, Node> }
  | { ino: bigint; mode: number; kind: 'link'; target: string };

export class Tree {
  private nextIno = 2n;
  readonly root: Node = { ino: 1n, mode: S_IFDIR | 0o755, kind: 'dir', children: new Map() };

  private parentOf(path: string): [Extract<Node, { kind: 'dir' }>, string] {
    const comps = path.split('/').filter(Boolean);
    const name = comps.pop()!;
    let d = this.root;
    for (const c of comps) {
      const n = (d as Extract<Node, { kind: 'dir' }>).children.get(c);
      if (!n || n.kind !== 'dir') throw new Error(`fake: no dir ${c}`);
      d = n;
    }
    return [d as Extract<Node, { kind: 'dir' }>, name];
  }
  alloc(): bigint { return this.nextIno++; }
  file(path: string, content: string | Uint8Array): this {
    const [d, name] = this.parentOf(path);
    const data = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    d.children.set(name, { ino: this.alloc(), mode: S_IFREG | 0o644, kind: 'file', data });
    return this;
  }
  dir(path: string): this {
    const [d, name] = this.parentOf(path);
    d.children.set(name, { ino: this.alloc(), mode: S_IFDIR | 0o755, kind: 'dir', children: new Map() });
    return this;
  }
  link(path: string, target: string): this {
    const [d, name] = this.parentOf(path);
    d.children.set(name, { ino: this.alloc(), mode: S_IFLNK | 0o777, kind: 'link', target });
    return this;
  }
}

const t0 = { sec: 1700000000, nsec: 5 };

function statOf(n: Node): Stat {
  const size = n.kind === 'file' ? n.data.length : n.kind === 'link' ? n.target.length : 4096;
  return {
    ino: n.ino, mode: n.mode, nlink: n.kind === 'dir' ? 2 : 1, uid: 0, gid: 0, rdev: 0, size,
    blocks: Math.ceil(size / 512), blksize: 4096, atime: t0, mtime: t0, ctime: t0,
  };
}

/** One mounted instance; the log is per instance. */
export class FakeMount implements MountedFs {
  readonly nlookup = new Map<bigint, number>();
  readonly inactive: bigint[] = [];
  readonly calls: string[] = [];
  openHandles = 0;
  unmounted: boolean | null = null;
  private nextFh = 1;
  readonly vnops: Vnops;

  constructor(readonly tree: Tree, readonly options: MountOptions, writable: boolean, readonly batch: number) {
    const self = this;
    const node = (vp: Vnode) => vp.data as Node;
    const entry = (n: Node): FsEntry => {
      this.nlookup.set(n.ino, (this.nlookup.get(n.ino) ?? 0) + 1);
      return { ino: n.ino, mode: n.mode, data: n };
    };
    const dirOf = (vp: Vnode) => {
      const n = node(vp);
      if (n.kind !== 'dir') throw new ErrnoError(Errno.ENOTDIR);
      return n;
    };
    const ro: Vnops = {
      async lookup(dir, name) {
        self.calls.push(`lookup ${name}`);
        const n = dirOf(dir).children.get(name);
        if (!n) throw new ErrnoError(Errno.ENOENT);
        return entry(n);
      },
      async getattr(vp) { return statOf(node(vp)); },
      async open(vp) { self.openHandles++; return { fh: self.nextFh++, ino: vp.ino }; },
      async release() { self.openHandles--; },
      async read(vp, _fh, offset, len) {
        const n = node(vp);
        if (n.kind !== 'file') throw new ErrnoError(Errno.EISDIR);
        self.calls.push(`read ${offset} ${len}`);
        return n.data.subarray(Math.min(offset, n.data.length), Math.min(offset + len, n.data.length));
      },
      async opendir() { self.openHandles++; return { fh: self.nextFh++ }; },
      async releasedir() { self.openHandles--; },
      async readdir(vp, _fh, cookie) {
        const d = dirOf(vp);
        const all: [string, number, bigint][] = [['.', S_IFDIR, d.ino], ['..', S_IFDIR, 0n]];
        for (const [name, c] of d.children) all.push([name, c.mode & S_IFMT, c.ino]);
        const out: DirEntry[] = [];
        for (let i = Number(cookie); i < all.length && out.length < self.batch; i++) {
          out.push({ name: all[i][0], type: modeToDt(all[i][1]), ino: all[i][2], nextCookie: BigInt(i + 1) });
        }
        return out;
      },
      async readlink(vp) {
        const n = node(vp);
        if (n.kind !== 'link') throw new ErrnoError(Errno.EINVAL);
        return n.target;
      },
      inactive(vp) {
        self.inactive.push(vp.ino);
        self.nlookup.delete(vp.ino);
      },
    };
    if (!writable) { this.vnops = ro; return; }
    const add = (dir: Vnode, name: string, n: Node) => {
      const d = dirOf(dir);
      if (d.children.has(name)) throw new ErrnoError(Errno.EEXIST);
      d.children.set(name, n);
      return entry(n);
    };
    this.vnops = {
      ...ro,
      async write(vp, _fh, offset, data) {
        const n = node(vp);
        if (n.kind !== 'file') throw new ErrnoError(Errno.EISDIR);
        const end = offset + data.length;
        if (end > n.data.length) { const b = new Uint8Array(end); b.set(n.data); n.data = b; }
        n.data.set(data, offset);
        return data.length;
      },
      async create(dir, name, mode) {
        const e = add(dir, name, { ino: tree.alloc(), mode: S_IFREG | (mode & 0o7777), kind: 'file', data: new Uint8Array(0) });
        self.openHandles++;
        return { entry: e, fh: { fh: self.nextFh++ } };
      },
      async mkdir(dir, name, mode) {
        return add(dir, name, { ino: tree.alloc(), mode: S_IFDIR | (mode & 0o7777), kind: 'dir', children: new Map() });
      },
      async symlink(dir, name, target) {
        return add(dir, name, { ino: tree.alloc(), mode: S_IFLNK | 0o777, kind: 'link', target });
      },
      async unlink(dir, name) {
        const d = dirOf(dir);
        const n = d.children.get(name);
        if (!n) throw new ErrnoError(Errno.ENOENT);
        if (n.kind === 'dir') throw new ErrnoError(Errno.EISDIR);
        d.children.delete(name);
      },
      async rmdir(dir, name) {
        const d = dirOf(dir);
        const n = d.children.get(name);
        if (!n) throw new ErrnoError(Errno.ENOENT);
        if (n.kind !== 'dir') throw new ErrnoError(Errno.ENOTDIR);
        if (n.children.size) throw new ErrnoError(Errno.ENOTEMPTY);
        d.children.delete(name);
      },
      async rename(src, srcName, dst, dstName) {
        const s = dirOf(src);
        const n = s.children.get(srcName);
        if (!n) throw new ErrnoError(Errno.ENOENT);
        s.children.delete(srcName);
        dirOf(dst).children.set(dstName, n);
      },
      async setattr(vp, attr: SetAttr) {
        const n = node(vp);
        if (attr.size !== undefined && n.kind === 'file') {
          const b = new Uint8Array(attr.size);
          b.set(n.data.subarray(0, attr.size));
          n.data = b;
        }
        return statOf(n);
      },
    };
  }

  async root(): Promise<FsEntry> {
    this.nlookup.set(1n, (this.nlookup.get(1n) ?? 0) + 1);
    return { ino: 1n, mode: this.tree.root.mode, data: this.tree.root };
  }
  async unmount(force: boolean): Promise<void> { this.unmounted = force; }
  async statfs(): Promise<StatFs> {
    return { bsize: 4096, frsize: 4096, blocks: 100, bfree: 50, bavail: 40, files: 10, ffree: 5, namelen: 255 };
  }
  async sync(): Promise<void> { this.calls.push('sync'); }
}

/** A filesystem type over named trees; `instances` holds every mount made. */
export class FakeFsType implements FileSystemType {
  readonly instances: FakeMount[] = [];
  constructor(readonly name: string, readonly sources: Map<string, Tree>,
              readonly writable = false, readonly batch = 2) {}
  async mount(source: string, options: MountOptions): Promise<MountedFs> {
    const tree = this.sources.get(source);
    if (!tree) throw new ErrnoError(Errno.ENODEV, source);
    const m = new FakeMount(tree, options, this.writable, this.batch);
    this.instances.push(m);
    return m;
  }
}
