// Writing files (Linux's fs/fuse/file.c, with no writeback cache: every
// write goes to the server as it is made): write in max_write pieces,
// FLUSH at close, FSYNC, FALLOCATE, LSEEK's SEEK_DATA/SEEK_HOLE and
// COPY_FILE_RANGE. After each the size the guest keeps is right and the
// other attributes are asked again (the server moved mtime and ctime).
//
// With DAX on for the file, a write inside the file goes through the window
// (a write mapping: the host file itself), as Linux's fuse_dax_write_iter;
// one that extends the file is a FUSE_WRITE, as there. A write mapping the
// server refuses for want of space (ENOSPC, EDQUOT: it reserves the blocks
// at SETUPMAPPING) fails the write at once, or makes it short by what went
// before; any other refusal writes the rest with FUSE_WRITE.

import { Errno, ErrnoError } from '../../../core/errno';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FsHandle, OpContext, SEEK_DATA, Vnode, Vnops } from '../../../core/vfs';
import {
  FUSE_COPY_FILE_RANGE, FUSE_FALLOCATE, FUSE_FLUSH, FUSE_FSYNC, FUSE_FSYNC_FDATASYNC, FUSE_LSEEK, FUSE_WRITE,
} from '../../fuse';
import type { VirtiofsInode } from '../inode';
import { VirtiofsHandle, VnopsContext, inodeOf, req, unlessNosys } from './context';
import { fetchAttr, invalidateAttr } from './lookup';

/** The file grew to `end` by the mount's own doing. */
function grew(ip: VirtiofsInode, end: number): void {
  if (end > ip.size) {
    ip.size = end;
    ip.attr = { ...ip.attr, size: BigInt(end) };
  }
  invalidateAttr(ip);
}

