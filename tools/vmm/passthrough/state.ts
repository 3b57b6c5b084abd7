// What every passthrough op shares: the confined root, the inode and fh
// tables, the directory-fd cache, the host calls and their slow guards,
// the DAX policy and mapper, and the options; plus the helpers that turn a
// nodeid or an fh into what it names (EBADF when it names nothing) and
// reach a verified directory. The ops are in files by family (entry.ts,
// dir.ts, file.ts, dax.ts) and take this state as their first argument.

import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core';
import { Attr, EntryOut } from '../../../fs/fuse';
import { errnoOf } from '../fuse';
import { Confine } from './confine';
import { DaxMapper } from './dax-mapper';
import { DaxFlagReader, DaxPolicy, DaxPolicyEvaluator, lsattrDaxFlag } from './dax-policy';
import { DirCache, DirFd } from './dir-cache';
import { Reserver, fallocateKeepSize } from './fallocate';
import { DirFh, Fh, FileFh, HandleTable } from './handles';
import { HostCalls } from './host';
import { S_IFMT } from './host-attrs';
import { Inode, InodeTable } from './inodes';
import { PassthroughLogger, consoleLogger } from './logger';
import { SlowGuard } from './slow-guard';

export interface PassthroughFsOptions {
  /** The host directory to serve. */
  root: string;
  daxPolicy: DaxPolicy;
  /** The DAX window; absent when the device has none. */
  dax?: DaxMapper;
  logger?: PassthroughLogger;
  /** entry_valid and attr_valid in seconds (virtiofsd's cache=auto: 1). */
  timeout?: number;
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

/** A blocking host call slower than this leaves the event loop. */
const SLOW_SYNC_MS = 2;
const DIR_CACHE_SIZE = 256;

function utf8Exact(name: Buffer): string | undefined {
  const s = name.toString('utf8');
  return Buffer.byteLength(s) === name.length && Buffer.from(s, 'utf8').equals(name) ? s : undefined;
}

export class PassthroughState {
  readonly confine: Confine;
  readonly inodes: InodeTable;
  readonly handles = new HandleTable();
  /** Metadata calls, timed per filesystem (st_dev). */
  readonly host: HostCalls;
  /** Reads, timed per open file. */
  readonly readGuard: SlowGuard<FileFh>;
  readonly dirs: DirCache;
  readonly policy: DaxPolicyEvaluator;
  readonly log: PassthroughLogger;
  readonly dax: DaxMapper | undefined;
  readonly timeout: bigint;
  readonly reserve: Reserver;

  constructor(opts: PassthroughFsOptions) {
    this.log = opts.logger ?? consoleLogger;
    const slowMs = opts.slowSyncMs ?? SLOW_SYNC_MS;
    const clock = opts.clock ?? (() => performance.now());
    this.host = new HostCalls(new SlowGuard<bigint>(slowMs, clock, new Map(), (dev, ms, trips) => {
      const msg = `blocking host calls on filesystem ${dev} are slow (the last took ${ms.toFixed(1)} ms): `
        + 'its metadata calls go to the thread pool until they are fast again';
      if (trips === 1) this.log.warn(msg);
      else this.log.debug?.(msg);
    }));
    this.readGuard = new SlowGuard<FileFh>(slowMs, clock, new WeakMap());
    this.dirs = new DirCache(Math.max(0, Math.floor(opts.dirCacheSize ?? DIR_CACHE_SIZE)));
    this.confine = new Confine(opts.root, this.host);
    const st = this.confine.rootDir.stat;
    this.inodes = new InodeTable(st.dev, st.ino, Number(st.mode));
    this.policy = new DaxPolicyEvaluator(opts.daxPolicy, opts.daxFlagReader ?? lsattrDaxFlag);
    this.dax = opts.dax;
    this.timeout = BigInt(Math.max(0, Math.floor(opts.timeout ?? 1)));
    this.reserve = opts.reserver ?? fallocateKeepSize;
  }

  inode(nodeid: bigint): Inode {
    const i = this.inodes.get(nodeid);
    // virtiofsd answers EBADF for a nodeid it does not hold (lo_fd()).
    if (i === undefined) throw new ErrnoError(Errno.EBADF, `unknown nodeid ${nodeid}`);
    return i;
  }

  /** The handle `fh` names, of the kind asked for: the one place an
   *  unknown fh (or one of the other kind) becomes EBADF. */
  fh(fh: bigint, kind: 'file'): FileFh;
  fh(fh: bigint, kind: 'dir'): DirFh;
  fh(fh: bigint, kind: Fh['kind']): Fh {
    const h = this.handles.get(fh);
    if (h === undefined || h.kind !== kind) throw new ErrnoError(Errno.EBADF, `unknown fh ${fh}`);
    return h;
  }

  /** Subtracts n lookups; at 0 the inode and its cached directory fd go. */
  forget(nodeid: bigint, n: bigint): void {
    const complaint = this.inodes.forget(nodeid, n);
    if (complaint !== undefined) this.log.warn(complaint);
    if (this.inodes.get(nodeid) === undefined) this.dirs.drop(nodeid);
  }

  /** The verified fd of directory inode i, with a reference the caller
   *  releases: the cached one once its path is shown to still lead to it,
   *  else a fresh one (cached while i is known). */
  async dirOf(i: Inode): Promise<DirFd> {
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
  async parentOf(i: Inode): Promise<DirFd> {
    const p = i.parent;
    if (p === null) throw new ErrnoError(Errno.ESTALE, 'inode without a parent');
    const pi = this.inodes.get(p.nodeid);
    if (pi !== undefined && pi.dev === p.dev && pi.ino === p.ino) return this.dirOf(pi);
    // The parent was forgotten: open it for this request only.
    const d = (await this.confine.openDir(p.path, p.dev, p.ino)).acquire();
    d.drop();
    return d;
  }

  /** Whether `name` (found as `st` in `dir`) gets FUSE_ATTR_DAX. */
  async daxFor(st: BigIntStats, dir: DirFd, name: Buffer): Promise<boolean> {
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

  /** The flag reader's path for an entry of `dir` ('' when not UTF-8). */
  entryPath(dir: DirFd, name: Buffer): string {
    const s = utf8Exact(name);
    return s === undefined ? '' : dir.childForChild(s);
  }

  /** lstat of `name` in `dir`, checked to be the inode's (dev, ino). */
  async lstatChecked(dir: DirFd, i: Inode): Promise<BigIntStats> {
    let st: BigIntStats;
    try {
      st = await this.host.lstat(i.dev, dir.child(i.name));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw new ErrnoError(Errno.ESTALE, 'entry gone');
      throw e;
    }
    // The birth time and type too: a freed inode number is soon reused (no
    // generation numbers in Node), e.g. a file deleted and replaced by a symlink.
    if (st.dev !== i.dev || st.ino !== i.ino || st.birthtimeNs !== i.btime || (Number(st.mode) & S_IFMT) !== (i.mode & S_IFMT)) {
      throw new ErrnoError(Errno.ESTALE, 'entry replaced since lookup');
    }
    return st;
  }

  entryOut(nodeid: bigint, attr: Attr): EntryOut {
    return {
      nodeid, generation: 0n, entry_valid: this.timeout, attr_valid: this.timeout,
      entry_valid_nsec: 0, attr_valid_nsec: 0, attr,
    };
  }

  async closeFh(h: Fh): Promise<void> {
    if (h.kind === 'file') await this.host.close(h.inode.dev, h.fd);
    else h.dir.release();
  }

  async dropHandles(): Promise<void> {
    const all = this.handles.drain();
    await Promise.all(all.map((h) => this.closeFh(h)));
  }
}
