// Lookup and attributes (Linux's fs/fuse/dir.c; OSv's virtiofs_lookup,
// virtiofs_getattr, virtiofs_readlink, virtiofs_inactive).

import { Errno, ErrnoError } from '../../../core/errno';
import { FsEntry, S_IFLNK, Stat, Vnode, Vnops } from '../../../core/vfs';
import { Attr, FUSE_GETATTR, FUSE_GETATTR_FH, FUSE_LOOKUP, FUSE_READLINK, nameToString } from '../../fuse';
import { VirtiofsInode, attrToStat, setAttr } from '../inode';
import { VnopsContext, inodeOf } from './context';

/** FUSE_GETATTR (with the fh when there is one): the server's attributes
 *  now, not the LOOKUP copy, taken into ip. */
export async function fetchAttr(ctx: VnopsContext, ip: VirtiofsInode, fh?: bigint): Promise<Attr> {
  const out = await ctx.session.call(FUSE_GETATTR, ip.nodeid,
    { getattr_flags: fh === undefined ? 0 : FUSE_GETATTR_FH, fh: fh ?? 0n });
  setAttr(ip, out);
  return out.attr;
}

export function lookupOps(ctx: VnopsContext): Pick<Vnops, 'lookup' | 'getattr' | 'readlink' | 'inactive'> {
  return {
    async lookup(dir: Vnode, name: Uint8Array): Promise<FsEntry> {
      const parent = inodeOf(dir);
      const out = await ctx.session.call(FUSE_LOOKUP, parent.nodeid, { name });
      // nodeid 0: a negative entry, "same as ENOENT" (Linux).
      if (out.nodeid === 0n) throw new ErrnoError(Errno.ENOENT, nameToString(name));
      const ip = ctx.inodes.instantiate(out);
      return { ino: ip.nodeid, mode: ip.attr.mode, data: ip };
    },

    async getattr(vp: Vnode): Promise<Stat> {
      const ip = inodeOf(vp);
      if (Date.now() < ip.attrExpires) return attrToStat(ip.attr);
      return attrToStat(await fetchAttr(ctx, ip));
    },

    async readlink(vp: Vnode): Promise<Uint8Array> {
      const ip = inodeOf(vp);
      if (ip.type !== S_IFLNK) throw new ErrnoError(Errno.EINVAL, 'not a symlink');
      const out = await ctx.session.call(FUSE_READLINK, ip.nodeid, null);
      return out.link;
    },

    inactive(vp: Vnode): void {
      ctx.inodes.release(vp);
    },
  };
}
