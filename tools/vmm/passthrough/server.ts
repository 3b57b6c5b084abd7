// The passthrough backend: answers FUSE requests from a host directory, as
// virtiofsd's passthrough_ll does, for what a read-only mount needs, plus
// DAX mappings. Requests run concurrently (async host calls only); every
// host access goes through Confine (see confine.ts and docs/PASSTHROUGH.md).

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core/errno';
import * as K from '../../../fs/virtiofs/fuse/kernel';
import { Dirent, DirentPlus, direntSize, direntplusSize } from '../../../fs/virtiofs/fuse/dirents';
import { encodeOutHeader } from '../../../fs/virtiofs/fuse/headers';
import { encodeReaddirReply, encodeReply } from '../../../fs/virtiofs/fuse/replies';
import { AnyRequest, Request, decodeRequest } from '../../../fs/virtiofs/fuse/requests';
import { Attr, EntryOut } from '../../../fs/virtiofs/fuse/structs';
import { Confine, VerifiedDir, isDotOrDotdot, joinRel, lookupNameErrno } from './confine';
import { DaxMapper } from './dax-mapper';
import { DaxFlagReader, DaxPolicy, DaxPolicyEvaluator, lsattrDaxFlag } from './dax-policy';
import { errnoOf } from './errors';
import { Reserver, fallocateKeepSize } from './fallocate';
import { DirEntryName, DirFh, FileFh, HandleTable } from './handles';
import { S_IFDIR, S_IFMT, isDir, isLnk, isReg, modeToDtype, statToAttr } from './host-attrs';
import { DEFAULT_MAX_PAGES, negotiateInit } from './init';
import { Inode, InodeTable } from './inodes';
import { PassthroughLogger, consoleLogger } from './logger';
import { checkRemove, checkSetup } from './mappings';

