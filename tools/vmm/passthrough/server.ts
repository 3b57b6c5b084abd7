// The passthrough backend: answers FUSE requests from a host directory, as
// virtiofsd's passthrough_ll does, for what a read-only mount needs, plus
// DAX mappings. Host calls block the event loop while the host answers
// fast and go to the thread pool once it did not (slow-guard.ts), so
// requests still run concurrently on a slow host; every host access goes
// through Confine (see confine.ts and docs/PASSTHROUGH.md).

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { Errno, ErrnoError } from '../../../core/errno';
import * as K from '../../../fs/fuse';
import {
  AnyRequest, Attr, decodeRequest, Dirent, DirentPlus, direntplusSize, direntSize, encodeOutHeader, encodeReaddirReply, encodeReply, EntryOut, Request,
} from '../../../fs/fuse';
import { Confine, isDotOrDotdot, joinRel, lookupNameErrno } from './confine';
import { DirCache, DirFd } from './dir-cache';
import { DaxMapper } from './dax-mapper';
import { DaxFlagReader, DaxPolicy, DaxPolicyEvaluator, lsattrDaxFlag } from './dax-policy';
import { errnoOf } from './errors';
import { Reserver, fallocateKeepSize } from './fallocate';
import { DirEntryName, DirFh, FileFh, Fh, HandleTable } from './handles';
import { HostCalls } from './host';
import { S_IFDIR, S_IFMT, isDir, isLnk, isReg, modeToDtype, statToAttr } from './host-attrs';
import { DEFAULT_MAX_PAGES, negotiateInit } from './init';
import { Inode, InodeTable } from './inodes';
import { PassthroughLogger, consoleLogger } from './logger';
import { checkRemove, checkSetup } from './mappings';
import { SlowGuard } from './slow-guard';

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
  /** A blocking host call slower than this (ms, default 2) sends its file
   *  (reads) or its filesystem (metadata) to the thread pool for good. */
  slowSyncMs?: number;
  /** The clock (ms) blocking calls are timed with; a test seam. */
  clock?: () => number;
  /** Verified directory fds kept open (default 256). */
  dirCacheSize?: number;
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

type Found = { kind: 'dot'; ino: bigint } | { kind: 'gone' } | { kind: 'ok'; st: BigIntStats; dax: boolean };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** FUSE_READs up to this size are read with a blocking pread (see read()). */
const SYNC_READ_MAX = 128 * 1024;
/** A blocking host call slower than this leaves the event loop. */
const SLOW_SYNC_MS = 2;
const DIR_CACHE_SIZE = 256;
const readAsync = promisify(fs.read);
const fsyncAsync = promisify(fs.fsync);
const fdatasyncAsync = promisify(fs.fdatasync);

export class PassthroughServer {
  private readonly confine: Confine;
  private readonly inodes: InodeTable;
  private readonly handles = new HandleTable();
  /** Metadata calls, timed per filesystem (st_dev). */
  private readonly host: HostCalls;
  /** Reads, timed per open file. */
  private readonly readGuard: SlowGuard<FileFh>;
  private readonly dirs: DirCache;
  private readonly policy: DaxPolicyEvaluator;
  private readonly log: PassthroughLogger;
  private readonly readonly: boolean;
  private readonly dax: DaxMapper | undefined;
  private readonly timeout: bigint;
  private readonly maxPages: number;
  private readonly reserve: Reserver;
  private initialized = false;

