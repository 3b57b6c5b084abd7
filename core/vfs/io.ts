// The data calls on open files: read, pread, readv-style reads into the
// caller's buffer, write, pwrite, writev, lseek (SEEK_DATA/SEEK_HOLE too),
// fsync and fdatasync, fallocate, copy_file_range. Offsets are checked
// here; the filesystem sees only counts and offsets it can serve.

import { Errno, ErrnoError } from '../errno';
import { O_ACCMODE, O_APPEND, O_RDONLY, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET } from './fcntl';
import type { File } from './file';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, type OpContext } from './fs';
import { isRoot } from './cred';
import { S_IFREG, S_ISGID, S_ISUID } from './stat';
import { VfsState, checkCount, err, getattr, writeVnop } from './state';

const EMPTY = new Uint8Array(0);
/** An offset + count past this is EFBIG/EINVAL: offsets are safe integers. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

async function fsRead(f: File, ctx: OpContext, offset: number, len: number): Promise<Uint8Array> {
  if (len === 0) return EMPTY;
  const data = await f.vp.mount.fs.vnops.read(f.vp, f.fh, offset, len, ctx);
  if (!(data instanceof Uint8Array) || data.length > len) throw err(Errno.EIO, 'read: bad reply from filesystem');
  return data;
}

/** Into dst at offset: the vnop readInto when the filesystem has it, else read and copy. */
function fsReadInto(f: File, ctx: OpContext, offset: number, dst: Uint8Array): Promise<number> {
  const len = dst.length;
  if (len === 0) return Promise.resolve(0);
  const vnops = f.vp.mount.fs.vnops;
  if (vnops.readInto === undefined) {
    return fsRead(f, ctx, offset, len).then((data) => {
      dst.set(data);
      return data.length;
    });
  }
  return vnops.readInto(f.vp, f.fh, offset, dst, ctx).then((n) => {
    if (!Number.isSafeInteger(n) || n < 0 || n > len) throw err(Errno.EIO, 'read: bad reply from filesystem');
    return n;
  });
}

export async function read(s: VfsState, ctx: OpContext, fd: number, len: number): Promise<Uint8Array> {
  const f = s.readable(fd);
  checkCount(len, 'length');
  return f.serialize(async () => {
    const data = await fsRead(f, ctx, f.offset, len);
    f.offset += data.length;
    return data;
  });
}

export async function pread(s: VfsState, ctx: OpContext, fd: number, len: number, offset: number): Promise<Uint8Array> {
  const f = s.readable(fd);
  checkCount(len, 'length');
  checkCount(offset, 'offset');
  return fsRead(f, ctx, offset, len);
}

/** Not async: a DAX hit resolves with no promise but the returned one. */
export function preadInto(s: VfsState, ctx: OpContext, fd: number, dst: Uint8Array, offset: number): Promise<number> {
  let f: File;
  try {
    f = s.readable(fd);
    if (!(dst instanceof Uint8Array)) throw err(Errno.EFAULT);
    checkCount(offset, 'offset');
  } catch (e) {
    return Promise.reject(e);
  }
  return fsReadInto(f, ctx, offset, dst);
}

export async function readInto(s: VfsState, ctx: OpContext, fd: number, dst: Uint8Array): Promise<number> {
  const f = s.readable(fd);
  if (!(dst instanceof Uint8Array)) throw err(Errno.EFAULT);
  return f.serialize(async () => {
    const n = await fsReadInto(f, ctx, f.offset, dst);
    f.offset += n;
    return n;
  });
}

/** file_remove_privs: a write by a caller without CAP_FSETID (not root)
 *  clears set-uid, and set-gid with group execute, first. */
async function removePrivs(f: File, ctx: OpContext): Promise<void> {
  if (isRoot(ctx.cred)) return;
  const st = await getattr(f.vp, ctx);
  let kill = st.mode & S_ISUID;
  if ((st.mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010)) kill |= S_ISGID;
  if (kill === 0) return;
  const setattr = writeVnop(f.vp.mount, 'setattr');
  await setattr(f.vp, { mode: st.mode & 0o7777 & ~kill }, f.fh, ctx);
}

