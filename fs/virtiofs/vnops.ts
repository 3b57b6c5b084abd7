// vnops of virtiofs (OSv's virtiofs_vnops.cc): lookup, getattr, open/release,
// read (DAX first, FUSE_READ for the rest), opendir/readdir/releasedir,
// readlink, inactive. Read-only, as OSv's.

import { Errno, ErrnoError } from '../../core/errno';
import {
  FsDirEntry, FsEntry, FsHandle, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, S_IFLNK, Stat, Vnode, Vnops,
} from '../../core/vfs';
import {
  FUSE_GETATTR, FUSE_GETATTR_FH, FUSE_LOOKUP, FUSE_OPEN, FUSE_OPENDIR, FUSE_READ,
  FUSE_READDIR, FUSE_READDIRPLUS, FUSE_READLINK, FUSE_RELEASE, FUSE_RELEASEDIR, FUSE_ROOT_ID, ForgetOne,
  nameToString,
} from '../fuse';

/** "." or ".." as bytes. */
function isDotOrDotdot(n: Uint8Array): boolean {
  return (n.length === 1 && n[0] === 0x2e) || (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e);
}
import { VirtiofsInode, attrToStat, checkAttr, expiry, typeOf } from './inode';
import { readReplyCapacity } from './session';
import type { VirtiofsMount } from './vfsops';

/** One READDIR(PLUS) reply buffer. */
export const READDIR_BUFFER = 64 * 1024;

/** The fh of an open file or directory, and the flags FUSE_OPEN had (RELEASE repeats them). */
export interface VirtiofsHandle {
  readonly fh: bigint;
  readonly flags: number;
}

export class VirtiofsVnops implements Vnops {
  constructor(private readonly fs: VirtiofsMount) {}

  private get session() { return this.fs.conn.session; }

  private inode(vp: Vnode): VirtiofsInode {
    const ip = vp.data as VirtiofsInode | undefined;
    if (!ip || ip.nodeid !== vp.ino) throw new ErrnoError(Errno.EIO, `virtiofs: vnode ${vp.ino} has no inode`);
    return ip;
  }

  async lookup(dir: Vnode, name: Uint8Array): Promise<FsEntry> {
    const parent = this.inode(dir);
    const out = await this.session.call(FUSE_LOOKUP, parent.nodeid, { name });
    // nodeid 0: a negative entry, "same as ENOENT" (Linux).
    if (out.nodeid === 0n) throw new ErrnoError(Errno.ENOENT, nameToString(name));
    const ip = this.fs.instantiate(out);
    return { ino: ip.nodeid, mode: ip.attr.mode, data: ip };
  }

  async getattr(vp: Vnode): Promise<Stat> {
    const ip = this.inode(vp);
    if (Date.now() < ip.attrExpires) return attrToStat(ip.attr);
    return attrToStat(await this.refresh(ip));
  }

  /** FUSE_GETATTR: the server's attributes now, not the LOOKUP copy. */
  private async refresh(ip: VirtiofsInode, fh?: bigint) {
    const out = await this.session.call(FUSE_GETATTR, ip.nodeid,
      { getattr_flags: fh === undefined ? 0 : FUSE_GETATTR_FH, fh: fh ?? 0n });
    checkAttr(out.attr);
    if (typeOf(out.attr.mode) !== ip.type) {
      throw new ErrnoError(Errno.EIO, `virtiofs: nodeid ${ip.nodeid} changed type`);
    }
    ip.attr = out.attr;
    ip.size = Number(out.attr.size);
    ip.attrExpires = expiry(out.attr_valid, out.attr_valid_nsec);
    return out.attr;
  }

  async open(vp: Vnode, flags: number): Promise<FsHandle> {
    const ip = this.inode(vp);
    const oflags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
    const out = await this.session.call(FUSE_OPEN, ip.nodeid, { flags: oflags, open_flags: 0 });
    const h: VirtiofsHandle = { fh: out.fh, flags: oflags };
    try {
      // Reads are clamped to the size: take it fresh at open.
      await this.refresh(ip, out.fh);
    } catch (e) {
      await this.release(vp, h).catch(() => {});
      throw e;
    }
    return h;
  }

