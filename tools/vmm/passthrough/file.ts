// Files: OPEN, READ (straight into the reply's buffers), RELEASE, FLUSH,
// FSYNC. Writes come with a later issue (write.ts).

import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { Errno, ErrnoError } from '../../../core';
import * as K from '../../../fs/fuse';
import { FlushIn, FsyncIn, OpenIn, OpenOut, ReadIn, ReleaseIn } from '../../../fs/fuse';
import type { FuseContext, ReadSink } from '../fuse';
import { isDir, isLnk, isReg } from './host-attrs';
import { PassthroughState } from './state';

const { O_RDONLY, O_APPEND, O_TRUNC, O_SYNC, O_DSYNC, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const O_ACCMODE = 3;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** FUSE_READs up to this size are read with a blocking pread (see read()). */
const SYNC_READ_MAX = 128 * 1024;
const readAsync = promisify(fs.read);
const readvAsync = promisify(fs.readv);
const fsyncAsync = promisify(fs.fsync);
const fdatasyncAsync = promisify(fs.fdatasync);

/** One pread for one buffer (cheaper in Node than a preadv of one), else
 *  one preadv over the reply's descriptors. */
function readInto(fd: number, bufs: Uint8Array[], pos: number): number {
  return bufs.length === 1 ? fs.readSync(fd, bufs[0]!, 0, bufs[0]!.length, pos) : fs.readvSync(fd, bufs, pos);
}

async function readIntoAsync(fd: number, bufs: Uint8Array[], pos: number): Promise<number> {
  if (bufs.length === 1) return (await readAsync(fd, bufs[0]!, 0, bufs[0]!.length, pos)).bytesRead;
  return (await readvAsync(fd, bufs, pos)).bytesRead;
}

/** Opened as asked (a read-only share refused writes before this). */
export async function open(s: PassthroughState, ctx: FuseContext, body: OpenIn): Promise<OpenOut> {
  const i = s.inode(ctx.nodeid);
  if (isDir(i.mode)) throw new ErrnoError(Errno.EISDIR, 'OPEN of a directory');
  if (isLnk(i.mode)) throw new ErrnoError(Errno.ELOOP, 'OPEN of a symlink');
  const flags = body.flags;
  const acc = flags & O_ACCMODE;
  // O_NONBLOCK: a FIFO swapped in must not block a libuv thread; it is
  // refused below anyway. O_NOFOLLOW: never open through a symlink.
  const host = acc | (flags & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)) | O_NOFOLLOW | O_NONBLOCK;
  const dir = await s.parentOf(i);
  let fd: number;
  try {
    fd = await s.host.open(i.dev, dir.child(i.name), host);
  } finally {
    dir.release();
  }
  try {
    const st = await s.host.fstat(i.dev, fd);
    if (st.dev !== i.dev || st.ino !== i.ino || st.birthtimeNs !== i.btime) throw new ErrnoError(Errno.ESTALE, 'file replaced since lookup');
    if (!isReg(Number(st.mode))) throw new ErrnoError(Errno.ENXIO, 'only regular files are opened');
  } catch (e) {
    await s.host.close(i.dev, fd);
    throw e;
  }
  const fh = s.handles.add({ kind: 'file', fd, inode: i, writable: acc !== O_RDONLY });
  return { fh, open_flags: 0, backing_id: 0 };
}

/** body.size is clamped to the reply buffer by the server (= out.room).
 *  Short only at EOF: a short read before it is retried. */
export async function read(s: PassthroughState, body: ReadIn, out: ReadSink): Promise<void> {
  const h = s.fh(body.fh, 'file');
  const size = body.size;
  if (body.offset > MAX_SAFE) return;
  const pos = Number(body.offset);
  if (size <= SYNC_READ_MAX && s.readGuard.fast(h)) {
    // A blocking preadv on the event loop (slow-guard.ts) into the reply's
    // guest memory itself: a file that took long goes to the thread pool.
    const t0 = s.readGuard.start();
    try {
      while (out.length < size) {
        if (out.fill(size - out.length, (bufs) => readInto(h.fd, bufs, pos + out.length)) === 0) break;
      }
    } finally {
      s.readGuard.done(h, t0);
    }
    return;
  }
  while (out.length < size) {
    const at = pos + out.length;
    const got = await out.fillLater(size - out.length,
      (bufs) => s.readGuard.runAsync(h, () => readIntoAsync(h.fd, bufs, at)));
    if (got === 0) break;
  }
}

export async function release(s: PassthroughState, body: ReleaseIn): Promise<null> {
  const h = s.fh(body.fh, 'file');
  s.handles.remove(body.fh);
  await s.closeFh(h);
  return null;
}

export function flush(s: PassthroughState, body: FlushIn): null {
  s.fh(body.fh, 'file'); // nothing is buffered here
  return null;
}

export async function fsync(s: PassthroughState, body: FsyncIn): Promise<null> {
  const h = s.fh(body.fh, 'file');
  if ((body.fsync_flags & K.FUSE_FSYNC_FDATASYNC) !== 0) await fdatasyncAsync(h.fd);
  else await fsyncAsync(h.fd);
  return null;
}
