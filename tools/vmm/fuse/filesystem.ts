// The FuseFilesystem interface: what a filesystem behind the FuseServer
// implements, as fuse-backend-rs's `FileSystem` trait. Every op takes the
// request's context and its decoded, typed body, and returns the typed
// reply body or throws (an ErrnoError; anything else is EIO). An op that
// is absent answers ENOSYS. Only the server touches bytes: READ writes its
// data through a ReadSink that is the reply buffer itself, and WRITE reads
// its data from a WriteSource over the request.
// Node-free: an embedder can implement it anywhere.

import type {
  AccessIn, CopyFileRangeIn, GetxattrArgs, GetxattrIn, LkIn, LkOut, SetxattrIn, XattrNameIn, XattrOut,
  AttrOut, CreateIn, CreateOut, EntryOut, FallocateIn, FlushIn, ForgetOne, FsyncIn, GetattrIn, InitIn, Kstatfs,
  LinkIn, LseekIn, LseekOut, MkdirIn, MknodIn, NameIn, OpenIn, OpenOut, ReaddirOut, ReaddirplusOut, ReadIn,
  ReadlinkOut, ReleaseIn, RemovemappingIn, Rename2In, RenameIn, SetattrIn, SetupmappingIn, SymlinkIn, WriteIn,
  WriteOut,
} from '../../../fs/fuse';

export type Awaitable<T> = T | Promise<T>;

/** Who asked, on which queue, and how much reply fits. */
export interface FuseContext {
  readonly unique: bigint;
  /** fuse_in_header.nodeid: the inode the request is about. */
  readonly nodeid: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** The virtqueue the request came on (0: hiprio). */
  readonly queue: number;
  /** Bytes of the chain's device-writable part: header included. */
  readonly replyCapacity: number;
}

/** What a filesystem wants offered at FUSE_INIT, beyond the server's set. */
export interface FsInit {
  /** Offer FUSE_HAS_INODE_DAX: the filesystem sets FUSE_ATTR_DAX per inode. */
  inodeDax?: boolean;
  /** false: do not offer FUSE_DO_READDIRPLUS (nor READDIRPLUS_AUTO), as
   *  virtiofsd with cache=none: attributes no one may cache are not worth
   *  a stat per entry. */
  readdirplus?: boolean;
}

/**
 * Where READ's data goes: the reply's own buffers after the header, as
 * fuse-backend-rs's ZeroCopyWriter. Data goes in order; the server writes
 * the header with the length once the op returns.
 */
export interface ReadSink {
  /** Bytes it can still take (fuse_read_in.size, clamped to the reply buffer). */
  readonly room: number;
  /** Bytes taken so far. */
  readonly length: number;
  /** Appends a copy of `data`; more than `room` is a RangeError (a filesystem bug). */
  write(data: Uint8Array): void;
  /**
   * Lets `fill` place up to `max` bytes (clamped to room) itself, now: it gets
   * buffers for them in order (the reply's guest memory when it has a live
   * view, else a bounce buffer), fills them from the first on and returns how
   * many bytes it placed. Returns that count.
   */
  fill(max: number, fill: (bufs: Uint8Array[]) => number): number;
  /**
   * The same for a fill that completes later (the thread pool). Its buffers
   * are a bounce buffer whenever a device reset could hand the reply's memory
   * back to the guest before the fill is done: nothing started before a reset
   * may reach guest memory after it.
   */
  fillLater(max: number, fill: (bufs: Uint8Array[]) => Promise<number>): Promise<number>;
}

/** WRITE's data, still in the request's buffers. */
export interface WriteSource {
  readonly length: number;
  /** The data in order: views of guest memory where it has live views (no
   *  copy), copies otherwise. The guest may still change viewed bytes. */
  slices(): Uint8Array[];
  /** All of it as one array (a view when it lies in one buffer, else one copy). */
  bytes(): Uint8Array;
}

/** fuse_write_in without the data, which comes as a WriteSource. */
export type WriteArgs = Omit<WriteIn, 'data'>;

/**
 * A filesystem behind a FuseServer. INIT version checks, gating, DESTROY's
 * un-initialization, FORGET's lack of a reply, INTERRUPT and every errno
 * reply are the server's. Lookup counts are the filesystem's: each
 * LOOKUP, READDIRPLUS entry (other than '.' and '..', nodeid 0) or entry
 * a future CREATE/MKDIR/... returns counts one, and `forget` subtracts.
 */
export interface FuseFilesystem {
  // ---- lifecycle ----
  /** FUSE_INIT with a version the server accepts: what to offer. */
  init?(ctx: FuseContext, body: InitIn): Awaitable<FsInit>;
  /** FUSE_DESTROY: drop every handle and lookup; the server un-initializes. */
  destroy?(ctx: FuseContext): Awaitable<void>;
  /** The server is closing: give everything back (not a FUSE op). */
  close?(): Awaitable<void>;

