// SETATTR (Linux's fuse_do_setattr): mode, owner, size, times (a value, or
// the server's now), through the open file's fh when there is one. The
// reply's attributes become the inode's. A size first takes the window's
// chunks past the new end away (REMOVEMAPPING), so nothing in the window
// shows the host file past its end once the server has cut it.

import { FsHandle, OpContext, SetAttr, Stat, TimeSet, Vnode, Vnops } from '../../../core/vfs';
import {
  FATTR_ATIME, FATTR_ATIME_NOW, FATTR_FH, FATTR_GID, FATTR_LOCKOWNER, FATTR_MODE, FATTR_MTIME, FATTR_MTIME_NOW,
  FATTR_SIZE, FATTR_UID, FUSE_SETATTR, SetattrIn,
} from '../../fuse';
import { attrToStat, setAttr } from '../inode';
import { VirtiofsHandle, VnopsContext, inodeOf, req } from './context';

function time(t: TimeSet | undefined, set: number, now: number): { valid: number; sec: bigint; nsec: number } {
  if (t === undefined) return { valid: 0, sec: 0n, nsec: 0 };
  if (t === 'now') return { valid: set | now, sec: 0n, nsec: 0 };
  return { valid: set, sec: BigInt(t.sec), nsec: t.nsec };
}

/** The fuse_setattr_in for a SetAttr. */
export function setattrIn(a: SetAttr, fh: bigint | undefined, lockOwner: bigint): SetattrIn {
  const at = time(a.atime, FATTR_ATIME, FATTR_ATIME_NOW);
  const mt = time(a.mtime, FATTR_MTIME, FATTR_MTIME_NOW);
  let valid = at.valid | mt.valid;
  if (a.mode !== undefined) valid |= FATTR_MODE;
  if (a.uid !== undefined) valid |= FATTR_UID;
  if (a.gid !== undefined) valid |= FATTR_GID;
  if (a.size !== undefined) valid |= FATTR_SIZE;
  if (fh !== undefined) valid |= FATTR_FH;
  if (a.size !== undefined && fh !== undefined) valid |= FATTR_LOCKOWNER;
  return {
    valid, fh: fh ?? 0n, size: BigInt(a.size ?? 0), lock_owner: lockOwner,
    atime: at.sec, mtime: mt.sec, ctime: 0n, atimensec: at.nsec, mtimensec: mt.nsec, ctimensec: 0,
    mode: a.mode ?? 0, uid: a.uid ?? 0, gid: a.gid ?? 0,
  };
}

export function setattrOps(ctx: VnopsContext): Pick<Vnops, 'setattr'> {
  return {
    async setattr(vp: Vnode, attr: SetAttr, fh: FsHandle | undefined, o?: OpContext): Promise<Stat> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle | undefined;
      if (attr.size !== undefined && ctx.dax) await ctx.dax.truncate(ip.nodeid, attr.size);
      const out = await ctx.session.call(FUSE_SETATTR, ip.nodeid, setattrIn(attr, h?.fh, o?.lockOwner ?? 0n), undefined, req(o));
      setAttr(ip, out);
      return attrToStat(out.attr);
    },
  };
}
