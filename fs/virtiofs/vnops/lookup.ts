// Lookup and attributes (Linux's fs/fuse/dir.c; OSv's virtiofs_lookup,
// virtiofs_getattr, virtiofs_readlink, virtiofs_inactive). A name within
// its entry_valid and attributes within their attr_valid are answered
// without a request, as Linux's dcache and attribute timeouts do.

import { Errno, ErrnoError } from '../../../core/errno';
import { FsEntry, OpContext, S_IFLNK, Stat, Vnode, Vnops } from '../../../core/vfs';
import { Attr, EntryOut, FUSE_GETATTR, FUSE_GETATTR_FH, FUSE_LOOKUP, FUSE_READLINK, nameToString } from '../../fuse';
import { VirtiofsInode, attrToStat, expiry, setAttr } from '../inode';
import { VnopsContext, inodeOf, req } from './context';

/** FUSE_GETATTR (with the fh when there is one): the server's attributes
 *  now, not the LOOKUP copy, taken into ip. */
export async function fetchAttr(ctx: VnopsContext, ip: VirtiofsInode, fh?: bigint, o?: OpContext): Promise<Attr> {
  const out = await ctx.session.call(FUSE_GETATTR, ip.nodeid,
    { getattr_flags: fh === undefined ? 0 : FUSE_GETATTR_FH, fh: fh ?? 0n }, undefined, req(o));
  setAttr(ip, out);
  return out.attr;
}

/** The attributes of ip are stale: the next getattr asks the server (after
 *  the mount's own change: mtime, ctime, link counts moved). */
export function invalidateAttr(ip: VirtiofsInode | undefined): void {
  if (ip) ip.attrExpires = 0;
}

/** An entry reply (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK, LINK): its inode,
 *  counted by the inode cache, and its name entered for entry_valid. */
export function enter(ctx: VnopsContext, parent: VirtiofsInode, name: Uint8Array, out: EntryOut): FsEntry {
  const ip = ctx.inodes.instantiate(out);
  ctx.entries.set(parent.nodeid, name, ip, expiry(out.entry_valid, out.entry_valid_nsec));
  return { ino: ip.nodeid, mode: ip.attr.mode, data: ip };
}

export function lookupOps(ctx: VnopsContext): Pick<Vnops, 'lookup' | 'getattr' | 'readlink' | 'inactive'> {
  return {
    async lookup(dir: Vnode, name: Uint8Array, o?: OpContext): Promise<FsEntry> {
      const parent = inodeOf(dir);
      const cached = ctx.entries.get(parent.nodeid, name);
      if (cached && ctx.inodes.revive(cached)) {
        // A name a listing brought in is used: that listing paid, so will
        // the next batch (Linux's fuse_dentry_revalidate and INIT_RDPLUS).
        if (cached.fromPlus) { cached.fromPlus = false; parent.advisePlus = true; }
        return { ino: cached.nodeid, mode: cached.attr.mode, data: cached };
      }
      // Someone walks this directory's names: a listing's attributes would
      // have spared this LOOKUP (Linux's fuse_advise_use_readdirplus).
      parent.advisePlus = true;
      const out = await ctx.session.call(FUSE_LOOKUP, parent.nodeid, { name }, undefined, req(o));
      // nodeid 0: a negative entry, "same as ENOENT" (Linux).
      if (out.nodeid === 0n) throw new ErrnoError(Errno.ENOENT, nameToString(name));
      return enter(ctx, parent, name, out);
    },

    async getattr(vp: Vnode, o?: OpContext): Promise<Stat> {
      const ip = inodeOf(vp);
      if (Date.now() < ip.attrExpires) return attrToStat(ip.attr);
      return attrToStat(await fetchAttr(ctx, ip, undefined, o));
    },

    async readlink(vp: Vnode, o?: OpContext): Promise<Uint8Array> {
      const ip = inodeOf(vp);
      if (ip.type !== S_IFLNK) throw new ErrnoError(Errno.EINVAL, 'not a symlink');
      const out = await ctx.session.call(FUSE_READLINK, ip.nodeid, null, undefined, req(o));
      return out.link;
    },

    inactive(vp: Vnode): void {
      ctx.inodes.release(vp);
    },
  };
}