const { O_RDONLY, O_APPEND, O_TRUNC, O_SYNC, O_DSYNC, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const O_ACCMODE = 3;
const HDR = K.FUSE_OUT_HEADER_SIZE;

export interface PassthroughOptions {
  /** The host directory to serve. */
  root: string;
  /** Refuse every write (EROFS), as virtiofsd's --readonly. */
  readonly?: boolean;
  daxPolicy: DaxPolicy;
  /** The DAX window; absent when the device has none. */
  dax?: DaxMapper;
  logger?: PassthroughLogger;
  /** entry_valid and attr_valid in seconds (virtiofsd's cache=auto: 1). */
  timeout?: number;
  /** max_pages offered with FUSE_MAX_PAGES. */
  maxPages?: number;
  /** Test seams: the FS_DAX_FL reader and the block reserver. */
  daxFlagReader?: DaxFlagReader;
  reserver?: Reserver;
}

export interface HandleContext {
  /** The virtqueue the request came on (0: hiprio). */
  queue: number;
  /** Bytes of the request's device-writable part. */
  replyCapacity: number;
}

function errReply(unique: bigint, errno: number): Uint8Array {
  return encodeOutHeader({ len: HDR, error: -errno, unique });
}

function hasNoReply(opcode: number): boolean {
  return opcode === K.FUSE_FORGET || opcode === K.FUSE_BATCH_FORGET || opcode === K.FUSE_INTERRUPT;
}

function utf8Exact(name: Buffer): string | undefined {
  const s = name.toString('utf8');
  return Buffer.byteLength(s) === name.length && Buffer.from(s, 'utf8').equals(name) ? s : undefined;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** FUSE_READs up to this size are read with a blocking pread (see read()). */
const SYNC_READ_MAX = 128 * 1024;
/** A blocking read slower than this sends its file to the thread pool. */
const SYNC_READ_SLOW_MS = 2;

export class PassthroughServer {
  private readonly confine: Confine;
  private readonly inodes: InodeTable;
  private readonly handles = new HandleTable();
  /** Open files whose blocking read was slow: they use the thread pool. */
  private readonly slowFiles = new WeakSet<FileFh>();
  private readonly policy: DaxPolicyEvaluator;
  private readonly log: PassthroughLogger;
  private readonly readonly: boolean;
  private readonly dax: DaxMapper | undefined;
  private readonly timeout: bigint;
  private readonly maxPages: number;
  private readonly reserve: Reserver;
  private initialized = false;

  constructor(opts: PassthroughOptions) {
    this.confine = new Confine(opts.root);
    const st = fs.fstatSync(this.confine.rootFd, { bigint: true });
    this.inodes = new InodeTable(st.dev, st.ino, Number(st.mode));
    this.policy = new DaxPolicyEvaluator(opts.daxPolicy, opts.daxFlagReader ?? lsattrDaxFlag);
    this.log = opts.logger ?? consoleLogger;
    this.readonly = opts.readonly ?? false;
    this.dax = opts.dax;
    this.timeout = BigInt(Math.max(0, Math.floor(opts.timeout ?? 1)));
    this.maxPages = Math.min(Math.max(1, opts.maxPages ?? DEFAULT_MAX_PAGES), 0xffff);
    this.reserve = opts.reserver ?? fallocateKeepSize;
  }

  /** Lookup count of a nodeid (undefined once dropped); for tests and stats. */
  nlookup(nodeid: bigint): bigint | undefined {
    return this.inodes.get(nodeid)?.nlookup;
  }

  get inodeCount(): number { return this.inodes.size; }
  get handleCount(): number { return this.handles.size; }

  /** One FUSE request in, its whole reply out (null: no reply). Never throws. */
  async handle(request: Uint8Array, ctx: HandleContext): Promise<Uint8Array | null> {
    let unique: bigint | undefined;
    try {
      const d = decodeRequest(request);
      if (!d.ok) {
        const opcode = request.length >= 8 ? new DataView(request.buffer, request.byteOffset, 8).getUint32(4, true) : -1;
        if (d.unique === undefined || hasNoReply(opcode)) {
          this.log.warn(`dropped an undecodable request: ${d.reason}`);
          return null;
        }
        this.log.debug?.(`${K.opcodeName(opcode)} refused: ${d.reason}`);
        return this.fit(errReply(d.unique, d.errno), d.unique, ctx);
      }
      const req = d.value;
      unique = req.unique;
      if (hasNoReply(req.opcode)) {
        this.noReply(req);
        return null;
      }
      if (!this.initialized && req.opcode !== K.FUSE_INIT) {
        return this.fit(errReply(req.unique, Errno.EIO), req.unique, ctx);
      }
      let reply: Uint8Array;
      try {
        reply = await this.dispatch(req, ctx);
      } catch (e) {
        const errno = errnoOf(e);
        if (errno === Errno.EIO) this.log.warn(`${K.opcodeName(req.opcode)}: ${String(e)}`);
        reply = errReply(req.unique, errno);
      }
      return this.fit(reply, req.unique, ctx);
    } catch (e) {
      this.log.warn(`internal error: ${String(e)}`);
      return unique === undefined || ctx.replyCapacity < HDR ? null : errReply(unique, Errno.EIO);
    }
  }

  /** Closes every handle and the root; the server is unusable after. */
  async close(): Promise<void> {
    await this.dropHandles();
    this.confine.close();
  }

  private fit(reply: Uint8Array, unique: bigint, ctx: HandleContext): Uint8Array | null {
    if (reply.length <= ctx.replyCapacity) return reply;
    this.log.warn(`reply of ${reply.length} bytes exceeds the ${ctx.replyCapacity}-byte buffer`);
    return ctx.replyCapacity >= HDR ? errReply(unique, Errno.ERANGE) : null;
  }

  private noReply(req: AnyRequest): void {
    switch (req.opcode) {
      case K.FUSE_FORGET: this.forget(req.nodeid, req.body.nlookup); break;
      case K.FUSE_BATCH_FORGET: for (const f of req.body.forgets) this.forget(f.nodeid, f.nlookup); break;
      default: break; // INTERRUPT: host calls here are short; nothing to cancel.
    }
  }

  private forget(nodeid: bigint, n: bigint): void {
    const complaint = this.inodes.forget(nodeid, n);
    if (complaint !== undefined) this.log.warn(complaint);
  }

  private dispatch(req: AnyRequest, ctx: HandleContext): Promise<Uint8Array> {
    switch (req.opcode) {
      case K.FUSE_INIT: return this.init(req);
      case K.FUSE_LOOKUP: return this.lookup(req);
      case K.FUSE_GETATTR: return this.getattr(req);
      case K.FUSE_OPEN: return this.open(req);
      case K.FUSE_READ: return this.read(req, ctx);
      case K.FUSE_RELEASE: return this.release(req, 'file');
      case K.FUSE_RELEASEDIR: return this.release(req, 'dir');
      case K.FUSE_OPENDIR: return this.opendir(req);
      case K.FUSE_READDIR: return this.readdir(req, ctx, false);
      case K.FUSE_READDIRPLUS: return this.readdir(req, ctx, true);
      case K.FUSE_READLINK: return this.readlink(req);
      case K.FUSE_STATFS: return this.statfs(req);
      case K.FUSE_FLUSH: return this.flush(req);
      case K.FUSE_FSYNC: return this.fsync(req);
      case K.FUSE_SETUPMAPPING: return this.setupmapping(req);
      case K.FUSE_REMOVEMAPPING: return this.removemapping(req);
      case K.FUSE_DESTROY: return this.destroy(req);
      case K.FUSE_WRITE: case K.FUSE_CREATE: case K.FUSE_SETATTR: case K.FUSE_MKNOD: case K.FUSE_MKDIR:
      case K.FUSE_UNLINK: case K.FUSE_RMDIR: case K.FUSE_RENAME: case K.FUSE_RENAME2: case K.FUSE_LINK:
      case K.FUSE_SYMLINK: case K.FUSE_FALLOCATE:
        // Writes come with a later issue; a read-only share refuses them.
        return Promise.resolve(errReply(req.unique, this.readonly ? Errno.EROFS : Errno.ENOSYS));
      default:
        return Promise.resolve(errReply(req.unique, Errno.ENOSYS));
    }
  }

  // ---- helpers ----

  private inode(nodeid: bigint): Inode {
    const i = this.inodes.get(nodeid);
    // virtiofsd answers EBADF for a nodeid it does not hold (lo_fd()).
    if (i === undefined) throw new ErrnoError(Errno.EBADF, `unknown nodeid ${nodeid}`);
    return i;
  }

  private openDirOf(i: Inode): Promise<VerifiedDir> {
    return this.confine.openDir(i.path, i.dev, i.ino);
  }

  /** The verified parent of a non-directory. */
  private openParentOf(i: Inode): Promise<VerifiedDir> {
    const p = i.parent;
    if (p === null) throw new ErrnoError(Errno.ESTALE, 'inode without a parent');
    return this.confine.openDir(p.path, p.dev, p.ino);
  }

  private async daxFor(st: BigIntStats, dir: VerifiedDir, name: Buffer): Promise<boolean> {
    if (this.policy.policy === 'inode') {
      const s = utf8Exact(name);
      // lsattr takes a string path: a name that is not UTF-8 gets no DAX.
      if (s === undefined) return false;
      return this.policy.enabled(st, () => dir.childForChild(s));
    }
    return this.policy.enabled(st, () => '');
  }

  /** lstat of `name` in `dir`, checked to be the inode's (dev, ino). */
  private async lstatChecked(dir: VerifiedDir, i: Inode): Promise<BigIntStats> {
    const st = await fs.promises.lstat(dir.child(i.name), { bigint: true }).catch((e: unknown) => {
      if ((e as { code?: string }).code === 'ENOENT') throw new ErrnoError(Errno.ESTALE, 'entry gone');
      throw e;
    });
    // The type too: a freed inode number is soon reused (no generation
    // numbers in Node), e.g. a file deleted and replaced by a symlink.
    if (st.dev !== i.dev || st.ino !== i.ino || (Number(st.mode) & S_IFMT) !== (i.mode & S_IFMT)) {
      throw new ErrnoError(Errno.ESTALE, 'entry replaced since lookup');
    }
    return st;
  }

  private entryOut(nodeid: bigint, attr: Attr): EntryOut {
    return {
      nodeid, generation: 0n, entry_valid: this.timeout, attr_valid: this.timeout,
      entry_valid_nsec: 0, attr_valid_nsec: 0, attr,
    };
  }

  private fileFh(fh: bigint): FileFh {
    const h = this.handles.get(fh);
    if (h === undefined || h.kind !== 'file') throw new ErrnoError(Errno.EBADF, `unknown fh ${fh}`);
    return h;
  }

  private dirFh(fh: bigint): DirFh {
    const h = this.handles.get(fh);
    if (h === undefined || h.kind !== 'dir') throw new ErrnoError(Errno.EBADF, `unknown fh ${fh}`);
    return h;
  }

  private empty(unique: bigint): Uint8Array {
    return encodeOutHeader({ len: HDR, error: 0, unique });
  }

  // ---- operations ----

  private async init(req: Request<typeof K.FUSE_INIT>): Promise<Uint8Array> {
    const r = negotiateInit(req.body, { inodeDax: this.policy.policy !== 'none', maxPages: this.maxPages });
    if (typeof r.out === 'number') return errReply(req.unique, r.out);
    this.initialized = r.initialized;
    return encodeReply(K.FUSE_INIT, req.unique, r.out);
  }

  private async lookup(req: Request<typeof K.FUSE_LOOKUP>): Promise<Uint8Array> {
    const parent = this.inode(req.nodeid);
    if (!isDir(parent.mode)) return errReply(req.unique, Errno.ENOTDIR);
    const bad = lookupNameErrno(req.body.name);
    if (bad !== 0) return errReply(req.unique, bad);
    const name = Buffer.from(req.body.name); // a copy: the request buffer is not ours to keep
    const dir = await this.openDirOf(parent);
    try {
      const st = await fs.promises.lstat(dir.child(name), { bigint: true });
      const dax = await this.daxFor(st, dir, name);
      const i = this.inodes.lookedUp(parent, name, joinRel(parent.path, name), st);
      return encodeReply(K.FUSE_LOOKUP, req.unique,
        this.entryOut(i.nodeid, statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0)));
    } finally {
      await dir.close();
    }
  }

  private async getattr(req: Request<typeof K.FUSE_GETATTR>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    let st: BigIntStats;
    let dax = false;
    const h = (req.body.getattr_flags & K.FUSE_GETATTR_FH) !== 0 ? this.handles.get(req.body.fh) : undefined;
    if (h !== undefined && h.kind === 'file' && h.inode === i) {
      st = await h.file.stat({ bigint: true });
      dax = this.policy.policy === 'inode' ? await this.getattrDaxByPath(i, st) : await this.policy.enabled(st, () => '');
    } else if (isDir(i.mode)) {
      const dir = await this.openDirOf(i);
      st = dir.stat;
      await dir.close();
    } else {
      const dir = await this.openParentOf(i);
      try {
        st = await this.lstatChecked(dir, i);
        dax = await this.daxFor(st, dir, i.name);
      } finally {
        await dir.close();
      }
    }
    // FUSE_ATTR_DAX in GETATTR too: Linux's fuse_dax_dontcache() compares
    // it on every attribute update and would drop a DAX inode otherwise.
    return encodeReply(K.FUSE_GETATTR, req.unique, {
      attr_valid: this.timeout, attr_valid_nsec: 0, attr: statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0),
    });
  }

  private async getattrDaxByPath(i: Inode, st: BigIntStats): Promise<boolean> {
    const dir = await this.openParentOf(i);
    try { return await this.daxFor(st, dir, i.name); } finally { await dir.close(); }
  }

  private async open(req: Request<typeof K.FUSE_OPEN>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    if (isDir(i.mode)) return errReply(req.unique, Errno.EISDIR);
    if (isLnk(i.mode)) return errReply(req.unique, Errno.ELOOP);
    const flags = req.body.flags;
    const acc = flags & O_ACCMODE;
    const writes = acc !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (writes && this.readonly) return errReply(req.unique, Errno.EROFS);
    // O_NONBLOCK: a FIFO swapped in must not block a libuv thread; it is
    // refused below anyway. O_NOFOLLOW: never open through a symlink.
    const host = acc | (flags & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)) | O_NOFOLLOW | O_NONBLOCK;
    const dir = await this.openParentOf(i);
    let file: fs.promises.FileHandle;
    try {
      file = await fs.promises.open(dir.child(i.name), host);
    } finally {
      await dir.close();
    }
    try {
      const st = await file.stat({ bigint: true });
      if (st.dev !== i.dev || st.ino !== i.ino) throw new ErrnoError(Errno.ESTALE, 'file replaced since lookup');
      if (!isReg(Number(st.mode))) throw new ErrnoError(Errno.ENXIO, 'only regular files are opened');
    } catch (e) {
      await file.close().catch(() => undefined);
      throw e;
    }
    const fh = this.handles.add({ kind: 'file', file, inode: i, writable: acc !== O_RDONLY });
    return encodeReply(K.FUSE_OPEN, req.unique, { fh, open_flags: 0, backing_id: 0 });
  }

  private async read(req: Request<typeof K.FUSE_READ>, ctx: HandleContext): Promise<Uint8Array> {
    const h = this.fileFh(req.body.fh);
    const size = Math.max(0, Math.min(req.body.size, ctx.replyCapacity - HDR));
    const reply = new Uint8Array(HDR + size);
    let n = 0;
    if (req.body.offset <= MAX_SAFE) {
      const pos = Number(req.body.offset);
      // Read straight into the reply; loop only on a short non-EOF read.
      if (size <= SYNC_READ_MAX && !this.slowFiles.has(h)) {
        // A blocking pread on the event loop, as virtiofsd's threads do: for a
        // file in the page cache it takes a few us, while the thread pool
        // costs two thread wake-ups per request. A file that once took long
        // (network fs, cold disk) goes to the thread pool for good, so at
        // most one slow read holds the other requests.
        const t0 = performance.now();
        while (n < size) {
          const got = fs.readSync(h.file.fd, reply, HDR + n, size - n, pos + n);
          if (got === 0) break;
          n += got;
        }
        if (performance.now() - t0 > SYNC_READ_SLOW_MS) this.slowFiles.add(h);
      } else {
        while (n < size) {
          const { bytesRead } = await h.file.read(reply, HDR + n, size - n, pos + n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
      }
    }
    const dv = new DataView(reply.buffer, reply.byteOffset, HDR);
    dv.setUint32(0, HDR + n, true);
    dv.setInt32(4, 0, true);
    dv.setBigUint64(8, req.unique, true);
    return reply.subarray(0, HDR + n);
  }

  private async release(req: Request<typeof K.FUSE_RELEASE> | Request<typeof K.FUSE_RELEASEDIR>,
    kind: 'file' | 'dir'): Promise<Uint8Array> {
    const h = this.handles.get(req.body.fh);
    if (h === undefined || h.kind !== kind) return errReply(req.unique, Errno.EBADF);
    this.handles.remove(req.body.fh);
    await (h.kind === 'file' ? h.file : h.dir).close().catch(() => undefined);
    return this.empty(req.unique);
  }

  private async opendir(req: Request<typeof K.FUSE_OPENDIR>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    if (!isDir(i.mode)) return errReply(req.unique, Errno.ENOTDIR);
    const dir = await this.openDirOf(i);
    let entries: DirEntryName[];
    try {
      const list = await fs.promises.readdir(Buffer.from(`/proc/self/fd/${dir.handle.fd}`),
        { encoding: 'buffer', withFileTypes: true });
      entries = [{ name: Buffer.from('.'), type: K.DT_DIR }, { name: Buffer.from('..'), type: K.DT_DIR }];
      for (const e of list) {
        const type = e.isFile() ? K.DT_REG : e.isDirectory() ? K.DT_DIR : e.isSymbolicLink() ? K.DT_LNK
          : e.isFIFO() ? K.DT_FIFO : e.isCharacterDevice() ? K.DT_CHR : e.isBlockDevice() ? K.DT_BLK
            : e.isSocket() ? K.DT_SOCK : K.DT_UNKNOWN;
        entries.push({ name: e.name as unknown as Buffer, type });
      }
    } catch (e) {
      await dir.close();
      throw e;
    }
    const fh = this.handles.add({ kind: 'dir', dir: dir.handle, inode: i, entries });
    return encodeReply(K.FUSE_OPENDIR, req.unique, { fh, open_flags: 0, backing_id: 0 });
  }

  private async readdir(req: Request<typeof K.FUSE_READDIR> | Request<typeof K.FUSE_READDIRPLUS>,
    ctx: HandleContext, plus: boolean): Promise<Uint8Array> {
    const h = this.dirFh(req.body.fh);
    const size = Math.max(0, Math.min(req.body.size, ctx.replyCapacity - HDR));
    const start = req.body.offset;
    const opcode = plus ? K.FUSE_READDIRPLUS : K.FUSE_READDIR;
    if (start >= BigInt(h.entries.length)) return this.empty(req.unique);
    // Pick the entries that fit before any host call, so READDIRPLUS counts
    // lookups only for entries that are returned.
    const from = Number(start);
    let to = from;
    let used = 0;
    while (to < h.entries.length) {
      const n = plus ? direntplusSize(h.entries[to]!.name.length) : direntSize(h.entries[to]!.name.length);
      if (used + n > size) break;
      used += n;
      to++;
    }
    if (to === from) return errReply(req.unique, Errno.EINVAL); // too small for one entry: not EOF
    const prefix = Buffer.from(`/proc/self/fd/${h.dir.fd}/`);
    const isRoot = h.inode === this.inodes.root;
    const picked = h.entries.slice(from, to);
    // Host calls for all picked entries at once; a vanished entry is skipped.
    type Found = { kind: 'dot'; ino: bigint } | { kind: 'gone' } | { kind: 'ok'; st: BigIntStats; dax: boolean };
    const found = await Promise.all(picked.map(async (e): Promise<Found> => {
      const dotdot = e.name.length === 2 && isDotOrDotdot(e.name);
      // '.' is the directory; the root's '..' stays inside: it is the root.
      if (isDotOrDotdot(e.name) && (!dotdot || isRoot)) return { kind: 'dot', ino: h.inode.ino };
      try {
        const st = await fs.promises.lstat(Buffer.concat([prefix, e.name]), { bigint: true });
        if (dotdot) return { kind: 'dot', ino: st.ino };
        if (!plus) return { kind: 'ok', st, dax: false };
        const dax = await this.policy.enabled(st, () => {
          const s = utf8Exact(e.name);
          return s === undefined ? '' : `/proc/${process.pid}/fd/${h.dir.fd}/${s}`;
        });
        return { kind: 'ok', st, dax };
      } catch {
        return { kind: 'gone' };
      }
    }));
    if (!plus) {
      const list: Dirent[] = [];
      for (let k = 0; k < picked.length; k++) {
        const f = found[k]!;
        if (f.kind === 'gone') continue;
        const e = picked[k]!;
        const ino = f.kind === 'dot' ? f.ino : f.st.ino;
        list.push({ ino, off: BigInt(from + k + 1), type: e.type, name: e.name });
      }
      return encodeReaddirReply(opcode, req.unique, list, size).bytes;
    }
    const list: DirentPlus[] = [];
    const counted: Inode[] = [];
    for (let k = 0; k < picked.length; k++) {
      const f = found[k]!;
      if (f.kind === 'gone') continue;
      const e = picked[k]!;
      const off = BigInt(from + k + 1);
      if (f.kind === 'dot') {
        // As virtiofsd: no lookup for '.' and '..'; nodeid 0 makes the
        // kernel skip the entry when it fills its dcache.
        const a: Attr = {
          ino: f.ino, size: 0n, blocks: 0n, atime: 0n, mtime: 0n, ctime: 0n, atimensec: 0, mtimensec: 0,
          ctimensec: 0, mode: S_IFDIR, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0,
        };
        list.push({
          entry_out: { ...this.entryOut(0n, a), entry_valid: 0n, attr_valid: 0n },
          dirent: { ino: f.ino, off, type: K.DT_DIR, name: e.name },
        });
        continue;
      }
      const i = this.inodes.lookedUp(h.inode, e.name, joinRel(h.inode.path, e.name), f.st);
      counted.push(i);
      list.push({
        entry_out: this.entryOut(i.nodeid, statToAttr(f.st, f.dax ? K.FUSE_ATTR_DAX : 0)),
        dirent: { ino: f.st.ino, off, type: modeToDtype(Number(f.st.mode)), name: e.name },
      });
    }
    try {
      const r = encodeReaddirReply(opcode, req.unique, list, size);
      if (r.count !== list.length) throw new ErrnoError(Errno.EIO, 'premeasured entries did not fit');
      return r.bytes;
    } catch (e) {
      for (const i of counted) this.inodes.forget(i.nodeid, 1n);
      throw e;
    }
  }

  private async readlink(req: Request<typeof K.FUSE_READLINK>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    if (!isLnk(i.mode)) return errReply(req.unique, Errno.EINVAL);
    const dir = await this.openParentOf(i);
    try {
      await this.lstatChecked(dir, i);
      const link = await fs.promises.readlink(dir.child(i.name), { encoding: 'buffer' });
      return encodeReply(K.FUSE_READLINK, req.unique, { link });
    } finally {
      await dir.close();
    }
  }

  private async statfs(req: Request<typeof K.FUSE_STATFS>): Promise<Uint8Array> {
    const s = await fs.promises.statfs(`/proc/self/fd/${this.confine.rootFd}`, { bigint: true });
    const bsize = Number(s.bsize & 0xffffffffn);
    return encodeReply(K.FUSE_STATFS, req.unique, {
      blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree,
      bsize, namelen: 255, frsize: bsize,
    });
  }

  private async flush(req: Request<typeof K.FUSE_FLUSH>): Promise<Uint8Array> {
    this.fileFh(req.body.fh); // nothing is buffered here
    return this.empty(req.unique);
  }

  private async fsync(req: Request<typeof K.FUSE_FSYNC>): Promise<Uint8Array> {
    const h = this.fileFh(req.body.fh);
    if ((req.body.fsync_flags & K.FUSE_FSYNC_FDATASYNC) !== 0) await h.file.datasync();
    else await h.file.sync();
    return this.empty(req.unique);
  }

  private async setupmapping(req: Request<typeof K.FUSE_SETUPMAPPING>): Promise<Uint8Array> {
    // No window: EINVAL, as cloud-hypervisor's fuse server answers.
    if (this.dax === undefined) return errReply(req.unique, Errno.EINVAL);
    const h = this.fileFh(req.body.fh);
    const m = checkSetup(req.body, this.dax.windowSize);
    if (typeof m === 'number') return errReply(req.unique, m);
    if (m.writable) {
      if (this.readonly) return errReply(req.unique, Errno.EROFS);
      // mmap(PROT_WRITE, MAP_SHARED) of a read-only fd fails EACCES in QEMU.
      if (!h.writable) return errReply(req.unique, Errno.EACCES);
      await this.reserve(h.file.fd, m.foffset, m.len);
    }
    await this.dax.map({ moffset: m.moffset, len: m.len, fd: h.file.fd, foffset: m.foffset, writable: m.writable });
    return this.empty(req.unique);
  }

  private async removemapping(req: Request<typeof K.FUSE_REMOVEMAPPING>): Promise<Uint8Array> {
    if (this.dax === undefined) return errReply(req.unique, Errno.EINVAL);
    const ranges = checkRemove(req.body.mappings, this.dax.windowSize);
    if (typeof ranges === 'number') return errReply(req.unique, ranges);
    await this.dax.unmap(ranges);
    return this.empty(req.unique);
  }

  private async destroy(req: Request<typeof K.FUSE_DESTROY>): Promise<Uint8Array> {
    await this.dropHandles();
    this.inodes.clear();
    this.initialized = false;
    return this.empty(req.unique);
  }

  private async dropHandles(): Promise<void> {
    const all = this.handles.drain();
    await Promise.all(all.map((h) => (h.kind === 'file' ? h.file : h.dir).close().catch(() => undefined)));
  }
}
