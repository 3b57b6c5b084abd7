// What every view of one VFS shares — the mount table and the descriptor
// table — and the helpers the call families use: the root, a live file,
// the OpContext of a call, a filesystem's optional vnop or EROFS, checked
// replies from filesystems.

import { Errno, ErrnoError } from '../errno';
import type { Cred } from './cred';
import { O_ACCMODE, O_RDONLY, O_WRONLY } from './fcntl';
import { File, FileTable } from './file';
import { LocalLocks } from './local-locks';
import type { OpContext, Vnops } from './fs';
import type { Mount } from './mount';
import type { Stat } from './stat';
import type { Vnode } from './vnode';

/** Options every VFS call takes. */
export interface CallOptions {
  /** Aborting it fails the call with EINTR (a FUSE request gets INTERRUPT). */
  signal?: AbortSignal;
}

export function err(errno: number, msg?: string): ErrnoError {
  return new ErrnoError(errno, msg);
}

export function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw err(Errno.EINVAL, `bad ${what} ${n}`);
}

/** The mutating vnops: absent on a read-only filesystem. */
export type WriteVnop = {
  [K in keyof Vnops]-?: undefined extends Vnops[K] ? K : never;
}[keyof Vnops];

export class VfsState {
  readonly files: FileTable;
  readonly mountList: Mount[] = [];
  rootMount: Mount | null = null;
  nextMountId = 1;
  /** flock(2) owners: one per open file description. */
  nextFileId = 1n;
  /** Locks of files whose filesystem keeps none. */
  readonly locks = new LocalLocks();

  constructor(firstFd: number, maxFiles: number) {
    this.files = new FileTable(firstFd, maxFiles);
  }

  root(): Vnode {
    if (!this.rootMount) throw err(Errno.ENOENT, 'nothing mounted at /');
    return this.rootMount.root;
  }

  live(fd: number): File {
    const f = this.files.get(fd);
    if (f.dead) throw err(Errno.EIO, 'filesystem was unmounted');
    return f;
  }

  readable(fd: number): File {
    const f = this.live(fd);
    if ((f.flags & O_ACCMODE) === O_WRONLY) throw err(Errno.EBADF, 'not open for reading');
    if (f.isDir) throw err(Errno.EISDIR);
    return f;
  }

  writable(fd: number): File {
    const f = this.live(fd);
    if ((f.flags & O_ACCMODE) === O_RDONLY) throw err(Errno.EBADF, 'not open for writing');
    if (f.isDir) throw err(Errno.EISDIR);
    return f;
  }
}

/** The context a call passes to vnops; EINTR at once if already aborted. */
export function opContext(cred: Cred, opts: CallOptions | undefined, lockOwner?: bigint): OpContext {
  const signal = opts?.signal;
  if (signal?.aborted) throw err(Errno.EINTR, 'aborted');
  return signal ? { cred, signal, lockOwner } : { cred, lockOwner };
}

/** The mount's vnop `name` bound to its vnops, or undefined when the fs has none. */
export function vnopOf<K extends keyof Vnops>(m: Mount, name: K): NonNullable<Vnops[K]> | undefined {
  const vnops = m.fs.vnops;
  const f = vnops[name] as unknown as ((...a: unknown[]) => unknown) | undefined;
  return f === undefined ? undefined : ((...a: unknown[]) => f.apply(vnops, a)) as unknown as NonNullable<Vnops[K]>;
}

/** The optional vnop `name`, or EROFS when the mount is read-only or the fs lacks it. */
export function writeVnop<K extends WriteVnop>(m: Mount, name: K): NonNullable<Vnops[K]> {
  const hook = vnopOf(m, name);
  if (m.readonly || hook === undefined) throw err(Errno.EROFS);
  return hook;
}

/** EROFS when the mount is read-only (checked before any permission, as Linux). */
export function checkWritableMount(m: Mount): void {
  if (m.readonly) throw err(Errno.EROFS);
}

/** A vnode's attributes, checked to be a Stat. */
export async function getattr(vp: Vnode, ctx: OpContext): Promise<Stat> {
  const st = await vp.mount.fs.vnops.getattr(vp, ctx);
  if (st === null || typeof st !== 'object' || typeof st.mode !== 'number' || typeof st.size !== 'number') {
    throw err(Errno.EIO, 'getattr: bad reply');
  }
  return st;
}
