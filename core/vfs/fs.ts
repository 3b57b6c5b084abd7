// What a filesystem implements for the VFS, after OSv's vfsops (per mount)
// and vnops (per vnode). Every call may reject with an ErrnoError; the VFS
// passes the errno on. Names are bytes (a host name need not be UTF-8).
// Each vnop gets the caller's OpContext last: its credentials (for the
// request header and for what it creates) and its AbortSignal. Permission
// checks are the VFS's (as Linux's default_permissions), not the vnops'.
// The mutating vnops are optional: without one the VFS answers EROFS.

import type { Cred } from './cred';
import type { FileLock, SetAttr, Stat, StatFs } from './stat';
import type { Vnode } from './vnode';

export type MountOptions = Record<string, string | boolean>;

/** A filesystem's own open-file state (FUSE: the fh); opaque to the VFS. */
export type FsHandle = unknown;

/** Who asks, and how they can give up: passed to every vnop. */
export interface OpContext {
  readonly cred: Cred;
  /** Aborted: the call should stop (FUSE: INTERRUPT) and fail with EINTR. */
  readonly signal?: AbortSignal;
  /** The caller's POSIX-lock owner (its process): FUSE_FLUSH and lock
   *  requests carry it, so a server drops a process's locks at its close. */
  readonly lockOwner?: bigint;
}

/**
 * A node the filesystem found. `ino` is the node's identity within the
 * mount (FUSE: the nodeid) and keys the VFS's vnode cache; `mode` gives at
 * least the S_IFMT bits; `data` becomes vnode.data when the VFS creates a
 * vnode for it. When a vnode with this `ino` is already cached the VFS
 * keeps that one and drops `data`, so a filesystem that counts lookups per
 * node (FUSE nlookup) counts them itself and settles in `inactive`.
 */
export interface FsEntry {
  ino: bigint;
  mode: number;
  data?: unknown;
}

/** One directory entry as a filesystem returns it; `nextCookie` resumes after it. */
export interface FsDirEntry {
  name: Uint8Array;
  /** DT_* value. */
  type: number;
  ino: bigint;
  nextCookie: bigint;
}

export interface FileSystemType {
  readonly name: string;
  /** One mounted instance; two calls with one source give two instances. */
  mount(source: string, options: MountOptions): Promise<MountedFs>;
}

/** vfsops of one mounted instance. */
export interface MountedFs {
  readonly vnops: Vnops;
  /** The root directory's node. */
  root(): Promise<FsEntry>;
  /** Called once, after the VFS has dropped every vnode it held. */
  unmount(force: boolean): Promise<void>;
  statfs(ctx: OpContext): Promise<StatFs>;
  sync(): Promise<void>;
}

