// Advisory locks (Linux's fs/fuse/file.c fuse_getlk/fuse_setlk): GETLK,
// SETLK, SETLKW, and flock(2) as SETLK(W) with FUSE_LK_FLOCK. Only when the
// server granted FUSE_POSIX_LOCKS / FUSE_FLOCK_LOCKS at INIT; otherwise
// ENOSYS, and the VFS keeps the locks itself, as Linux does locally.

import { Errno, ErrnoError } from '../../../core/errno';
import { F_RDLCK, F_UNLCK, F_WRLCK, FileLock, FsHandle, LOCK_EX, LOCK_NB, LOCK_TO_EOF, LOCK_UN, OpContext, Vnode, Vnops } from '../../../core/vfs';
import { FUSE_GETLK, FUSE_LK_FLOCK, FUSE_SETLK, FUSE_SETLKW } from '../../fuse';
import { VirtiofsHandle, VnopsContext, inodeOf, req } from './context';

/** OFFSET_MAX: a lock to the end of the file. */
const OFFSET_MAX = 0x7fffffffffffffffn;

function toWire(l: FileLock) {
  return { start: BigInt(l.start), end: l.end >= LOCK_TO_EOF ? OFFSET_MAX : BigInt(l.end), type: l.type, pid: l.pid };
}

export function lockOps(ctx: VnopsContext): Pick<Vnops, 'getlk' | 'setlk' | 'flock'> {
  const posix = (): void => { if (!ctx.limits.posixLocks) throw new ErrnoError(Errno.ENOSYS, 'the server keeps no POSIX locks'); };
  return {
    async getlk(vp: Vnode, fh: FsHandle, owner: bigint, lock: FileLock, o?: OpContext): Promise<FileLock> {
      posix();
      const out = await ctx.session.call(FUSE_GETLK, inodeOf(vp).nodeid,
        { fh: (fh as VirtiofsHandle).fh, owner, lk: toWire(lock), lk_flags: 0 }, undefined, req(o));
      const lk = out.lk;
      if (lk.type !== F_RDLCK && lk.type !== F_WRLCK && lk.type !== F_UNLCK) throw new ErrnoError(Errno.EIO, `virtiofs: GETLK type ${lk.type}`);
      const end = lk.end >= OFFSET_MAX || lk.end > BigInt(LOCK_TO_EOF) ? LOCK_TO_EOF : Number(lk.end);
      return { type: lk.type, start: Number(lk.start > BigInt(LOCK_TO_EOF) ? BigInt(LOCK_TO_EOF) : lk.start), end, pid: lk.pid };
    },

    async setlk(vp: Vnode, fh: FsHandle, owner: bigint, lock: FileLock, wait: boolean, o?: OpContext): Promise<void> {
      posix();
      await ctx.session.call(wait ? FUSE_SETLKW : FUSE_SETLK, inodeOf(vp).nodeid,
        { fh: (fh as VirtiofsHandle).fh, owner, lk: toWire(lock), lk_flags: 0 }, undefined, req(o));
    },

    async flock(vp: Vnode, fh: FsHandle, owner: bigint, op: number, o?: OpContext): Promise<void> {
      if (!ctx.limits.flockLocks) throw new ErrnoError(Errno.ENOSYS, 'the server keeps no flock locks');
      const h = fh as VirtiofsHandle;
      const type = op & LOCK_UN ? F_UNLCK : op & LOCK_EX ? F_WRLCK : F_RDLCK;
      h.flockOwner = owner; // RELEASE unlocks for it
      await ctx.session.call(op & LOCK_NB || type === F_UNLCK ? FUSE_SETLK : FUSE_SETLKW, inodeOf(vp).nodeid, {
        fh: h.fh, owner, lk: { start: 0n, end: OFFSET_MAX, type, pid: o?.cred.pid ?? 0 }, lk_flags: FUSE_LK_FLOCK,
      }, undefined, req(o));
    },
  };
}