  constructor(opts: PassthroughOptions) {
    this.log = opts.logger ?? consoleLogger;
    const slowMs = opts.slowSyncMs ?? SLOW_SYNC_MS;
    const clock = opts.clock ?? (() => performance.now());
    this.host = new HostCalls(new SlowGuard<bigint>(slowMs, clock, new Map(), (dev, ms, strikes, final) => {
      const msg = `a blocking host call on filesystem ${dev} took ${ms.toFixed(1)} ms: its metadata calls go `
        + `to the thread pool${final ? ' for good' : ' until they are fast again'}`;
      if (strikes === 1 || final) this.log.warn(msg);
      else this.log.debug?.(msg);
    }));
    this.readGuard = new SlowGuard<FileFh>(slowMs, clock, new WeakMap());
    this.dirs = new DirCache(Math.max(0, Math.floor(opts.dirCacheSize ?? DIR_CACHE_SIZE)));
    this.confine = new Confine(opts.root, this.host);
    const st = this.confine.rootDir.stat;
    this.inodes = new InodeTable(st.dev, st.ino, Number(st.mode));
    this.policy = new DaxPolicyEvaluator(opts.daxPolicy, opts.daxFlagReader ?? lsattrDaxFlag);
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
  /** Directory fds held by the cache (not counting those only open handles hold). */
  get cachedDirCount(): number { return this.dirs.size; }
  /** Filesystems whose metadata calls left the event loop. */
  slowFilesystem(dev: bigint): boolean { return !this.host.guard.fast(dev); }

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
    this.dirs.clear();
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
    if (this.inodes.get(nodeid) === undefined) this.dirs.drop(nodeid);
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

  /** The verified fd of directory inode i, with a reference the caller
   *  releases: the cached one once its path is shown to still lead to it,
   *  else a fresh one (cached while i is known). */
  private async dirOf(i: Inode): Promise<DirFd> {
    if (i === this.inodes.root) return this.confine.rootDir.acquire();
    const hit = this.dirs.get(i.nodeid);
    if (hit !== undefined) {
      hit.acquire();
      try {
        await this.confine.checkDir(i.path, hit);
      } catch (e) {
        hit.release();
        // Renamed, moved out or replaced: the fd is of no further use.
        if (errnoOf(e) === Errno.ESTALE && this.dirs.get(i.nodeid) === hit) this.dirs.drop(i.nodeid);
        throw e;
      }
      return hit;
    }
    const d = (await this.confine.openDir(i.path, i.dev, i.ino)).acquire();
    // Forgotten while opening (thread pool): used once, never cached.
    if (this.inodes.get(i.nodeid) === i) this.dirs.put(i.nodeid, d);
    else d.drop();
    return d;
  }

  /** The verified parent of a non-directory, with a reference to release. */
  private async parentOf(i: Inode): Promise<DirFd> {
    const p = i.parent;
    if (p === null) throw new ErrnoError(Errno.ESTALE, 'inode without a parent');
    const pi = this.inodes.get(p.nodeid);
    if (pi !== undefined && pi.dev === p.dev && pi.ino === p.ino) return this.dirOf(pi);
    // The parent was forgotten: open it for this request only.
    const d = (await this.confine.openDir(p.path, p.dev, p.ino)).acquire();
    d.drop();
    return d;
  }

  private async daxFor(st: BigIntStats, dir: DirFd, name: Buffer): Promise<boolean> {
    const now = this.policy.enabledNow(st);
    if (now !== undefined) return now;
    if (this.policy.policy === 'inode') {
      const s = utf8Exact(name);
      // lsattr takes a string path: a name that is not UTF-8 gets no DAX.
      if (s === undefined) return false;
      return this.policy.enabled(st, () => dir.childForChild(s));
    }
    return this.policy.enabled(st, () => '');
  }

  /** lstat of `name` in `dir`, checked to be the inode's (dev, ino). */
  private async lstatChecked(dir: DirFd, i: Inode): Promise<BigIntStats> {
    let st: BigIntStats;
    try {
      st = await this.host.lstat(i.dev, dir.child(i.name));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw new ErrnoError(Errno.ESTALE, 'entry gone');
      throw e;
    }
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
    const dir = await this.dirOf(parent);
    try {
      const st = await this.host.lstat(parent.dev, dir.child(name));
      const dax = await this.daxFor(st, dir, name);
      const i = this.inodes.lookedUp(parent, name, joinRel(parent.path, name), st);
      return encodeReply(K.FUSE_LOOKUP, req.unique,
        this.entryOut(i.nodeid, statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0)));
    } finally {
      dir.release();
    }
  }

