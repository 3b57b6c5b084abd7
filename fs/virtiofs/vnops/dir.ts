// Directories (Linux's fs/fuse/readdir.c; OSv's virtiofs_readdir):
// opendir, readdir (READDIRPLUS where it pays), releasedir, fsyncdir.

import { FsDirEntry, FsHandle, OpContext, Vnode, Vnops } from '../../../core/vfs';
import { EntryOut, FUSE_FSYNCDIR, FUSE_FSYNC_FDATASYNC, FUSE_OPENDIR, FUSE_READDIR, FUSE_READDIRPLUS, FUSE_RELEASEDIR } from '../../fuse';
import { readReplyCapacity } from '../session';
import { expiry, type VirtiofsInode } from '../inode';
import { VirtiofsHandle, VnopsContext, inodeOf, openFlags, req, unlessNosys } from './context';

/** "." or ".." as bytes. */
function isDotOrDotdot(n: Uint8Array): boolean {
  return (n.length === 1 && n[0] === 0x2e) || (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e);
}

/** One READDIR(PLUS) reply buffer. */
export const READDIR_BUFFER = 64 * 1024;

/** Linux's fuse_use_readdirplus: with READDIRPLUS_AUTO, the first batch of
 *  a listing, and a batch after names of the directory were looked up; a
 *  listing nobody stats costs the server no stat per entry. */
function usePlus(ctx: VnopsContext, dir: VirtiofsInode, cookie: bigint): boolean {
  if (!ctx.limits.readdirplus) return false;
  if (!ctx.limits.readdirplusAuto) return true;
  if (dir.advisePlus) { dir.advisePlus = false; return true; }
  return cookie === 0n;
}

export function dirOps(ctx: VnopsContext): Pick<Vnops, 'opendir' | 'readdir' | 'releasedir' | 'fsyncdir'> {
  return {
    async opendir(vp: Vnode, flags: number, o?: OpContext): Promise<FsHandle> {
      const oflags = openFlags(flags);
      const out = await ctx.session.call(FUSE_OPENDIR, inodeOf(vp).nodeid, { flags: oflags, open_flags: 0 }, undefined, req(o));
      return { fh: out.fh, flags: oflags } satisfies VirtiofsHandle;
    },

    async releasedir(vp: Vnode, fh: FsHandle, o?: OpContext): Promise<void> {
      const h = fh as VirtiofsHandle;
      // Not abortable: the handle must go whatever the caller does.
      await ctx.session.call(FUSE_RELEASEDIR, inodeOf(vp).nodeid, { fh: h.fh, flags: h.flags, release_flags: 0, lock_owner: 0n },
        undefined, { cred: o?.cred });
    },

    async fsyncdir(vp: Vnode, fh: FsHandle, datasync: boolean, o?: OpContext): Promise<void> {
      const h = fh as VirtiofsHandle;
      const body = { fh: h.fh, fsync_flags: datasync ? FUSE_FSYNC_FDATASYNC : 0 };
      // A server without FSYNCDIR has nothing to flush (Linux: fc->no_fsyncdir).
      await unlessNosys(ctx, FUSE_FSYNCDIR, () => ctx.session.call(FUSE_FSYNCDIR, inodeOf(vp).nodeid, body, undefined, req(o)), () => null);
    },

    async readdir(vp: Vnode, fh: FsHandle, cookie: bigint, o?: OpContext): Promise<FsDirEntry[]> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle;
      const body = { fh: h.fh, offset: cookie, size: READDIR_BUFFER, read_flags: 0, lock_owner: 0n, flags: h.flags };
      const cap = readReplyCapacity(READDIR_BUFFER);
      if (!usePlus(ctx, ip, cookie)) {
        const out = await ctx.session.call(FUSE_READDIR, ip.nodeid, body, cap, req(o));
        return out.entries.map((d) => ({ name: d.name, type: d.type, ino: d.ino, nextCookie: d.off }));
      }
      const out = await ctx.session.call(FUSE_READDIRPLUS, ip.nodeid, body, cap, req(o));
      const entries: FsDirEntry[] = new Array(out.entries.length);
      const counted: EntryOut[] = [];
      const names: Uint8Array[] = [];
      for (let i = 0; i < out.entries.length; i++) {
        const { entry_out: e, dirent: d } = out.entries[i]!;
        const name = d.name;
        entries[i] = { name, type: d.type, ino: d.ino, nextCookie: d.off };
        // Every entry with a nodeid, "." and ".." aside, is a lookup the
        // server counted (libfuse's readdirplus contract, Linux's
        // fuse_direntplus_link): the inode cache keeps it and the name is
        // entered for its entry_valid, so a stat that follows sends nothing.
        if (e.nodeid !== 0n && !isDotOrDotdot(name)) { counted.push(e); names.push(name); }
      }
      const kept = ctx.inodes.adopt(counted);
      for (let i = 0; i < kept.length; i++) {
        const child = kept[i];
        if (child) ctx.entries.set(ip.nodeid, names[i]!, child, expiry(counted[i]!.entry_valid, counted[i]!.entry_valid_nsec));
      }
      return entries;
    },
  };
}
