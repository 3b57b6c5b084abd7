// What a filesystem implements for the VFS, after OSv's vfsops (per mount)
// and vnops (per vnode). Every call may reject with an ErrnoError; the VFS
// passes the errno on. The mutating vnops are optional: without them the
// VFS answers EROFS, as a read-only filesystem would.

import type { DirEntry, SetAttr, Stat, StatFs } from './stat';
import type { Vnode } from './vnode';

export type MountOptions = Record<string, string | boolean>;

/** A filesystem's own open-file state (FUSE: the fh); opaque to the VFS. */
export type FsHandle = unknown;

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
  statfs(): Promise<StatFs>;
  sync(): Promise<void>;
}

export interface Vnops {
  /** The child `name` of directory `dir` (never "." or ".."); ENOENT when absent. */
  lookup(dir: Vnode, name: string): Promise<FsEntry>;
  getattr(vp: Vnode): Promise<Stat>;
  /** Opens a non-directory; `flags` are the O_* flags of the open call. */
  open(vp: Vnode, flags: number): Promise<FsHandle>;
  release(vp: Vnode, fh: FsHandle): Promise<void>;
  /** At most `len` bytes at `offset`; fewer only at end of file, none past it. */
  read(vp: Vnode, fh: FsHandle, offset: number, len: number): Promise<Uint8Array>;
  /** Optional: read() into dst from its start, at most dst.length bytes;
   *  resolves with how many. Absent: the VFS uses read() and copies. */
  readInto?(vp: Vnode, fh: FsHandle, offset: number, dst: Uint8Array): Promise<number>;
  opendir(vp: Vnode, flags: number): Promise<FsHandle>;
  releasedir(vp: Vnode, fh: FsHandle): Promise<void>;
  /** Entries from `cookie` on (0n: the start); an empty batch at the end. */
  readdir(vp: Vnode, fh: FsHandle, cookie: bigint): Promise<DirEntry[]>;
  readlink(vp: Vnode): Promise<string>;
  /** The VFS dropped its last reference to `vp` (FUSE: time to FORGET). Errors are ignored. */
  inactive(vp: Vnode): void | Promise<void>;

  // Optional: absent means the filesystem is read-only for that call (EROFS).
  /** Bytes written, at most data.length. */
  write?(vp: Vnode, fh: FsHandle, offset: number, data: Uint8Array): Promise<number>;
  /** Creates and opens a regular file (O_CREAT). */
  create?(dir: Vnode, name: string, mode: number, flags: number): Promise<{ entry: FsEntry; fh: FsHandle }>;
  mkdir?(dir: Vnode, name: string, mode: number): Promise<FsEntry>;
  unlink?(dir: Vnode, name: string): Promise<void>;
  rmdir?(dir: Vnode, name: string): Promise<void>;
  rename?(srcDir: Vnode, srcName: string, dstDir: Vnode, dstName: string): Promise<void>;
  symlink?(dir: Vnode, name: string, target: string): Promise<FsEntry>;
  setattr?(vp: Vnode, attr: SetAttr): Promise<Stat>;
  /** Absent: nothing to flush, fsync succeeds. */
  fsync?(vp: Vnode, fh: FsHandle, datasync: boolean): Promise<void>;
}