export function writeOps(ctx: VnopsContext): Pick<Vnops, 'write' | 'flush' | 'fsync' | 'fallocate' | 'lseek' | 'copyFileRange'> {
  return {
    /** offset -1 (O_APPEND): at the size the server reports now. */
    async write(vp: Vnode, fh: FsHandle, offset: number, data: Uint8Array, o?: OpContext): Promise<number> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle;
      const at = offset >= 0 ? offset : Number((await fetchAttr(ctx, ip, h.fh, o)).size);
      const max = ctx.limits.maxWrite;
      let done = 0;
      const dax = ctx.dax;
      if (dax && ctx.daxFor(ip) && at + data.length <= ip.size && data.length > 0) {
        done = dax.writeHit(ip, at, data);
        if (done !== data.length) {
          ctx.inodes.noteDax(ip); // its chunks go before its last FORGET
          const r = await dax.write(ip, h.fh, at, data, ctx.adaptive);
          done = r.bytes;
          const errno = r.fallback?.errno;
          if (errno === Errno.ENOSPC || errno === Errno.EDQUOT) {
            invalidateAttr(ip);
            if (done > 0) return done; // short: what went before the refused chunk
            throw new ErrnoError(errno, 'virtiofs: the server has no space for a DAX write mapping');
          }
        }
        invalidateAttr(ip); // the host moved mtime
        if (done === data.length) return done;
      }
      try {
        while (done < data.length) {
          const piece = data.subarray(done, Math.min(data.length, done + max));
          const out = await ctx.session.call(FUSE_WRITE, ip.nodeid, {
            fh: h.fh, offset: BigInt(at + done), write_flags: 0, lock_owner: 0n, flags: h.flags, data: piece,
          }, undefined, req(o));
          if (out.size > piece.length) throw new ErrnoError(Errno.EIO, `virtiofs: WRITE of ${piece.length} bytes answered ${out.size}`);
          done += out.size;
          if (out.size < piece.length) break; // a short write is returned as such
        }
      } finally {
        if (done > 0) grew(ip, at + done);
      }
      return done;
    },

    /** FUSE_FLUSH at each close; a server without it has nothing to flush. */
    async flush(vp: Vnode, fh: FsHandle, o?: OpContext): Promise<void> {
      const h = fh as VirtiofsHandle;
      const owner = o?.lockOwner ?? 0n;
      await unlessNosys(ctx, FUSE_FLUSH,
        () => ctx.session.call(FUSE_FLUSH, inodeOf(vp).nodeid, { fh: h.fh, lock_owner: owner }, undefined, { cred: o?.cred }),
        () => null);
    },

    async fsync(vp: Vnode, fh: FsHandle, datasync: boolean, o?: OpContext): Promise<void> {
      const h = fh as VirtiofsHandle;
      const body = { fh: h.fh, fsync_flags: datasync ? FUSE_FSYNC_FDATASYNC : 0 };
      await unlessNosys(ctx, FUSE_FSYNC, () => ctx.session.call(FUSE_FSYNC, inodeOf(vp).nodeid, body, undefined, req(o)), () => null);
    },

    /** A server without FALLOCATE: EOPNOTSUPP, as Linux answers then. */
    async fallocate(vp: Vnode, fh: FsHandle, mode: number, offset: number, len: number, o?: OpContext): Promise<void> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle;
      await unlessNosys(ctx, FUSE_FALLOCATE, async () => {
        await ctx.session.call(FUSE_FALLOCATE, ip.nodeid,
          { fh: h.fh, offset: BigInt(offset), length: BigInt(len), mode }, undefined, req(o));
        // A punched hole frees host blocks a write mapping reserved there.
        if (mode & FALLOC_FL_PUNCH_HOLE) await ctx.dax?.forgetWritable(ip.nodeid, offset, len);
        if (!(mode & FALLOC_FL_KEEP_SIZE)) grew(ip, offset + len);
        else invalidateAttr(ip);
      }, () => { throw new ErrnoError(Errno.EOPNOTSUPP, 'the server has no FALLOCATE'); });
    },

    /** SEEK_DATA and SEEK_HOLE; without FUSE_LSEEK the generic answer: data
     *  up to the size, a hole at it (Linux's generic_file_llseek). */
    async lseek(vp: Vnode, fh: FsHandle, offset: number, whence: number, o?: OpContext): Promise<number> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle;
      return unlessNosys(ctx, FUSE_LSEEK, async () => {
        const out = await ctx.session.call(FUSE_LSEEK, ip.nodeid, { fh: h.fh, offset: BigInt(offset), whence }, undefined, req(o));
        if (out.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError(Errno.EOVERFLOW);
        return Number(out.offset);
      }, async () => {
        const size = Number((await fetchAttr(ctx, ip, h.fh, o)).size);
        if (offset >= size) throw new ErrnoError(Errno.ENXIO);
        return whence === SEEK_DATA ? offset : size;
      });
    },

    /** ENOSYS (once known, at once) lets the VFS copy by reading and writing. */
    async copyFileRange(vpIn: Vnode, fhIn: FsHandle, offIn: number, vpOut: Vnode, fhOut: FsHandle, offOut: number,
      len: number, o?: OpContext): Promise<number> {
      const out = inodeOf(vpOut);
      const copied = await unlessNosys(ctx, FUSE_COPY_FILE_RANGE, async () => {
        const r = await ctx.session.call(FUSE_COPY_FILE_RANGE, inodeOf(vpIn).nodeid, {
          fh_in: (fhIn as VirtiofsHandle).fh, off_in: BigInt(offIn), nodeid_out: out.nodeid,
          fh_out: (fhOut as VirtiofsHandle).fh, off_out: BigInt(offOut), len: BigInt(len), flags: 0n,
        }, undefined, req(o));
        return r.size;
      }, () => { throw new ErrnoError(Errno.ENOSYS); });
      if (copied > len) throw new ErrnoError(Errno.EIO, `virtiofs: COPY_FILE_RANGE of ${len} answered ${copied}`);
      if (copied > 0) grew(out, offOut + copied);
      return copied;
    },
  };
}