  private async getattr(req: Request<typeof K.FUSE_GETATTR>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    let st: BigIntStats;
    let dax = false;
    const h = (req.body.getattr_flags & K.FUSE_GETATTR_FH) !== 0 ? this.handles.get(req.body.fh) : undefined;
    if (h !== undefined && h.kind === 'file' && h.inode === i) {
      st = await this.host.fstat(i.dev, h.fd);
      dax = this.policy.enabledNow(st) ?? await this.getattrDaxByPath(i, st);
    } else if (i === this.inodes.root) {
      st = await this.host.fstat(i.dev, this.confine.rootFd);
    } else if (isDir(i.mode)) {
      const dir = await this.dirOf(i);
      st = dir.stat; // from the check or the open just done
      dir.release();
    } else {
      const dir = await this.parentOf(i);
      try {
        st = await this.lstatChecked(dir, i);
        dax = await this.daxFor(st, dir, i.name);
      } finally {
        dir.release();
      }
    }
    // FUSE_ATTR_DAX in GETATTR too: Linux's fuse_dax_dontcache() compares
    // it on every attribute update and would drop a DAX inode otherwise.
    return encodeReply(K.FUSE_GETATTR, req.unique, {
      attr_valid: this.timeout, attr_valid_nsec: 0, attr: statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0),
    });
  }

  private async getattrDaxByPath(i: Inode, st: BigIntStats): Promise<boolean> {
    const dir = await this.parentOf(i);
    try { return await this.daxFor(st, dir, i.name); } finally { dir.release(); }
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
    const dir = await this.parentOf(i);
    let fd: number;
    try {
      fd = await this.host.open(i.dev, dir.child(i.name), host);
    } finally {
      dir.release();
    }
    try {
      const st = await this.host.fstat(i.dev, fd);
      if (st.dev !== i.dev || st.ino !== i.ino) throw new ErrnoError(Errno.ESTALE, 'file replaced since lookup');
      if (!isReg(Number(st.mode))) throw new ErrnoError(Errno.ENXIO, 'only regular files are opened');
    } catch (e) {
      await this.host.close(i.dev, fd);
      throw e;
    }
    const fh = this.handles.add({ kind: 'file', fd, inode: i, writable: acc !== O_RDONLY });
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
      if (size <= SYNC_READ_MAX && this.readGuard.fast(h)) {
        // A blocking pread on the event loop (slow-guard.ts): a file that
        // took long goes to the thread pool.
        const t0 = this.readGuard.start();
        try {
          while (n < size) {
            const got = fs.readSync(h.fd, reply, HDR + n, size - n, pos + n);
            if (got === 0) break;
            n += got;
          }
        } finally {
          this.readGuard.done(h, t0);
        }
      } else {
        while (n < size) {
          const { bytesRead } = await this.readGuard.runAsync(h, () => readAsync(h.fd, reply, HDR + n, size - n, pos + n));
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
    await this.closeFh(h);
    return this.empty(req.unique);
  }

  private async opendir(req: Request<typeof K.FUSE_OPENDIR>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    if (!isDir(i.mode)) return errReply(req.unique, Errno.ENOTDIR);
    const dir = await this.dirOf(i); // the reference goes to the DirFh
    let entries: DirEntryName[];
    try {
      const list = await this.host.list(i.dev, dir.self);
      entries = [{ name: Buffer.from('.'), type: K.DT_DIR }, { name: Buffer.from('..'), type: K.DT_DIR }];
      for (const { name, dirent: e } of list) {
        const type = e.isFile() ? K.DT_REG : e.isDirectory() ? K.DT_DIR : e.isSymbolicLink() ? K.DT_LNK
          : e.isFIFO() ? K.DT_FIFO : e.isCharacterDevice() ? K.DT_CHR : e.isBlockDevice() ? K.DT_BLK
            : e.isSocket() ? K.DT_SOCK : K.DT_UNKNOWN;
        entries.push({ name, type });
      }
    } catch (e) {
      dir.release();
      throw e;
    }
    const fh = this.handles.add({ kind: 'dir', dir, inode: i, entries });
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
    const picked = h.entries.slice(from, to);
    // A reference for this call: a concurrent RELEASEDIR must not close the
    // fd under the lstats below.
    const dir = h.dir.acquire();
    let found: Found[];
    try {
      found = await this.statEntries(h, dir, picked, plus);
    } finally {
      dir.release();
    }
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

  /** One lstat per picked entry through the held directory fd (nothing is
   *  reopened): in a loop while the filesystem is fast, all at once in the
   *  thread pool when it is not. A vanished entry is 'gone' (skipped). */
  private async statEntries(h: DirFh, dir: DirFd, picked: DirEntryName[], plus: boolean): Promise<Found[]> {
    const dev = h.inode.dev;
    const isRoot = h.inode === this.inodes.root;
    const one = async (e: DirEntryName): Promise<Found> => {
      const dotdot = e.name.length === 2 && isDotOrDotdot(e.name);
      // '.' is the directory; the root's '..' stays inside: it is the root.
      if (isDotOrDotdot(e.name) && (!dotdot || isRoot)) return { kind: 'dot', ino: h.inode.ino };
      let st: BigIntStats;
      try {
        const r = this.host.lstat(dev, dir.child(e.name));
        st = r instanceof Promise ? await r : r;
      } catch {
        return { kind: 'gone' };
      }
      if (dotdot) return { kind: 'dot', ino: st.ino };
      if (!plus) return { kind: 'ok', st, dax: false };
      const dax = this.policy.enabledNow(st) ?? await this.policy.enabled(st, () => {
        const s = utf8Exact(e.name);
        return s === undefined ? '' : dir.childForChild(s);
      }).catch(() => false);
      return { kind: 'ok', st, dax };
    };
    if (!this.host.guard.fast(dev) || (plus && this.policy.policy === 'inode')) return Promise.all(picked.map(one));
    const found: Found[] = new Array(picked.length);
    for (let k = 0; k < picked.length; k++) found[k] = await one(picked[k]!);
    return found;
  }

  private async readlink(req: Request<typeof K.FUSE_READLINK>): Promise<Uint8Array> {
    const i = this.inode(req.nodeid);
    if (!isLnk(i.mode)) return errReply(req.unique, Errno.EINVAL);
    const dir = await this.parentOf(i);
    try {
      await this.lstatChecked(dir, i);
      const link = await this.host.readlink(i.dev, dir.child(i.name));
      return encodeReply(K.FUSE_READLINK, req.unique, { link });
    } finally {
      dir.release();
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
    if ((req.body.fsync_flags & K.FUSE_FSYNC_FDATASYNC) !== 0) await fdatasyncAsync(h.fd);
    else await fsyncAsync(h.fd);
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
      await this.reserve(h.fd, m.foffset, m.len);
    }
    await this.dax.map({ moffset: m.moffset, len: m.len, fd: h.fd, foffset: m.foffset, writable: m.writable });
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
    this.dirs.clear();
    this.inodes.clear();
    this.initialized = false;
    return this.empty(req.unique);
  }

  private async dropHandles(): Promise<void> {
    const all = this.handles.drain();
    await Promise.all(all.map((h) => this.closeFh(h)));
  }

  private async closeFh(h: Fh): Promise<void> {
    if (h.kind === 'file') await this.host.close(h.inode.dev, h.fd);
    else h.dir.release();
  }
}