/** One write at offset (-1: at the end, O_APPEND); the bytes written. */
async function fsWrite(f: File, ctx: OpContext, offset: number, data: Uint8Array): Promise<number> {
  if (!(data instanceof Uint8Array)) throw err(Errno.EFAULT);
  const write = writeVnop(f.vp.mount, 'write');
  if (data.length === 0) return 0;
  if (offset >= 0 && offset + data.length > MAX_OFFSET) throw err(Errno.EFBIG);
  await removePrivs(f, ctx);
  const n = await write(f.vp, f.fh, offset, data, ctx);
  if (!Number.isSafeInteger(n) || n < 0 || n > data.length) throw err(Errno.EIO, 'write: bad reply from filesystem');
  return n;
}

/** Where an O_APPEND write left the file: its size now. */
async function endOf(f: File, ctx: OpContext): Promise<number> {
  return (await getattr(f.vp, ctx)).size;
}

/** Writes at the file offset (the end with O_APPEND); the offset advances. */
export async function write(s: VfsState, ctx: OpContext, fd: number, data: Uint8Array): Promise<number> {
  const f = s.writable(fd);
  return f.serialize(async () => {
    if (f.flags & O_APPEND) {
      const n = await fsWrite(f, ctx, -1, data);
      f.offset = await endOf(f, ctx);
      return n;
    }
    const n = await fsWrite(f, ctx, f.offset, data);
    f.offset += n;
    return n;
  });
}

/** As Linux: on an O_APPEND file pwrite appends, whatever the offset. */
export async function pwrite(s: VfsState, ctx: OpContext, fd: number, data: Uint8Array, offset: number): Promise<number> {
  const f = s.writable(fd);
  checkCount(offset, 'offset');
  return fsWrite(f, ctx, (f.flags & O_APPEND) ? -1 : offset, data);
}

/** The buffers in order, as one write (one offset update). */
export async function writev(s: VfsState, ctx: OpContext, fd: number, bufs: readonly Uint8Array[]): Promise<number> {
  if (!Array.isArray(bufs) || bufs.some((b) => !(b instanceof Uint8Array))) return Promise.reject(err(Errno.EFAULT));
  let total = 0;
  for (const b of bufs) total += b.length;
  const all = bufs.length === 1 ? bufs[0]! : new Uint8Array(total);
  if (bufs.length !== 1) {
    let at = 0;
    for (const b of bufs) { all.set(b, at); at += b.length; }
  }
  return write(s, ctx, fd, all);
}

/** The new offset. Directories take only (0, SEEK_SET), which rewinds them. */
export async function lseek(s: VfsState, ctx: OpContext, fd: number, offset: number, whence: number): Promise<number> {
  const f = s.live(fd);
  if (!Number.isSafeInteger(offset)) throw err(Errno.EINVAL, `bad offset ${offset}`);
  if (f.isDir) {
    if (whence !== SEEK_SET || offset !== 0) throw err(Errno.EINVAL, 'directories rewind only');
    return f.serialize(async () => { f.cookie = 0n; f.eof = false; return 0; });
  }
  return f.serialize(async () => {
    let pos: number;
    if (whence === SEEK_SET) pos = offset;
    else if (whence === SEEK_CUR) pos = f.offset + offset;
    else if (whence === SEEK_END) pos = (await getattr(f.vp, ctx)).size + offset;
    else if (whence === SEEK_DATA || whence === SEEK_HOLE) pos = await seekDataHole(f, ctx, offset, whence);
    else throw err(Errno.EINVAL, `bad whence ${whence}`);
    if (pos < 0) throw err(Errno.EINVAL, 'negative offset');
    if (!Number.isSafeInteger(pos)) throw err(Errno.EOVERFLOW);
    f.offset = pos;
    return pos;
  });
}

/** FUSE_LSEEK when the filesystem has it; else Linux's generic answer:
 *  all data up to the size, one hole after it. ENXIO at or past the end. */
async function seekDataHole(f: File, ctx: OpContext, offset: number, whence: number): Promise<number> {
  if (offset < 0) throw err(Errno.ENXIO);
  const vnops = f.vp.mount.fs.vnops;
  if (vnops.lseek) {
    const pos = await vnops.lseek(f.vp, f.fh, offset, whence, ctx);
    if (!Number.isSafeInteger(pos) || pos < 0) throw err(Errno.EIO, 'lseek: bad reply from filesystem');
    return pos;
  }
  const size = (await getattr(f.vp, ctx)).size;
  if (offset >= size) throw err(Errno.ENXIO);
  return whence === SEEK_DATA ? offset : size;
}