  async release(vp: Vnode, fh: FsHandle): Promise<void> {
    const h = fh as VirtiofsHandle;
    await this.session.call(FUSE_RELEASE, this.inode(vp).nodeid, { fh: h.fh, flags: h.flags, release_flags: 0, lock_owner: 0n });
  }

  async read(vp: Vnode, fh: FsHandle, offset: number, len: number): Promise<Uint8Array> {
    const ip = this.inode(vp);
    const h = fh as VirtiofsHandle;
    const want = Math.min(len, ip.size - offset);
    if (!(want > 0)) return new Uint8Array(0);
    const dax = this.fs.conn.dax;
    if (dax && this.fs.daxFor(ip)) {
      const buf = new Uint8Array(want);
      let done = dax.readHit(ip, offset, buf);
      if (done !== want) done = await this.daxRead(ip, h, offset, buf);
      if (done === want) return buf;
      return this.fuseRead(ip, h, offset, buf, done);
    }
    // One piece covering the whole read: hand out the reply's bytes, no copy.
    if (want <= this.fs.conn.info.maxRead) {
      const data = await this.fuseReadPiece(ip, h, offset, want);
      dax?.noteFuseRead(data.length);
      return data;
    }
    return this.fuseRead(ip, h, offset, new Uint8Array(want), 0);
  }

  /** read() into the caller's buffer: at most dst.length bytes at offset into
   *  dst from its start; fewer only at end of file. A DAX hit is copied
   *  synchronously, with no promise but the returned one. */
  async readInto(vp: Vnode, fh: FsHandle, offset: number, dst: Uint8Array): Promise<number> {
    const ip = this.inode(vp);
    const h = fh as VirtiofsHandle;
    const want = Math.min(dst.length, ip.size - offset);
    if (!(want > 0)) return 0;
    const buf = want === dst.length ? dst : dst.subarray(0, want);
    let done = 0;
    const dax = this.fs.conn.dax;
    if (dax && this.fs.daxFor(ip)) {
      done = dax.readHit(ip, offset, buf);
      if (done === want) return want;
      done = await this.daxRead(ip, h, offset, buf);
      if (done === want) return want;
    }
    const got = await this.fuseRead(ip, h, offset, buf, done);
    return got.length;
  }

  /** Through the window, mapping what is missing: bytes read into buf from
   *  its start (fewer: the rest needs FUSE_READ). */
  private async daxRead(ip: VirtiofsInode, h: VirtiofsHandle, offset: number, buf: Uint8Array): Promise<number> {
    const dax = this.fs.conn.dax!;
    this.fs.conn.noteDax(ip.nodeid);
    const r = await dax.read({ nodeid: ip.nodeid, size: ip.size }, h.fh, buf.length, { offset, dst: buf }, this.fs.aggressive);
    return r.bytes;
  }

  /** FUSE_READ of buf[done..) at offset + done, in pieces the server accepts;
   *  buf up to the bytes read (a short read is end of file). */
  private async fuseRead(ip: VirtiofsInode, h: VirtiofsHandle, offset: number, buf: Uint8Array, done: number): Promise<Uint8Array> {
    const maxRead = this.fs.conn.info.maxRead;
    const want = buf.length;
    const dax = this.fs.conn.dax;
    while (done < want) {
      const n = Math.min(maxRead, want - done);
      const data = await this.fuseReadPiece(ip, h, offset + done, n);
      const got = data.length; // what came, not what was asked (OSv flaw #3)
      dax?.noteFuseRead(got);
      buf.set(data, done);
      done += got;
      if (got < n) break; // a short read is end of file (Linux: fuse_short_read)
    }
    return done === want ? buf : buf.subarray(0, done);
  }

