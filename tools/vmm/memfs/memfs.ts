// An in-memory FuseFilesystem: a fixed tree served with no host access, so
// the guest stack can be tested and embedded (a microkernel's initial
// filesystem) without a host directory, and so the FuseFilesystem interface
// is shown not to be shaped around the passthrough. Read-only content:
// mutating ops are absent (ENOSYS; serve it through readonlyFilesystem for
// EROFS); no DAX (SETUPMAPPING is absent: ENOSYS, and the guest falls back
// to FUSE_READ). Lookup counts are kept as a kernel expects: a nodeid is
// known from its LOOKUP (or READDIRPLUS entry) until FORGET brings its
// count to 0; the root always is. Node-free.

import { Errno, ErrnoError } from '../../../core';
import { DT_DIR, S_IFMT } from '../../../core/vfs';
import {
  Attr, AttrOut, Dirent, DirentPlus, EntryOut, FlushIn, ForgetOne, FsyncIn, Kstatfs, NameIn, OpenIn, OpenOut,
  ReaddirOut, ReaddirplusOut, ReadIn, ReadlinkOut, ReleaseIn, direntplusSize, direntSize,
} from '../../../fs/fuse';
import type { FsInit, FuseContext, FuseFilesystem, ReadSink } from '../fuse';
import { MemChild, MemNode, MemTree, buildTree, isDirNode, isLinkNode, nameKey } from './tree';

export interface MemFsOptions {
  /** Owner of every node (default 0). */
  uid?: number;
  gid?: number;
  /** atime, mtime and ctime of every node, seconds since the epoch
   *  (default: when the filesystem was built). */
  time?: number;
  /** entry_valid and attr_valid in seconds (default 1). */
  timeout?: number;
}

interface Handle {
  kind: 'file' | 'dir';
  node: MemNode;
  /** Directories: '.', '..', then the children, as at OPENDIR. */
  entries?: MemChild[];
}

const BLOCK = 4096;
const DOT = new Uint8Array([0x2e]);
const DOTDOT = new Uint8Array([0x2e, 0x2e]);

function fail(errno: number, why: string): never {
  throw new ErrnoError(errno, why);
}

/** DT_* of a mode: (mode & S_IFMT) >> 12, as <dirent.h> has it. */
function dtype(mode: number): number {
  return (mode & S_IFMT) >> 12;
}

export class MemFs implements FuseFilesystem {
  private readonly root: MemNode;
  /** Lookup counts of the nodeids the kernel holds. */
  private readonly known = new Map<bigint, { node: MemNode; nlookup: bigint }>();
  private readonly handles = new Map<bigint, Handle>();
  private nextFh = 1n;
  private readonly uid: number;
  private readonly gid: number;
  private readonly time: bigint;
  private readonly timeout: bigint;
  private readonly totals: { blocks: bigint; files: bigint };

  constructor(tree: MemTree, opts: MemFsOptions = {}) {
    const built = buildTree(tree);
    this.root = built.root;
    this.uid = opts.uid ?? 0;
    this.gid = opts.gid ?? 0;
    this.time = BigInt(Math.floor(opts.time ?? Date.now() / 1000));
    this.timeout = BigInt(Math.max(0, Math.floor(opts.timeout ?? 1)));
    let blocks = 0n;
    for (const n of built.nodes.values()) blocks += BigInt(Math.ceil((n.data?.length ?? 0) / BLOCK));
    this.totals = { blocks, files: BigInt(built.nodes.size) };
    this.known.set(this.root.ino, { node: this.root, nlookup: 1n });
  }

  /** Lookup count of a nodeid (undefined when the kernel holds none). */
  nlookup(nodeid: bigint): bigint | undefined {
    return this.known.get(nodeid)?.nlookup;
  }

  get handleCount(): number { return this.handles.size; }

  init(): FsInit { return {}; }

  destroy(): void {
    this.handles.clear();
    this.known.clear();
    this.known.set(this.root.ino, { node: this.root, nlookup: 1n });
  }

  lookup(ctx: FuseContext, body: NameIn): EntryOut {
    const dir = this.node(ctx.nodeid);
    if (!isDirNode(dir)) fail(Errno.ENOTDIR, 'LOOKUP in a non-directory');
    const n = body.name;
    // As the passthrough: '.' and '..' only come with FUSE_EXPORT_SUPPORT.
    if ((n.length === 1 && n[0] === 0x2e) || (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e)) fail(Errno.EINVAL, 'LOOKUP of . or ..');
    const child = dir.children!.get(nameKey(n));
    if (child === undefined) fail(Errno.ENOENT, 'no such entry');
    return this.counted(child.node);
  }

  forget(_ctx: FuseContext, forgets: readonly ForgetOne[]): void {
    for (const f of forgets) {
      const k = this.known.get(f.nodeid);
      if (k === undefined) continue;
      k.nlookup -= f.nlookup < k.nlookup ? f.nlookup : k.nlookup;
      if (k.node === this.root && k.nlookup < 1n) k.nlookup = 1n; // the root is never dropped
      if (k.nlookup === 0n) this.known.delete(f.nodeid);
    }
  }

  getattr(ctx: FuseContext): AttrOut {
    return { attr_valid: this.timeout, attr_valid_nsec: 0, attr: this.attr(this.node(ctx.nodeid)) };
  }

  readlink(ctx: FuseContext): ReadlinkOut {
    const n = this.node(ctx.nodeid);
    if (!isLinkNode(n)) fail(Errno.EINVAL, 'READLINK of a non-symlink');
    return { link: n.target! };
  }

  statfs(): Kstatfs {
    const { blocks, files } = this.totals;
    return { blocks, bfree: 0n, bavail: 0n, files, ffree: 0n, bsize: BLOCK, namelen: 255, frsize: BLOCK };
  }

