// Advisory locks: POSIX record locks (fcntl F_GETLK, F_SETLK, F_SETLKW),
// owned by the calling process, and flock(2) locks, owned by the open file
// description. Ranges are made absolute here (whence, negative lengths);
// the filesystem holds the locks (FUSE: GETLK/SETLK/SETLKW).

import { Errno, ErrnoError } from '../errno';
import { F_RDLCK, F_UNLCK, F_WRLCK, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, O_ACCMODE, O_RDONLY, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET } from './fcntl';
import type { File } from './file';
import type { OpContext, Vnops } from './fs';
import type { LocalLocks } from './local-locks';
import { FileLock, LOCK_TO_EOF } from './stat';
import { err, getattr, vnopOf } from './state';

/** struct flock as fcntl takes it. */
export interface Flock {
  type: number;
  whence: number;
  start: number;
  /** 0: to the end of the file, however it grows; negative: the bytes before start. */
  len: number;
  /** F_GETLK: the holder's pid. */
  pid?: number;
}

/** The POSIX-lock owner of a process: its pid within this VFS. */
export function processOwner(vfsId: number, pid: number): bigint {
  return (BigInt(vfsId) << 32n) | BigInt(pid);
}

/** flock(2) locks belong to the open file description. */
export function fileOwner(f: File): bigint {
  return (1n << 63n) | f.id;
}

async function absolute(f: File, ctx: OpContext, l: Flock): Promise<FileLock> {
  if (l === null || typeof l !== 'object') throw err(Errno.EFAULT);
  if (l.type !== F_RDLCK && l.type !== F_WRLCK && l.type !== F_UNLCK) throw err(Errno.EINVAL, 'bad lock type');
  if (!Number.isSafeInteger(l.start) || !Number.isSafeInteger(l.len)) throw err(Errno.EINVAL, 'bad range');
  let base: number;
  if (l.whence === SEEK_SET) base = 0;
  else if (l.whence === SEEK_CUR) base = f.offset;
  else if (l.whence === SEEK_END) base = (await getattr(f.vp, ctx)).size;
  else throw err(Errno.EINVAL, 'bad whence');
  // flock_to_posix_lock's arithmetic.
  let start = base + l.start;
  if (start < 0) throw err(Errno.EINVAL, 'negative start');
  let end: number;
  if (l.len > 0) {
    if (l.len - 1 > LOCK_TO_EOF - start) throw err(Errno.EOVERFLOW);
    end = start + l.len - 1;
  } else if (l.len < 0) {
    if (start + l.len < 0) throw err(Errno.EINVAL, 'range before offset 0');
    end = start - 1;
    start += l.len;
  } else {
    end = LOCK_TO_EOF;
  }
  return { type: l.type, start, end, pid: 0 };
}

function checkMode(f: File, type: number): void {
  if (f.isDir && type !== F_UNLCK) throw err(Errno.EBADF);
  const acc = f.flags & O_ACCMODE;
  if (type === F_RDLCK && acc === O_WRONLY) throw err(Errno.EBADF, 'a read lock needs read access');
  if (type === F_WRLCK && acc === O_RDONLY) throw err(Errno.EBADF, 'a write lock needs write access');
}

/** The key of a file in the local lock table. */
export function lockKey(f: File): string {
  return `${f.vp.mount.id}:${f.vp.ino}`;
}

/** The filesystem's lock vnop `k` run with `args`, or, when it has none or
 *  answers ENOSYS, undefined: the VFS keeps the lock itself then. */
async function remote<K extends 'getlk' | 'setlk' | 'flock', T>(f: File, k: K, call: (fn: NonNullable<Vnops[K]>) => Promise<T>): Promise<T | undefined> {
  const fn = vnopOf(f.vp.mount, k);
  if (fn === undefined) return undefined;
  try {
    return await call(fn);
  } catch (e) {
    if (e instanceof ErrnoError && e.errno === Errno.ENOSYS) return undefined;
    throw e;
  }
}

/** F_GETLK: the lock that would block `l` (type F_UNLCK when none). */
export async function getlk(f: File, ctx: OpContext, owner: bigint, l: Flock, locks: LocalLocks): Promise<Flock> {
  const lock = { ...await absolute(f, ctx, l), pid: ctx.cred.pid };
  if (lock.type === F_UNLCK) throw err(Errno.EINVAL, 'F_GETLK of F_UNLCK');
  const got = await remote(f, 'getlk', (fn) => fn(f.vp, f.fh, owner, lock, ctx)) ?? locks.getlk(lockKey(f), owner, lock);
  if (got.type === F_UNLCK) return { ...l, type: F_UNLCK };
  return { type: got.type, whence: SEEK_SET, start: got.start, len: got.end >= LOCK_TO_EOF ? 0 : got.end - got.start + 1, pid: got.pid };
}

/** F_SETLK (EAGAIN on a conflict) and F_SETLKW (waits; ctx.signal gives EINTR). */
export async function setlk(f: File, ctx: OpContext, owner: bigint, l: Flock, wait: boolean, locks: LocalLocks): Promise<void> {
  const lock = { ...await absolute(f, ctx, l), pid: ctx.cred.pid };
  checkMode(f, lock.type);
  const done = await remote(f, 'setlk', async (fn) => { await fn(f.vp, f.fh, owner, lock, wait, ctx); return true; });
  if (!done) await locks.setlk(lockKey(f), owner, lock, wait, ctx.signal);
}

export async function flock(f: File, ctx: OpContext, op: number, locks: LocalLocks): Promise<void> {
  const kind = op & ~LOCK_NB;
  if (!Number.isInteger(op) || (op & ~(LOCK_SH | LOCK_EX | LOCK_UN | LOCK_NB)) !== 0
      || (kind !== LOCK_SH && kind !== LOCK_EX && kind !== LOCK_UN)) throw err(Errno.EINVAL, 'bad flock operation');
  const done = await remote(f, 'flock', async (fn) => { await fn(f.vp, f.fh, fileOwner(f), op, ctx); return true; });
  if (done) return;
  const type = kind === LOCK_UN ? F_UNLCK : kind === LOCK_EX ? F_WRLCK : F_RDLCK;
  await locks.flock(lockKey(f), fileOwner(f), type, (op & LOCK_NB) === 0, ctx.signal);
}
