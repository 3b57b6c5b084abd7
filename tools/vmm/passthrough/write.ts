// Writing open files: WRITE (pwritev of the request's own buffers, on the
// event loop while the file is fast, in the thread pool once it was not, as
// READ), FALLOCATE, LSEEK (SEEK_DATA/SEEK_HOLE), COPY_FILE_RANGE, FSYNCDIR.
// The last three and fallocate's hole punching need the host-calls addon;
// without it they answer ENOSYS (the client then does without) and
// fallocate runs util-linux's fallocate(1).

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { Errno, ErrnoError } from '../../../core';
import { CopyFileRangeIn, FallocateIn, FsyncIn, LseekIn, LseekOut, WriteOut } from '../../../fs/fuse';
import * as K from '../../../fs/fuse';
import { hostcalls } from '../../native/hostcalls.node';
import type { WriteArgs, WriteSource } from '../fuse';
import { PassthroughState } from './state';

const writevAsync = promisify(fs.writev);
const fsyncAsync = promisify(fs.fsync);
const fdatasyncAsync = promisify(fs.fdatasync);
const execFileAsync = promisify(execFile);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** WRITEs up to this size are written with a blocking pwritev. */
const SYNC_WRITE_MAX = 128 * 1024;

function offsetOf(v: bigint): number {
  if (v > MAX_SAFE) throw new ErrnoError(Errno.EFBIG, 'offset beyond 2^53');
  return Number(v);
}

/** Bytes written: all of them, or fewer when the host stopped (ENOSPC after some). */
export async function write(s: PassthroughState, body: WriteArgs, data: WriteSource): Promise<WriteOut> {
  const h = s.fh(body.fh, 'file');
  if (!h.writable) throw new ErrnoError(Errno.EBADF, 'WRITE on a file not opened for writing');
  const pos = offsetOf(body.offset);
  if (pos + data.length > Number.MAX_SAFE_INTEGER) throw new ErrnoError(Errno.EFBIG);
  let bufs = data.slices();
  let done = 0;
  const total = data.length;
  while (done < total) {
    let n: number;
    try {
      if (total <= SYNC_WRITE_MAX && s.readGuard.fast(h)) {
        const t0 = s.readGuard.start();
        try { n = fs.writevSync(h.fd, bufs, pos + done); } finally { s.readGuard.done(h, t0); }
      } else {
        const at = pos + done;
        const b = bufs;
        n = (await s.readGuard.runAsync(h, () => writevAsync(h.fd, b, at))).bytesWritten;
      }
    } catch (e) {
      if (done > 0) break; // what was written is reported; the error comes with the next write
      throw e;
    }
    if (n === 0) break;
    done += n;
    bufs = skip(bufs, n);
  }
  return { size: done };
}

/** The buffers after the first n bytes. */
function skip(bufs: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (n >= b.length) { n -= b.length; continue; }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}

export async function fallocate(s: PassthroughState, body: FallocateIn): Promise<null> {
  const h = s.fh(body.fh, 'file');
  if (!h.writable) throw new ErrnoError(Errno.EBADF, 'FALLOCATE on a file not opened for writing');
  const off = offsetOf(body.offset);
  const len = offsetOf(body.length);
  if (hostcalls) {
    hostcalls.fallocate(h.fd, body.mode, off, len);
    return null;
  }
  // util-linux's fallocate(1) on the fd through /proc: -n KEEP_SIZE, -p PUNCH_HOLE.
  const args = ['-o', String(off), '-l', String(len)];
  if (body.mode & 1) args.push('-n');
  if (body.mode & 2) args.push('-p');
  if (body.mode & ~3) throw new ErrnoError(Errno.EOPNOTSUPP, 'fallocate mode');
  try {
    await execFileAsync('/usr/bin/fallocate', [...args, `/proc/${process.pid}/fd/${h.fd}`], { timeout: 30000 });
  } catch (e) {
    const text = String((e as { stderr?: unknown }).stderr ?? e);
    if (/No space/i.test(text)) throw new ErrnoError(Errno.ENOSPC);
    if (/not supported/i.test(text)) throw new ErrnoError(Errno.EOPNOTSUPP);
    throw new ErrnoError(Errno.EIO, `fallocate: ${text.trim()}`);
  }
  return null;
}

export function lseek(s: PassthroughState, body: LseekIn): LseekOut {
  const h = s.fh(body.fh, 'file');
  if (body.whence !== 3 && body.whence !== 4) throw new ErrnoError(Errno.EINVAL, 'LSEEK is for SEEK_DATA and SEEK_HOLE');
  if (!hostcalls) throw new ErrnoError(Errno.ENOSYS, 'LSEEK needs tools/native (not built)');
  return { offset: hostcalls.lseek(h.fd, offsetOf(body.offset), body.whence) };
}

export function copyFileRange(s: PassthroughState, body: CopyFileRangeIn): WriteOut {
  const src = s.fh(body.fh_in, 'file');
  const dst = s.fh(body.fh_out, 'file');
  if (dst.inode.nodeid !== body.nodeid_out) throw new ErrnoError(Errno.EINVAL, 'fh_out is not nodeid_out\'s');
  if (!dst.writable) throw new ErrnoError(Errno.EBADF, 'COPY_FILE_RANGE into a file not opened for writing');
  if (body.flags !== 0n) throw new ErrnoError(Errno.EINVAL, 'COPY_FILE_RANGE flags');
  if (!hostcalls) throw new ErrnoError(Errno.ENOSYS, 'COPY_FILE_RANGE needs tools/native (not built)');
  // A reply's size is 32 bits (fuse_write_out): ask for at most that.
  const len = Math.min(offsetOf(body.len), 0xffffffff & ~0xfff);
  return { size: hostcalls.copyFileRange(src.fd, offsetOf(body.off_in), dst.fd, offsetOf(body.off_out), len) };
}

export async function fsyncdir(s: PassthroughState, body: FsyncIn): Promise<null> {
  const h = s.fh(body.fh, 'dir');
  if (body.fsync_flags & K.FUSE_FSYNC_FDATASYNC) await fdatasyncAsync(h.dir.fd);
  else await fsyncAsync(h.dir.fd);
  return null;
}