  open(ctx: FuseContext, _body: OpenIn): OpenOut {
    const n = this.node(ctx.nodeid);
    if (isDirNode(n)) fail(Errno.EISDIR, 'OPEN of a directory');
    if (isLinkNode(n)) fail(Errno.ELOOP, 'OPEN of a symlink');
    return { fh: this.add({ kind: 'file', node: n }), open_flags: 0, backing_id: 0 };
  }

  read(_ctx: FuseContext, body: ReadIn, out: ReadSink): void {
    const data = this.fh(body.fh, 'file').node.data!;
    if (body.offset >= BigInt(data.length)) return;
    const from = Number(body.offset);
    out.write(data.subarray(from, Math.min(data.length, from + body.size)));
  }

  release(_ctx: FuseContext, body: ReleaseIn): null {
    this.fh(body.fh, 'file');
    this.handles.delete(body.fh);
    return null;
  }

  flush(_ctx: FuseContext, body: FlushIn): null {
    this.fh(body.fh, 'file');
    return null;
  }

  fsync(_ctx: FuseContext, body: FsyncIn): null {
    this.fh(body.fh, 'file');
    return null;
  }

  opendir(ctx: FuseContext, _body: OpenIn): OpenOut {
    const n = this.node(ctx.nodeid);
    if (!isDirNode(n)) fail(Errno.ENOTDIR, 'OPENDIR of a non-directory');
    const entries = [{ name: DOT, node: n }, { name: DOTDOT, node: n.parent }, ...n.children!.values()];
    return { fh: this.add({ kind: 'dir', node: n, entries }), open_flags: 0, backing_id: 0 };
  }

  readdir(_ctx: FuseContext, body: ReadIn): ReaddirOut {
    const { from, picked } = this.pick(body, false);
    const entries: Dirent[] = picked.map((e, k) => ({ ino: e.node.ino, off: BigInt(from + k + 1), type: dtype(e.node.mode), name: e.name }));
    return { entries };
  }

  readdirplus(_ctx: FuseContext, body: ReadIn): ReaddirplusOut {
    const { from, picked } = this.pick(body, true);
    const entries: DirentPlus[] = picked.map((e, k) => {
      const dirent = { ino: e.node.ino, off: BigInt(from + k + 1), type: dtype(e.node.mode), name: e.name };
      // '.' and '..' carry nodeid 0 and count no lookup, as virtiofsd's.
      if (from + k < 2) {
        const attr: Attr = { ...this.attr(e.node), size: 0n, blocks: 0n, nlink: 0, flags: 0 };
        return { entry_out: { ...this.entryOut(0n, attr), entry_valid: 0n, attr_valid: 0n }, dirent: { ...dirent, type: DT_DIR } };
      }
      return { entry_out: this.counted(e.node), dirent };
    });
    return { entries };
  }

  releasedir(_ctx: FuseContext, body: ReleaseIn): null {
    this.fh(body.fh, 'dir');
    this.handles.delete(body.fh);
    return null;
  }

  // ---- helpers ----

  /** The node of a nodeid the kernel holds (EBADF otherwise, as virtiofsd). */
  private node(nodeid: bigint): MemNode {
    const k = this.known.get(nodeid);
    if (k === undefined) fail(Errno.EBADF, `unknown nodeid ${nodeid}`);
    return k.node;
  }

  /** The one place an unknown fh (or one of the other kind) is EBADF. */
  private fh(fh: bigint, kind: Handle['kind']): Handle {
    const h = this.handles.get(fh);
    if (h === undefined || h.kind !== kind) fail(Errno.EBADF, `unknown fh ${fh}`);
    return h;
  }

  private add(h: Handle): bigint {
    const fh = this.nextFh++;
    this.handles.set(fh, h);
    return fh;
  }

  /** The entries from body.offset that fit whole in body.size (already
   *  clamped to the reply buffer by the server). */
  private pick(body: ReadIn, plus: boolean): { from: number; picked: MemChild[] } {
    const all = this.fh(body.fh, 'dir').entries!;
    if (body.offset >= BigInt(all.length)) return { from: all.length, picked: [] };
    const from = Number(body.offset);
    let to = from;
    let used = 0;
    while (to < all.length) {
      const n = plus ? direntplusSize(all[to]!.name.length) : direntSize(all[to]!.name.length);
      if (used + n > body.size) break;
      used += n;
      to++;
    }
    if (to === from) fail(Errno.EINVAL, 'buffer too small for one entry'); // not EOF
    return { from, picked: all.slice(from, to) };
  }

  /** One more lookup of `n`: the entry the kernel will hold. */
  private counted(n: MemNode): EntryOut {
    const k = this.known.get(n.ino);
    if (k !== undefined) k.nlookup += 1n;
    else this.known.set(n.ino, { node: n, nlookup: 1n });
    return this.entryOut(n.ino, this.attr(n));
  }

  private entryOut(nodeid: bigint, attr: Attr): EntryOut {
    return {
      nodeid, generation: 0n, entry_valid: this.timeout, attr_valid: this.timeout,
      entry_valid_nsec: 0, attr_valid_nsec: 0, attr,
    };
  }

  private attr(n: MemNode): Attr {
    const size = BigInt(n.data?.length ?? n.target?.length ?? 0);
    return {
      ino: n.ino, size, blocks: (size + 511n) / 512n, atime: this.time, mtime: this.time, ctime: this.time,
      atimensec: 0, mtimensec: 0, ctimensec: 0, mode: n.mode, nlink: n.nlink, uid: this.uid, gid: this.gid,
      rdev: 0, blksize: BLOCK, flags: 0,
    };
  }
}