/** fsync and fdatasync; fsyncdir for a directory. Absent vnops: nothing to flush. */
export async function fsync(s: VfsState, ctx: OpContext, fd: number, datasync: boolean): Promise<void> {
  const f = s.live(fd);
  const vnops = f.vp.mount.fs.vnops;
  if (f.isDir) { if (vnops.fsyncdir) await vnops.fsyncdir(f.vp, f.fh, datasync, ctx); }
  else if (vnops.fsync) await vnops.fsync(f.vp, f.fh, datasync, ctx);
}

/** fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, or PUNCH_HOLE|KEEP_SIZE. */
export async function fallocate(s: VfsState, ctx: OpContext, fd: number, mode: number, offset: number, len: number): Promise<void> {
  // vfs_fallocate's order: arguments, mode, access, then the kind of file.
  const f = s.live(fd);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len <= 0) throw err(Errno.EINVAL);
  if (!Number.isInteger(mode) || (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) throw err(Errno.EOPNOTSUPP);
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) throw err(Errno.EOPNOTSUPP, 'PUNCH_HOLE needs KEEP_SIZE');
  if ((f.flags & O_ACCMODE) === O_RDONLY) throw err(Errno.EBADF, 'not open for writing');
  if (f.isDir) throw err(Errno.EISDIR);
  if (f.vp.type !== S_IFREG) throw err(Errno.ENODEV);
  if (offset + len > MAX_OFFSET) throw err(Errno.EFBIG);
  const fallocate = writeVnop(f.vp.mount, 'fallocate');
  await fallocate(f.vp, f.fh, mode, offset, len, ctx);
}

/** copy_file_range(2) with explicit offsets (null: the file offset, which
 *  advances). Inside one filesystem when it can; else read and write here. */
export async function copyFileRange(s: VfsState, ctx: OpContext, fdIn: number, offIn: number | null,
  fdOut: number, offOut: number | null, len: number): Promise<number> {
  const fi = s.readable(fdIn);
  const fo = s.writable(fdOut);
  checkCount(len, 'length');
  if (fo.flags & O_APPEND) throw err(Errno.EBADF, 'copy_file_range to an O_APPEND file');
  if (fi.vp.type !== S_IFREG || fo.vp.type !== S_IFREG) throw err(Errno.EINVAL, 'not regular files');
  const inAt = offIn ?? fi.offset;
  const outAt = offOut ?? fo.offset;
  checkCount(inAt, 'offset');
  checkCount(outAt, 'offset');
  if (inAt + len > MAX_OFFSET || outAt + len > MAX_OFFSET) throw err(Errno.EOVERFLOW);
  if (fi.vp === fo.vp && inAt < outAt + len && outAt < inAt + len) throw err(Errno.EINVAL, 'overlapping ranges in one file');
  if (len === 0) return 0;
  let n = -1;
  const vnops = fo.vp.mount.fs.vnops;
  if (fi.vp.mount === fo.vp.mount && vnops.copyFileRange && !fo.vp.mount.readonly) {
    try {
      n = await vnops.copyFileRange(fi.vp, fi.fh, inAt, fo.vp, fo.fh, outAt, len, ctx);
    } catch (e) {
      // As Linux's generic fallback: a filesystem that cannot copy leaves it to splice.
      if (!(e instanceof ErrnoError) || (e.errno !== Errno.ENOSYS && e.errno !== Errno.EOPNOTSUPP && e.errno !== Errno.EXDEV)) throw e;
    }
    if (n !== -1 && (!Number.isSafeInteger(n) || n < 0 || n > len)) throw err(Errno.EIO, 'copy_file_range: bad reply');
  }
  if (n === -1) n = await copyByHand(fi, fo, ctx, inAt, outAt, len);
  if (offIn === null) fi.offset = inAt + n;
  if (offOut === null) fo.offset = outAt + n;
  return n;
}

const COPY_CHUNK = 1 << 20;

async function copyByHand(fi: File, fo: File, ctx: OpContext, inAt: number, outAt: number, len: number): Promise<number> {
  let done = 0;
  while (done < len) {
    const data = await fsRead(fi, ctx, inAt + done, Math.min(COPY_CHUNK, len - done));
    if (data.length === 0) break;
    const n = await fsWrite(fo, ctx, outAt + done, data);
    done += n;
    if (n < data.length) break;
  }
  return done;
}

