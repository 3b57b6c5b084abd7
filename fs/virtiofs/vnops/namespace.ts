// Making and removing names (Linux's fs/fuse/dir.c): CREATE (MKNOD then
// OPEN when the server has no CREATE, as Linux falls back), MKNOD, MKDIR,
// SYMLINK, LINK, UNLINK, RMDIR, RENAME and RENAME2. Every entry reply goes
// through the inode cache; the entry cache learns the new name and forgets
// the removed ones; the directories' attributes are asked again.

import { Errno, ErrnoError } from '../../../core/errno';
import { FsEntry, FsHandle, OpContext, S_IFMT, S_IFREG, Vnode, Vnops } from '../../../core/vfs';
import {
  FUSE_CREATE, FUSE_LINK, FUSE_MKDIR, FUSE_MKNOD, FUSE_OPEN, FUSE_RENAME, FUSE_RENAME2, FUSE_RMDIR, FUSE_SYMLINK,
  FUSE_UNLINK,
} from '../../fuse';
import type { VirtiofsInode } from '../inode';
import { VirtiofsHandle, VnopsContext, inodeOf, openFlags, req, unlessNosys } from './context';
import { enter, fetchAttr, invalidateAttr } from './lookup';

export function namespaceOps(ctx: VnopsContext): Pick<Vnops,
  'create' | 'mknod' | 'mkdir' | 'symlink' | 'link' | 'unlink' | 'rmdir' | 'rename'> {
  /** The victim of an unlink or rename, if this mount holds it: its link count moved. */
  const heldChild = (dir: bigint, name: Uint8Array) => ctx.entries.get(dir, name);

  const mknod = async (dir: Vnode, name: Uint8Array, mode: number, rdev: number, o?: OpContext): Promise<FsEntry> => {
    const parent = inodeOf(dir);
    const out = await ctx.session.call(FUSE_MKNOD, parent.nodeid, { mode, rdev, umask: o?.cred.umask ?? 0, name }, undefined, req(o));
    invalidateAttr(parent);
    return enter(ctx, parent, name, out);
  };

  return {
    async create(dir: Vnode, name: Uint8Array, mode: number, flags: number, o?: OpContext): Promise<{ entry: FsEntry; fh: FsHandle }> {
      const parent = inodeOf(dir);
      const oflags = openFlags(flags);
      return unlessNosys(ctx, FUSE_CREATE, async () => {
        const out = await ctx.session.call(FUSE_CREATE, parent.nodeid,
          { flags: oflags, mode, umask: o?.cred.umask ?? 0, open_flags: 0, name }, undefined, req(o));
        invalidateAttr(parent);
        const entry = enter(ctx, parent, name, out.entry_out);
        return { entry, fh: { fh: out.open_out.fh, flags: oflags } satisfies VirtiofsHandle };
      }, async () => {
        // Linux's fallback: MKNOD of a regular file, then OPEN it.
        const entry = await mknod(dir, name, S_IFREG | (mode & ~S_IFMT), 0, o);
        const ip = entry.data as VirtiofsInode;
        const out = await ctx.session.call(FUSE_OPEN, ip.nodeid, { flags: oflags, open_flags: 0 }, undefined, req(o));
        await fetchAttr(ctx, ip, out.fh, o);
        return { entry, fh: { fh: out.fh, flags: oflags } satisfies VirtiofsHandle };
      });
    },

    mknod,

    async mkdir(dir: Vnode, name: Uint8Array, mode: number, o?: OpContext): Promise<FsEntry> {
      const parent = inodeOf(dir);
      const out = await ctx.session.call(FUSE_MKDIR, parent.nodeid, { mode, umask: o?.cred.umask ?? 0, name }, undefined, req(o));
      invalidateAttr(parent);
      return enter(ctx, parent, name, out);
    },

    async symlink(dir: Vnode, name: Uint8Array, target: Uint8Array, o?: OpContext): Promise<FsEntry> {
      const parent = inodeOf(dir);
      const out = await ctx.session.call(FUSE_SYMLINK, parent.nodeid, { name, link: target }, undefined, req(o));
      invalidateAttr(parent);
      return enter(ctx, parent, name, out);
    },

    async link(vp: Vnode, dir: Vnode, name: Uint8Array, o?: OpContext): Promise<FsEntry> {
      const parent = inodeOf(dir);
      const out = await ctx.session.call(FUSE_LINK, parent.nodeid, { oldnodeid: inodeOf(vp).nodeid, newname: name }, undefined, req(o));
      invalidateAttr(parent);
      return enter(ctx, parent, name, out); // its attributes carry the new link count
    },

    async unlink(dir: Vnode, name: Uint8Array, o?: OpContext): Promise<void> {
      const parent = inodeOf(dir);
      const victim = heldChild(parent.nodeid, name);
      try {
        await ctx.session.call(FUSE_UNLINK, parent.nodeid, { name }, undefined, req(o));
      } finally {
        ctx.entries.drop(parent.nodeid, name);
        invalidateAttr(parent);
        invalidateAttr(victim);
      }
    },

    async rmdir(dir: Vnode, name: Uint8Array, o?: OpContext): Promise<void> {
      const parent = inodeOf(dir);
      const victim = heldChild(parent.nodeid, name);
      try {
        await ctx.session.call(FUSE_RMDIR, parent.nodeid, { name }, undefined, req(o));
      } finally {
        ctx.entries.drop(parent.nodeid, name);
        if (victim) ctx.entries.dropDir(victim.nodeid);
        invalidateAttr(parent);
        invalidateAttr(victim);
      }
    },

    /** RENAME for a plain rename, RENAME2 with flags; a server without
     *  RENAME2 cannot honour flags: EINVAL, as Linux answers then. */
    async rename(srcDir: Vnode, srcName: Uint8Array, dstDir: Vnode, dstName: Uint8Array, flags: number, o?: OpContext): Promise<void> {
      const src = inodeOf(srcDir);
      const dst = inodeOf(dstDir);
      const moved = heldChild(src.nodeid, srcName);
      const replaced = heldChild(dst.nodeid, dstName);
      try {
        if (flags === 0) {
          await ctx.session.call(FUSE_RENAME, src.nodeid, { newdir: dst.nodeid, oldname: srcName, newname: dstName }, undefined, req(o));
        } else {
          await unlessNosys(ctx, FUSE_RENAME2,
            () => ctx.session.call(FUSE_RENAME2, src.nodeid, { newdir: dst.nodeid, flags, oldname: srcName, newname: dstName }, undefined, req(o)),
            () => { throw new ErrnoError(Errno.EINVAL, 'the server has no RENAME2'); });
        }
      } finally {
        ctx.entries.drop(src.nodeid, srcName);
        ctx.entries.drop(dst.nodeid, dstName);
        for (const ip of [src, dst, moved, replaced]) invalidateAttr(ip);
      }
    },
  };
}