  // ---- entries and attributes ----
  lookup?(ctx: FuseContext, body: NameIn): Awaitable<EntryOut>;
  /** FORGET (one entry, ctx.nodeid) and BATCH_FORGET (many): no reply. */
  forget?(ctx: FuseContext, forgets: readonly ForgetOne[]): void;
  getattr?(ctx: FuseContext, body: GetattrIn): Awaitable<AttrOut>;
  setattr?(ctx: FuseContext, body: SetattrIn): Awaitable<AttrOut>;
  readlink?(ctx: FuseContext, body: null): Awaitable<ReadlinkOut>;
  statfs?(ctx: FuseContext, body: null): Awaitable<Kstatfs>;

  // ---- namespace ----
  symlink?(ctx: FuseContext, body: SymlinkIn): Awaitable<EntryOut>;
  mknod?(ctx: FuseContext, body: MknodIn): Awaitable<EntryOut>;
  mkdir?(ctx: FuseContext, body: MkdirIn): Awaitable<EntryOut>;
  unlink?(ctx: FuseContext, body: NameIn): Awaitable<null>;
  rmdir?(ctx: FuseContext, body: NameIn): Awaitable<null>;
  rename?(ctx: FuseContext, body: RenameIn): Awaitable<null>;
  rename2?(ctx: FuseContext, body: Rename2In): Awaitable<null>;
  link?(ctx: FuseContext, body: LinkIn): Awaitable<EntryOut>;
  create?(ctx: FuseContext, body: CreateIn): Awaitable<CreateOut>;

  // ---- files ----
  open?(ctx: FuseContext, body: OpenIn): Awaitable<OpenOut>;
  /** body.size is already clamped to what the reply buffer holds (= out.room). */
  read?(ctx: FuseContext, body: ReadIn, out: ReadSink): Awaitable<void>;
  write?(ctx: FuseContext, body: WriteArgs, data: WriteSource): Awaitable<WriteOut>;
  release?(ctx: FuseContext, body: ReleaseIn): Awaitable<null>;
  flush?(ctx: FuseContext, body: FlushIn): Awaitable<null>;
  fsync?(ctx: FuseContext, body: FsyncIn): Awaitable<null>;
  lseek?(ctx: FuseContext, body: LseekIn): Awaitable<LseekOut>;
  fallocate?(ctx: FuseContext, body: FallocateIn): Awaitable<null>;
  syncfs?(ctx: FuseContext, body: null): Awaitable<null>;

  // ---- directories ----
  opendir?(ctx: FuseContext, body: OpenIn): Awaitable<OpenOut>;
  /** body.size is already clamped to the reply buffer; the entries
   *  returned must fit in it whole (the server answers EIO otherwise). */
  readdir?(ctx: FuseContext, body: ReadIn): Awaitable<ReaddirOut>;
  /** As readdir; an entry the server cannot send is forgotten again. */
  readdirplus?(ctx: FuseContext, body: ReadIn): Awaitable<ReaddirplusOut>;
  releasedir?(ctx: FuseContext, body: ReleaseIn): Awaitable<null>;

  // ---- extended attributes ----
  setxattr?(ctx: FuseContext, body: SetxattrIn): Awaitable<null>;
  /** size 0: answer { size }; else the value, at most size bytes (ERANGE if larger). */
  getxattr?(ctx: FuseContext, body: GetxattrIn): Awaitable<XattrOut>;
  /** The names, each NUL-terminated; size as getxattr. */
  listxattr?(ctx: FuseContext, body: GetxattrArgs): Awaitable<XattrOut>;
  removexattr?(ctx: FuseContext, body: XattrNameIn): Awaitable<null>;

  // ---- locks, access, copies ----
  getlk?(ctx: FuseContext, body: LkIn): Awaitable<LkOut>;
  setlk?(ctx: FuseContext, body: LkIn): Awaitable<null>;
  /** Waits for the lock; FUSE_INTERRUPT of its unique should end the wait (EINTR). */
  setlkw?(ctx: FuseContext, body: LkIn): Awaitable<null>;
  access?(ctx: FuseContext, body: AccessIn): Awaitable<null>;
  fsyncdir?(ctx: FuseContext, body: FsyncIn): Awaitable<null>;
  copyFileRange?(ctx: FuseContext, body: CopyFileRangeIn): Awaitable<WriteOut>;

  // ---- DAX window ----
  setupmapping?(ctx: FuseContext, body: SetupmappingIn): Awaitable<null>;
  removemapping?(ctx: FuseContext, body: RemovemappingIn): Awaitable<null>;
}