/** fallocate(2) modes. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;

export interface Vnops {
  /** The child `name` of directory `dir` (never "." or ".."); ENOENT when absent. */
  lookup(dir: Vnode, name: Uint8Array, ctx: OpContext): Promise<FsEntry>;
  getattr(vp: Vnode, ctx: OpContext): Promise<Stat>;
  /** Opens a non-directory; `flags` are the O_* flags of the open call. */
  open(vp: Vnode, flags: number, ctx: OpContext): Promise<FsHandle>;
  release(vp: Vnode, fh: FsHandle, ctx: OpContext): Promise<void>;
  /** At most `len` bytes at `offset`; fewer only at end of file, none past it. */
  read(vp: Vnode, fh: FsHandle, offset: number, len: number, ctx: OpContext): Promise<Uint8Array>;
  /** Optional: read() into dst from its start, at most dst.length bytes;
   *  resolves with how many. Absent: the VFS uses read() and copies. */
  readInto?(vp: Vnode, fh: FsHandle, offset: number, dst: Uint8Array, ctx: OpContext): Promise<number>;
  opendir(vp: Vnode, flags: number, ctx: OpContext): Promise<FsHandle>;
  releasedir(vp: Vnode, fh: FsHandle, ctx: OpContext): Promise<void>;
  /** Entries from `cookie` on (0n: the start); an empty batch at the end. */
  readdir(vp: Vnode, fh: FsHandle, cookie: bigint, ctx: OpContext): Promise<FsDirEntry[]>;
  readlink(vp: Vnode, ctx: OpContext): Promise<Uint8Array>;
  /** The VFS dropped its last reference to `vp` (FUSE: time to FORGET). Errors are ignored. */
  inactive(vp: Vnode): void | Promise<void>;

  // Optional: absent means the filesystem is read-only for that call (EROFS).
  /** Bytes written from data, at most data.length; `offset` -1 writes at
   *  the end of file as the filesystem knows it now (O_APPEND). */
  write?(vp: Vnode, fh: FsHandle, offset: number, data: Uint8Array, ctx: OpContext): Promise<number>;
  /** Creates and opens a regular file (O_CREAT). As for mknod and mkdir,
   *  the mode is already masked by ctx.cred.umask (FUSE sends both). */
  create?(dir: Vnode, name: Uint8Array, mode: number, flags: number, ctx: OpContext): Promise<{ entry: FsEntry; fh: FsHandle }>;
  /** A regular file, FIFO, socket or device node (rdev: its device number). */
  mknod?(dir: Vnode, name: Uint8Array, mode: number, rdev: number, ctx: OpContext): Promise<FsEntry>;
  mkdir?(dir: Vnode, name: Uint8Array, mode: number, ctx: OpContext): Promise<FsEntry>;
  unlink?(dir: Vnode, name: Uint8Array, ctx: OpContext): Promise<void>;
  rmdir?(dir: Vnode, name: Uint8Array, ctx: OpContext): Promise<void>;
  /** `flags`: RENAME_NOREPLACE, RENAME_EXCHANGE (0: plain rename). */
  rename?(srcDir: Vnode, srcName: Uint8Array, dstDir: Vnode, dstName: Uint8Array, flags: number, ctx: OpContext): Promise<void>;
  /** A new name for vp in dir. */
  link?(vp: Vnode, dir: Vnode, name: Uint8Array, ctx: OpContext): Promise<FsEntry>;
  symlink?(dir: Vnode, name: Uint8Array, target: Uint8Array, ctx: OpContext): Promise<FsEntry>;
  /** Changes what `attr` names; `fh` when the change is made through an open file. */
  setattr?(vp: Vnode, attr: SetAttr, fh: FsHandle | undefined, ctx: OpContext): Promise<Stat>;
  /** Absent: nothing to flush, fsync succeeds. */
  fsync?(vp: Vnode, fh: FsHandle, datasync: boolean, ctx: OpContext): Promise<void>;
  fsyncdir?(vp: Vnode, fh: FsHandle, datasync: boolean, ctx: OpContext): Promise<void>;
  /** At each close of a descriptor (FUSE_FLUSH), before release. */
  flush?(vp: Vnode, fh: FsHandle, ctx: OpContext): Promise<void>;
  /** `mode`: 0, FALLOC_FL_KEEP_SIZE, or FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE. */
  fallocate?(vp: Vnode, fh: FsHandle, mode: number, offset: number, len: number, ctx: OpContext): Promise<void>;
  /** SEEK_DATA and SEEK_HOLE: the offset found (ENXIO past the end). */
  lseek?(vp: Vnode, fh: FsHandle, offset: number, whence: number, ctx: OpContext): Promise<number>;
  /** The value (size > 0: at most size bytes, else ERANGE), or its size when size is 0. */
  getxattr?(vp: Vnode, name: Uint8Array, size: number, ctx: OpContext): Promise<Uint8Array | number>;
  /** The names, each NUL-terminated (size as getxattr). */
  listxattr?(vp: Vnode, size: number, ctx: OpContext): Promise<Uint8Array | number>;
  /** `flags`: XATTR_CREATE, XATTR_REPLACE. */
  setxattr?(vp: Vnode, name: Uint8Array, value: Uint8Array, flags: number, ctx: OpContext): Promise<void>;
  removexattr?(vp: Vnode, name: Uint8Array, ctx: OpContext): Promise<void>;
  /** POSIX record locks: the lock that would conflict (type F_UNLCK: none). */
  getlk?(vp: Vnode, fh: FsHandle, owner: bigint, lock: FileLock, ctx: OpContext): Promise<FileLock>;
  /** Takes or releases a lock; `wait`: SETLKW (blocks until granted or ctx.signal). */
  setlk?(vp: Vnode, fh: FsHandle, owner: bigint, lock: FileLock, wait: boolean, ctx: OpContext): Promise<void>;
  /** flock(2): LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB. */
  flock?(vp: Vnode, fh: FsHandle, owner: bigint, op: number, ctx: OpContext): Promise<void>;
  /** Bytes copied from (vpIn, offIn) to (vpOut, offOut) inside the filesystem. */
  copyFileRange?(vpIn: Vnode, fhIn: FsHandle, offIn: number, vpOut: Vnode, fhOut: FsHandle, offOut: number,
    len: number, ctx: OpContext): Promise<number>;
}
