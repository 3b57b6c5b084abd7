// Open files and reads (Linux's fs/fuse/file.c; OSv's virtiofs_open,
// virtiofs_close, virtiofs_read): DAX first when the file has it, and
// FUSE_READ for what the window cannot give.

import { FsHandle, OpContext, Vnode, Vnops } from '../../../core/vfs';
import { FUSE_OPEN, FUSE_READ, FUSE_RELEASE, FUSE_RELEASE_FLOCK_UNLOCK } from '../../fuse';
import type { VirtiofsInode } from '../inode';
import { readReplyCapacity } from '../session';
import { VirtiofsHandle, VnopsContext, inodeOf, openFlags, req } from './context';
import { fetchAttr } from './lookup';

export function readOps(ctx: VnopsContext): Pick<Vnops, 'open' | 'release' | 'read' | 'readInto'> {
  const ops = {
    async open(vp: Vnode, flags: number, o?: OpContext): Promise<FsHandle> {
      const ip = inodeOf(vp);
      const oflags = openFlags(flags);
      const out = await ctx.session.call(FUSE_OPEN, ip.nodeid, { flags: oflags, open_flags: 0 }, undefined, req(o));
      const h: VirtiofsHandle = { fh: out.fh, flags: oflags };
      try {
        // Reads are clamped to the size: take it fresh at open.
        await fetchAttr(ctx, ip, out.fh, o);
      } catch (e) {
        await ops.release(vp, h, o).catch(() => {});
        throw e;
      }
      return h;
    },

    async release(vp: Vnode, fh: FsHandle, o?: OpContext): Promise<void> {
      const h = fh as VirtiofsHandle;
      const flock = h.flockOwner !== undefined;
      // Not abortable: the handle must go whatever the caller does.
      await ctx.session.call(FUSE_RELEASE, inodeOf(vp).nodeid, {
        fh: h.fh, flags: h.flags, release_flags: flock ? FUSE_RELEASE_FLOCK_UNLOCK : 0, lock_owner: h.flockOwner ?? 0n,
      }, undefined, { cred: o?.cred });
    },

    async read(vp: Vnode, fh: FsHandle, offset: number, len: number, o?: OpContext): Promise<Uint8Array> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle;
      const want = Math.min(len, ip.size - offset);
      if (!(want > 0)) return new Uint8Array(0);
      const dax = ctx.dax;
      if (dax && ctx.daxFor(ip)) {
        const buf = new Uint8Array(want);
        let done = dax.readHit(ip, offset, buf);
        if (done !== want) done = await daxRead(ip, h, offset, buf);
        if (done === want) return buf;
        return fuseRead(ip, h, offset, buf, done, o);
      }
      // One piece covering the whole read: hand out the reply's bytes, no copy.
      if (want <= ctx.limits.maxRead) {
        const data = await fuseReadPiece(ip, h, offset, want, o);
        dax?.noteFuseRead(data.length);
        return data;
      }
      return fuseRead(ip, h, offset, new Uint8Array(want), 0, o);
    },

    /** read() into the caller's buffer: at most dst.length bytes at offset
     *  into dst from its start; fewer only at end of file. A DAX hit is
     *  copied synchronously, with no promise but the returned one. */
    async readInto(vp: Vnode, fh: FsHandle, offset: number, dst: Uint8Array, o?: OpContext): Promise<number> {
      const ip = inodeOf(vp);
      const h = fh as VirtiofsHandle;
      const want = Math.min(dst.length, ip.size - offset);
      if (!(want > 0)) return 0;
      const buf = want === dst.length ? dst : dst.subarray(0, want);
      let done = 0;
      const dax = ctx.dax;
      if (dax && ctx.daxFor(ip)) {
        done = dax.readHit(ip, offset, buf);
        if (done === want) return want;
        done = await daxRead(ip, h, offset, buf);
        if (done === want) return want;
      }
      const got = await fuseRead(ip, h, offset, buf, done, o);
      return got.length;
    },
  };

  /** Through the window, mapping what is missing: bytes read into buf from
   *  its start (fewer: the rest needs FUSE_READ, as for a miss the adaptive
   *  rule leaves unmapped). */
  async function daxRead(ip: VirtiofsInode, h: VirtiofsHandle, offset: number, buf: Uint8Array): Promise<number> {
    ctx.inodes.noteDax(ip);
    const r = await ctx.dax!.read({ nodeid: ip.nodeid, size: ip.size }, h.fh, buf.length, { offset, dst: buf }, ctx.aggressive, ctx.adaptive);
    return r.bytes;
  }

  /** FUSE_READ of buf[done..) at offset + done, in pieces the server
   *  accepts; buf up to the bytes read (a short read is end of file). */
  async function fuseRead(ip: VirtiofsInode, h: VirtiofsHandle, offset: number, buf: Uint8Array, done: number,
    o?: OpContext): Promise<Uint8Array> {
    const maxRead = ctx.limits.maxRead;
    const want = buf.length;
    while (done < want) {
      const n = Math.min(maxRead, want - done);
      const data = await fuseReadPiece(ip, h, offset + done, n, o);
      const got = data.length; // what came, not what was asked (OSv copied the asked length)
      ctx.dax?.noteFuseRead(got);
      buf.set(data, done);
      done += got;
      if (got < n) break; // a short read is end of file (Linux: fuse_short_read)
    }
    return done === want ? buf : buf.subarray(0, done);
  }

  async function fuseReadPiece(ip: VirtiofsInode, h: VirtiofsHandle, offset: number, size: number, o?: OpContext): Promise<Uint8Array> {
    const out = await ctx.session.call(FUSE_READ, ip.nodeid, {
      fh: h.fh, offset: BigInt(offset), size, read_flags: 0, lock_owner: 0n, flags: h.flags,
    }, readReplyCapacity(size), req(o));
    return out.data; // the session refused a reply longer than asked
  }

  return ops;
}
