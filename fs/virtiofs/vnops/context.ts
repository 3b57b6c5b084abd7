// What the vnops reach of the connection and the mount: exactly this, so a
// family of ops is a function of (context, arguments) and none of them walks
// through the connection. vfsops.ts builds one per mount.

import { Errno, ErrnoError } from '../../../core/errno';
import { O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, OpContext, Vnode } from '../../../core/vfs';
import type { DaxManager } from '../dax';
import type { EntryCache } from '../entry-cache';
import type { InodeCache } from '../inode-cache';
import type { VirtiofsInode } from '../inode';
import type { FuseSession, RequestOptions } from '../session';

/** What FUSE_INIT negotiated that the ops obey. */
export interface NegotiatedLimits {
  /** Largest FUSE_READ: max_pages pages. */
  readonly maxRead: number;
  /** Largest FUSE_WRITE (max_write). */
  readonly maxWrite: number;
  /** FUSE_DO_READDIRPLUS granted. */
  readonly readdirplus: boolean;
  /** FUSE_READDIRPLUS_AUTO granted too (Linux's fc->readdirplus_auto). */
  readonly readdirplusAuto: boolean;
  /** The server holds POSIX record locks / flock locks. */
  readonly posixLocks: boolean;
  readonly flockLocks: boolean;
}

export interface VnopsContext {
  readonly session: FuseSession;
  /** The device's window manager (shared by its mounts); null without a window. */
  readonly dax: DaxManager | null;
  /** The mount's inode cache: every entry-returning reply goes through it. */
  readonly inodes: InodeCache;
  /** The mount's names within their entry_valid. */
  readonly entries: EntryCache;
  readonly limits: NegotiatedLimits;
  /** Opcodes the server answered ENOSYS (shared by the device's mounts). */
  readonly nosys: Set<number>;
  /** Whether reads and writes of ip go through the window (the mount's dax mode). */
  daxFor(ip: VirtiofsInode): boolean;
  /** OSv's read(..., aggressive): map the rest of the file on a miss. */
  readonly aggressive: boolean;
  /** The adaptive rule: misses under heavy eviction go to FUSE_READ/FUSE_WRITE. */
  readonly adaptive: boolean;
}

/** The fh of an open file or directory, and the flags FUSE_OPEN had (RELEASE repeats them). */
export interface VirtiofsHandle {
  readonly fh: bigint;
  readonly flags: number;
  /** Set once flock(2) was used on it: RELEASE then unlocks for this owner. */
  flockOwner?: bigint;
}

/** The header credentials and the abort of a vnop's caller. */
export function req(o: OpContext | undefined): RequestOptions {
  return o ? { cred: o.cred, signal: o.signal } : {};
}

/**
 * Calls `fn` unless the server said ENOSYS to `opcode` before; remembers
 * an ENOSYS (as Linux's fc->no_*), and answers it, now and later, with
 * `fallback()`.
 */
export async function unlessNosys<T>(ctx: VnopsContext, opcode: number, fn: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> {
  if (ctx.nosys.has(opcode)) return fallback();
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof ErrnoError) || e.errno !== Errno.ENOSYS) throw e;
    ctx.nosys.add(opcode);
    return fallback();
  }
}

export function inodeOf(vp: Vnode): VirtiofsInode {
  const ip = vp.data as VirtiofsInode | undefined;
  if (!ip || ip.nodeid !== vp.ino) throw new ErrnoError(Errno.EIO, `virtiofs: vnode ${vp.ino} has no inode`);
  return ip;
}

/** The open flags FUSE_OPEN and FUSE_OPENDIR carry: creation and the
 *  terminal are the VFS's business. */
export function openFlags(flags: number): number {
  return flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
}
