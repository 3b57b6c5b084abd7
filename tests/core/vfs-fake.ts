// An in-memory filesystem for the VFS tests: files, directories, symlinks,
// special nodes, owners and modes (what it creates belongs to the caller, a
// set-gid directory gives its group), link counts, times from a counter
// clock, xattrs, POSIX and flock locks, readdir in small batches, FUSE-like
// lookup counting (every lookup counts, inactive forgets), and a log of what
// the VFS asked for. It checks no permission: that is the VFS's job.

import { Errno, ErrnoError } from '../../core/errno';
import {
  F_UNLCK, F_WRLCK, FileLock, FileSystemType, FsDirEntry, FsEntry, LOCK_EX, LOCK_NB, LOCK_UN, MountedFs, MountOptions,
  OpContext, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_ISGID, SEEK_DATA, SetAttr, Stat,
  StatFs, Timespec, Vnode, Vnops, XATTR_CREATE, XATTR_REPLACE, modeToDt,
} from '../../core/vfs';

const utf8 = new TextEncoder();
/** A map key for a name's bytes. */
const key = (b: Uint8Array): string => String.fromCharCode(...b);
const bytes = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? utf8.encode(s) : s);

interface Common {
  ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  xattrs: Map<string, Uint8Array>;
}
export type Node =
  | (Common & { kind: 'file'; data: Uint8Array })
  | (Common & { kind: 'dir'; children: Map<string, { name: Uint8Array; node: Node }> })
  | (Common & { kind: 'link'; target: Uint8Array })
  | (Common & { kind: 'special'; rdev: number });
type Dir = Extract<Node, { kind: 'dir' }>;

/** Nodes a Tree is built with carry this time; later changes tick a clock from it. */
export const T0: Timespec = { sec: 1_700_000_000, nsec: 5 };
let clock = T0.sec + 1;
const tick = (): Timespec => ({ sec: clock++, nsec: 5 });

function common(ino: bigint, mode: number, uid = 0, gid = 0, t: Timespec = T0): Common {
  return { ino, mode, uid, gid, nlink: 1, atime: t, mtime: t, ctime: t, xattrs: new Map() };
}

export class Tree {
  private nextIno = 2n;
  readonly root: Node = { ...common(1n, S_IFDIR | 0o755), nlink: 2, kind: 'dir', children: new Map() };

  private parentOf(path: string): [Dir, Uint8Array] {
    const comps = path.split('/').filter(Boolean);
    const name = comps.pop()!;
    let d = this.root as Dir;
    for (const c of comps) {
      const n = d.children.get(key(bytes(c)))?.node;
      if (!n || n.kind !== 'dir') throw new Error(`fake: no dir ${c}`);
      d = n;
    }
    return [d, bytes(name)];
  }
  alloc(): bigint { return this.nextIno++; }
  private put(path: string, node: Node): this {
    const [d, name] = this.parentOf(path);
    d.children.set(key(name), { name, node });
    if (node.kind === 'dir') d.nlink++;
    return this;
  }
  file(path: string, content: string | Uint8Array, mode = 0o644, uid = 0, gid = 0): this {
    return this.put(path, { ...common(this.alloc(), S_IFREG | mode, uid, gid), kind: 'file', data: bytes(content) });
  }
  dir(path: string, mode = 0o755, uid = 0, gid = 0): this {
    return this.put(path, { ...common(this.alloc(), S_IFDIR | mode, uid, gid), nlink: 2, kind: 'dir', children: new Map() });
  }
  link(path: string, target: string): this {
    return this.put(path, { ...common(this.alloc(), S_IFLNK | 0o777), kind: 'link', target: bytes(target) });
  }
  /** The node at a path (for assertions). */
  get(path: string): Node | undefined {
    let n: Node = this.root;
    for (const c of path.split('/').filter(Boolean)) {
      if (n.kind !== 'dir') return undefined;
      const e = n.children.get(key(bytes(c)));
      if (!e) return undefined;
      n = e.node;
    }
    return n;
  }
}

function statOf(n: Node): Stat {
  const size = n.kind === 'file' ? n.data.length : n.kind === 'link' ? n.target.length : n.kind === 'dir' ? 4096 : 0;
  return {
    ino: n.ino, mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, rdev: n.kind === 'special' ? n.rdev : 0, size,
    blocks: Math.ceil(size / 512), blksize: 4096, atime: n.atime, mtime: n.mtime, ctime: n.ctime,
  };
}