  private async fuseReadPiece(ip: VirtiofsInode, h: VirtiofsHandle, offset: number, size: number): Promise<Uint8Array> {
    const out = await this.session.call(FUSE_READ, ip.nodeid, {
      fh: h.fh, offset: BigInt(offset), size, read_flags: 0, lock_owner: 0n, flags: h.flags,
    }, readReplyCapacity(size));
    return out.data; // the session refused a reply longer than asked
  }

  async opendir(vp: Vnode, flags: number): Promise<FsHandle> {
    const oflags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
    const out = await this.session.call(FUSE_OPENDIR, this.inode(vp).nodeid, { flags: oflags, open_flags: 0 });
    return { fh: out.fh, flags: oflags } satisfies VirtiofsHandle;
  }

  async releasedir(vp: Vnode, fh: FsHandle): Promise<void> {
    const h = fh as VirtiofsHandle;
    await this.session.call(FUSE_RELEASEDIR, this.inode(vp).nodeid, { fh: h.fh, flags: h.flags, release_flags: 0, lock_owner: 0n });
  }

  async readdir(vp: Vnode, fh: FsHandle, cookie: bigint): Promise<FsDirEntry[]> {
    const ip = this.inode(vp);
    const h = fh as VirtiofsHandle;
    const body = { fh: h.fh, offset: cookie, size: READDIR_BUFFER, read_flags: 0, lock_owner: 0n, flags: h.flags };
    const cap = readReplyCapacity(READDIR_BUFFER);
    if (!this.fs.conn.info.readdirplus) {
      const out = await this.session.call(FUSE_READDIR, ip.nodeid, body, cap);
      return out.entries.map((d) => ({ name: d.name, type: d.type, ino: d.ino, nextCookie: d.off }));
    }
    const out = await this.session.call(FUSE_READDIRPLUS, ip.nodeid, body, cap);
    const entries: FsDirEntry[] = new Array(out.entries.length);
    const forgets: ForgetOne[] = [];
    for (let i = 0; i < out.entries.length; i++) {
      const { entry_out: e, dirent: d } = out.entries[i]!;
      const name = d.name;
      entries[i] = { name, type: d.type, ino: d.ino, nextCookie: d.off };
      // Every entry with a nodeid, "." and ".." aside, is a lookup the
      // server counted (libfuse's readdirplus contract, Linux's
      // fuse_direntplus_link). A node this mount holds keeps it until it is
      // dropped; the others are forgotten at once: there is no dcache.
      if (e.nodeid === 0n || isDotOrDotdot(name)) continue;
      this.fs.conn.noteLookup(e.nodeid);
      const held = this.fs.inodes.get(e.nodeid);
      if (held) held.nlookup++;
      else forgets.push({ nodeid: e.nodeid, nlookup: 1n });
    }
    if (forgets.length > 0) {
      // Sent in the background: the listing does not wait for the hiprio queue.
      this.fs.conn.forgetMany(mergeForgets(forgets)).catch((err) => this.fs.log(`virtiofs: FORGET failed: ${String(err)}`));
    }
    return entries;
  }

  async readlink(vp: Vnode): Promise<Uint8Array> {
    const ip = this.inode(vp);
    if (ip.type !== S_IFLNK) throw new ErrnoError(Errno.EINVAL, 'not a symlink');
    const out = await this.session.call(FUSE_READLINK, ip.nodeid, null);
    return out.link;
  }

  inactive(vp: Vnode): void {
    const ip = vp.data as VirtiofsInode | undefined;
    if (!ip || ip.nodeid === FUSE_ROOT_ID) return; // the root is never looked up, never forgotten
    this.fs.scheduleForget(vp.mount, ip);
  }
}

/** One record per nodeid (a listing may name a node twice: hard links). */
function mergeForgets(list: ForgetOne[]): ForgetOne[] {
  const m = new Map<bigint, bigint>();
  for (const f of list) m.set(f.nodeid, (m.get(f.nodeid) ?? 0n) + f.nlookup);
  return [...m].map(([nodeid, nlookup]) => ({ nodeid, nlookup }));
}