const e = (errno: number): ErrnoError => new ErrnoError(errno);

interface HeldLock { owner: bigint; type: number; start: number; end: number; pid: number; flock: boolean }

/** One mounted instance; the log is per instance. */
export class FakeMount implements MountedFs {
  readonly nlookup = new Map<bigint, number>();
  readonly inactive: bigint[] = [];
  readonly calls: string[] = [];
  /** The ctx of the last vnop call (for credential assertions). */
  lastCtx: OpContext | undefined;
  openHandles = 0;
  unmounted: boolean | null = null;
  readonly locks = new Map<bigint, HeldLock[]>();
  private readonly waiters = new Set<() => void>();
  private nextFh = 1;
  readonly vnops: Vnops;

  constructor(readonly tree: Tree, readonly options: MountOptions, writable: boolean, readonly batch: number) {
    const self = this;
    const node = (vp: Vnode) => vp.data as Node;
    const entry = (n: Node): FsEntry => {
      this.nlookup.set(n.ino, (this.nlookup.get(n.ino) ?? 0) + 1);
      return { ino: n.ino, mode: n.mode, data: n };
    };
    const dirOf = (vp: Vnode): Dir => {
      const n = node(vp);
      if (n.kind !== 'dir') throw e(Errno.ENOTDIR);
      return n;
    };
    const see = (ctx: OpContext | undefined) => { self.lastCtx = ctx; };
    const ro: Vnops = {
      async lookup(dir, name, ctx) {
        see(ctx);
        self.calls.push(`lookup ${new TextDecoder().decode(name)}`);
        const c = dirOf(dir).children.get(key(name));
        if (!c) throw e(Errno.ENOENT);
        return entry(c.node);
      },
      async getattr(vp) { return statOf(node(vp)); },
      async open(vp, _flags, ctx) { see(ctx); self.openHandles++; return { fh: self.nextFh++, ino: vp.ino }; },
      async release() { self.openHandles--; },
      async read(vp, _fh, offset, len) {
        const n = node(vp);
        if (n.kind !== 'file') throw e(Errno.EISDIR);
        self.calls.push(`read ${offset} ${len}`);
        return n.data.subarray(Math.min(offset, n.data.length), Math.min(offset + len, n.data.length));
      },
      async opendir() { self.openHandles++; return { fh: self.nextFh++ }; },
      async releasedir() { self.openHandles--; },
      async readdir(vp, _fh, cookie) {
        const d = dirOf(vp);
        const all: [Uint8Array, number, bigint][] = [[bytes('.'), S_IFDIR, d.ino], [bytes('..'), S_IFDIR, 0n]];
        for (const c of d.children.values()) all.push([c.name, c.node.mode & S_IFMT, c.node.ino]);
        const out: FsDirEntry[] = [];
        for (let i = Number(cookie); i < all.length && out.length < self.batch; i++) {
          out.push({ name: all[i]![0], type: modeToDt(all[i]![1]), ino: all[i]![2], nextCookie: BigInt(i + 1) });
        }
        return out;
      },
      async readlink(vp) {
        const n = node(vp);
        if (n.kind !== 'link') throw e(Errno.EINVAL);
        return n.target;
      },
      inactive(vp) {
        self.inactive.push(vp.ino);
        self.nlookup.delete(vp.ino);
      },
    };
    if (!writable) { this.vnops = ro; return; }
    /** A new node owned by the caller; a set-gid directory gives its group (and, to a directory, the bit). */
    const make = <T extends Node>(dir: Dir, ctx: OpContext, mode: number, rest: Omit<T, keyof Common>): T => {
      const sgid = (dir.mode & S_ISGID) !== 0;
      const isDir = (mode & S_IFMT) === S_IFDIR;
      const m = sgid && isDir ? mode | S_ISGID : mode;
      return { ...common(tree.alloc(), m, ctx.cred.uid, sgid ? dir.gid : ctx.cred.gid, tick()), ...rest } as T;
    };
    const add = (dir: Vnode, name: Uint8Array, n: Node) => {
      const d = dirOf(dir);
      if (d.children.has(key(name))) throw e(Errno.EEXIST);
      d.children.set(key(name), { name, node: n });
      if (n.kind === 'dir') d.nlink++;
      d.mtime = d.ctime = tick();
      return entry(n);
    };
    const take = (d: Dir, name: Uint8Array) => {
      const c = d.children.get(key(name));
      if (!c) throw e(Errno.ENOENT);
      return c.node;
    };
    const detach = (d: Dir, name: Uint8Array) => {
      const n = take(d, name);
      d.children.delete(key(name));
      if (n.kind === 'dir') d.nlink--;
      d.mtime = d.ctime = tick();
      return n;
    };
    const resize = (n: Extract<Node, { kind: 'file' }>, size: number) => {
      const b = new Uint8Array(size);
      b.set(n.data.subarray(0, size));
      n.data = b;
      n.mtime = n.ctime = tick();
    };
    const conflicts = (ino: bigint, l: HeldLock) => (self.locks.get(ino) ?? []).find((h) =>
      h.owner !== l.owner && h.flock === l.flock && h.start <= l.end && l.start <= h.end && (h.type === F_WRLCK || l.type === F_WRLCK));
    const unlock = (ino: bigint, owner: bigint, flock: boolean, start = 0, end = Number.MAX_SAFE_INTEGER) => {
      self.locks.set(ino, (self.locks.get(ino) ?? []).filter((h) => h.owner !== owner || h.flock !== flock || h.end < start || h.start > end));
      for (const w of [...self.waiters]) w();
    };
    const lock = async (ino: bigint, l: HeldLock, wait: boolean, ctx: OpContext) => {
      if (l.type === F_UNLCK) { unlock(ino, l.owner, l.flock, l.start, l.end); return; }
      while (conflicts(ino, l)) {
        if (!wait) throw e(Errno.EAGAIN);
        await new Promise<void>((resolve, reject) => {
          const done = () => { self.waiters.delete(done); ctx.signal?.removeEventListener('abort', abort); resolve(); };
          const abort = () => { self.waiters.delete(done); reject(e(Errno.EINTR)); };
          self.waiters.add(done);
          ctx.signal?.addEventListener('abort', abort, { once: true });
        });
      }
      unlock(ino, l.owner, l.flock, l.start, l.end);
      self.locks.get(ino)!.push(l);
    };
    this.vnops = {
      ...ro,
      async write(vp, _fh, offset, data, ctx) {
        see(ctx);
        const n = node(vp);
        if (n.kind !== 'file') throw e(Errno.EISDIR);
        const at = offset < 0 ? n.data.length : offset;
        if (at + data.length > n.data.length) resize(n, at + data.length);
        n.data.set(data, at);
        n.mtime = n.ctime = tick();
        return data.length;
      },
      async create(dir, name, mode, _flags, ctx) {
        see(ctx);
        const d = dirOf(dir);
        const en = add(dir, name, make<Extract<Node, { kind: 'file' }>>(d, ctx, S_IFREG | (mode & 0o7777), { kind: 'file', data: new Uint8Array(0) }));
        self.openHandles++;
        return { entry: en, fh: { fh: self.nextFh++ } };
      },
      async mknod(dir, name, mode, rdev, ctx) {
        see(ctx);
        const kind = (mode & S_IFMT) === S_IFREG ? { kind: 'file' as const, data: new Uint8Array(0) } : { kind: 'special' as const, rdev };
        return add(dir, name, make(dirOf(dir), ctx, mode, kind));
      },
      async mkdir(dir, name, mode, ctx) {
        see(ctx);
        return add(dir, name, { ...make<Dir>(dirOf(dir), ctx, S_IFDIR | mode, { kind: 'dir', children: new Map() }), nlink: 2 });
      },
      async symlink(dir, name, target, ctx) {
        see(ctx);
        return add(dir, name, make<Extract<Node, { kind: 'link' }>>(dirOf(dir), ctx, S_IFLNK | 0o777, { kind: 'link', target }));
      },
      async link(vp, dir, name, ctx) {
        see(ctx);
        const n = node(vp);
        const en = add(dir, name, n);
        n.nlink++;
        n.ctime = tick();
        return en;
      },
      async unlink(dir, name, ctx) {
        see(ctx);
        const d = dirOf(dir);
        if (take(d, name).kind === 'dir') throw e(Errno.EISDIR);
        const n = detach(d, name);
        n.nlink--;
        n.ctime = tick();
      },
      async rmdir(dir, name, ctx) {
        see(ctx);
        const d = dirOf(dir);
        const n = take(d, name);
        if (n.kind !== 'dir') throw e(Errno.ENOTDIR);
        if (n.children.size) throw e(Errno.ENOTEMPTY);
        detach(d, name);
      },
      async rename(src, srcName, dst, dstName, flags, ctx) {
        see(ctx);
        const s = dirOf(src);
        const d = dirOf(dst);
        const n = take(s, srcName);
        const old = d.children.get(key(dstName))?.node;
        if ((flags & RENAME_NOREPLACE) && old) throw e(Errno.EEXIST);
        if (flags & RENAME_EXCHANGE) {
          if (!old) throw e(Errno.ENOENT);
          s.children.set(key(srcName), { name: srcName, node: old });
          d.children.set(key(dstName), { name: dstName, node: n });
          return;
        }
        if (old?.kind === 'dir' && old.children.size) throw e(Errno.ENOTEMPTY);
        if (old) { detach(d, dstName); old.nlink--; }
        detach(s, srcName);
        d.children.set(key(dstName), { name: dstName, node: n });
        if (n.kind === 'dir') d.nlink++;
        n.ctime = tick();
      },
      async setattr(vp, attr: SetAttr, _fh, ctx) {
        see(ctx);
        const n = node(vp);
        const t = tick();
        if (attr.size !== undefined) {
          if (n.kind !== 'file') throw e(Errno.EINVAL);
          resize(n, attr.size);
        }
        if (attr.mode !== undefined) n.mode = (n.mode & S_IFMT) | (attr.mode & 0o7777);
        if (attr.uid !== undefined) n.uid = attr.uid;
        if (attr.gid !== undefined) n.gid = attr.gid;
        if (attr.atime !== undefined) n.atime = attr.atime === 'now' ? t : attr.atime;
        if (attr.mtime !== undefined) n.mtime = attr.mtime === 'now' ? t : attr.mtime;
        n.ctime = t;
        return statOf(n);
      },
      async flush() { self.calls.push('flush'); },
      async fsync() { self.calls.push('fsync'); },
      async fsyncdir() { self.calls.push('fsyncdir'); },
      async fallocate(vp, _fh, mode, offset, len) {
        const n = node(vp);
        if (n.kind !== 'file') throw e(Errno.ENODEV);
        self.calls.push(`fallocate ${mode} ${offset} ${len}`);
        if (mode === 0 && offset + len > n.data.length) resize(n, offset + len);
        if (mode & 2) n.data.fill(0, offset, Math.min(offset + len, n.data.length));
      },
      async lseek(vp, _fh, offset, whence) {
        const n = node(vp);
        const size = n.kind === 'file' ? n.data.length : 0;
        if (offset >= size) throw e(Errno.ENXIO);
        return whence === SEEK_DATA ? offset : size;
      },
      async getxattr(vp, name, size) {
        const v = node(vp).xattrs.get(key(name));
        if (!v) throw e(Errno.ENODATA);
        if (size === 0) return v.length;
        if (size < v.length) throw e(Errno.ERANGE);
        return v;
      },
      async listxattr(vp, size) {
        const parts = [...node(vp).xattrs.keys()].map((k) => [...k].map((c) => c.charCodeAt(0)).concat(0)).flat();
        if (size === 0) return parts.length;
        if (size < parts.length) throw e(Errno.ERANGE);
        return Uint8Array.from(parts);
      },
      async setxattr(vp, name, value, flags) {
        const x = node(vp).xattrs;
        if ((flags & XATTR_CREATE) && x.has(key(name))) throw e(Errno.EEXIST);
        if ((flags & XATTR_REPLACE) && !x.has(key(name))) throw e(Errno.ENODATA);
        x.set(key(name), value.slice());
      },
      async removexattr(vp, name) {
        if (!node(vp).xattrs.delete(key(name))) throw e(Errno.ENODATA);
      },
      async getlk(vp, _fh, owner, l: FileLock) {
        const c = conflicts(vp.ino, { ...l, owner, flock: false });
        return c ? { type: c.type, start: c.start, end: c.end, pid: c.pid } : { ...l, type: F_UNLCK };
      },
      async setlk(vp, _fh, owner, l: FileLock, wait, ctx) {
        await lock(vp.ino, { ...l, owner, flock: false }, wait, ctx);
      },
      async flock(vp, _fh, owner, op, ctx) {
        const type = (op & LOCK_UN) ? F_UNLCK : (op & LOCK_EX) ? F_WRLCK : 0;
        await lock(vp.ino, { owner, type, start: 0, end: Number.MAX_SAFE_INTEGER, pid: ctx.cred.pid, flock: true }, !(op & LOCK_NB), ctx);
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
