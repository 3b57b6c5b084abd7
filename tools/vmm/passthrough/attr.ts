// SETATTR: mode, owner, size, times (a value, or the host's now), through
// the request's open file when it names one, else through an O_PATH fd of
// the inode checked to be it (/proc/self/fd/<fd> then reaches that inode
// and nothing else, as virtiofsd's lo_setattr does), never by a name that
// could have been swapped for a symlink.

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core';
import * as K from '../../../fs/fuse';
import { AttrOut, SetattrIn } from '../../../fs/fuse';
import { hostcalls } from '../../native/hostcalls.node';
import type { FuseContext } from '../fuse';
import { S_IFMT, isLnk, statToAttr } from './host-attrs';
import type { Inode } from './inodes';
import { PassthroughState } from './state';

const O_PATH = 0o10000000;
const { O_NOFOLLOW } = fs.constants;

/** An fd that names inode i itself, and whether it is the caller's to close. */
async function inodeFd(s: PassthroughState, i: Inode, body: SetattrIn): Promise<{ fd: number; own: boolean }> {
  if (body.valid & K.FATTR_FH) {
    const h = s.fh(body.fh, 'file');
    if (h.inode === i) return { fd: h.fd, own: false };
  }
  if (i === s.inodes.root) return { fd: s.confine.rootFd, own: false };
  const dir = isDirInode(i) ? undefined : await s.parentOf(i);
  let fd: number;
  try {
    const path = dir ? dir.child(i.name) : s.confine.hostPath(i.path);
    fd = await s.host.open(i.dev, path, O_PATH | O_NOFOLLOW);
  } finally {
    dir?.release();
  }
  const st = await s.host.fstat(i.dev, fd);
  if (st.dev !== i.dev || st.ino !== i.ino || (Number(st.mode) & S_IFMT) !== (i.mode & S_IFMT)) {
    await s.host.close(i.dev, fd);
    throw new ErrnoError(Errno.ESTALE, 'entry replaced since lookup');
  }
  return { fd, own: true };
}

function isDirInode(i: Inode): boolean {
  return (i.mode & S_IFMT) === 0o040000;
}

/** atime/mtime as utimensat takes them: a value, UTIME_NOW, or UTIME_OMIT. */
function times(b: SetattrIn, omit: number, now: number): [number, number, number, number] {
  const one = (set: number, isNow: number, sec: bigint, nsec: number): [number, number] =>
    !(b.valid & set) ? [0, omit] : (b.valid & isNow) ? [0, now] : [Number(sec), nsec];
  return [...one(K.FATTR_ATIME, K.FATTR_ATIME_NOW, b.atime, b.atimensec), ...one(K.FATTR_MTIME, K.FATTR_MTIME_NOW, b.mtime, b.mtimensec)] as
    [number, number, number, number];
}

const AT_EMPTY_PATH = 0x1000;
const EMPTY = Buffer.alloc(0);

/** utimensat on the fd itself (AT_EMPTY_PATH: an O_PATH fd, a symlink's
 *  included); `linkPath` for the fallback on a symlink. */
async function setTimes(path: string, fd: number, b: SetattrIn, linkPath: Buffer | undefined): Promise<void> {
  if (hostcalls) {
    const [as, an, ms, mn] = times(b, hostcalls.UTIME_OMIT, hostcalls.UTIME_NOW);
    hostcalls.utimensat(fd, EMPTY, as, an, ms, mn, AT_EMPTY_PATH);
    return;
  }
  // Without the addon: the omitted time is read back first (racy), "now" is the vmm's clock.
  const st = fs.fstatSync(fd, { bigint: true });
  const pick = (set: number, isNow: number, sec: bigint, nsec: number, cur: bigint): Date =>
    !(b.valid & set) ? new Date(Number(cur / 1_000_000n)) : (b.valid & isNow) ? new Date() : new Date(Number(sec) * 1000 + Math.floor(nsec / 1e6));
  const at = pick(K.FATTR_ATIME, K.FATTR_ATIME_NOW, b.atime, b.atimensec, st.atimeNs);
  const mt = pick(K.FATTR_MTIME, K.FATTR_MTIME_NOW, b.mtime, b.mtimensec, st.mtimeNs);
  if (linkPath) fs.lutimesSync(linkPath, at, mt);
  else fs.utimesSync(path, at, mt);
}

/** A symlink's own path (its verified parent's fd and its name), for the
 *  calls that must not follow it; released by the caller. */
async function linkPathOf(s: PassthroughState, i: Inode): Promise<{ path: Buffer; release(): void }> {
  const dir = await s.parentOf(i);
  return { path: dir.child(i.name), release: () => dir.release() };
}

export async function setattr(s: PassthroughState, ctx: FuseContext, body: SetattrIn): Promise<AttrOut> {
  const i = s.inode(ctx.nodeid);
  const { fd, own } = await inodeFd(s, i, body);
  const viaFh = (body.valid & K.FATTR_FH) !== 0 && !own && fd !== s.confine.rootFd;
  const path = `/proc/self/fd/${fd}`;
  const link = isLnk(i.mode);
  try {
    const v = body.valid;
    if (v & K.FATTR_MODE) {
      if (link) throw new ErrnoError(Errno.EOPNOTSUPP, 'the mode of a symlink');
      if (viaFh) fs.fchmodSync(fd, body.mode & 0o7777);
      else fs.chmodSync(path, body.mode & 0o7777);
    }
    if (v & (K.FATTR_UID | K.FATTR_GID)) {
      const uid = v & K.FATTR_UID ? body.uid : -1;
      const gid = v & K.FATTR_GID ? body.gid : -1;
      if (viaFh) fs.fchownSync(fd, uid, gid);
      else if (!link) fs.chownSync(path, uid, gid); // the /proc link of an O_PATH fd is the inode itself
      else {
        const l = await linkPathOf(s, i);
        try { fs.lchownSync(l.path, uid, gid); } finally { l.release(); }
      }
    }
    if (v & K.FATTR_SIZE) {
      if (body.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError(Errno.EFBIG);
      if ((i.mode & S_IFMT) !== 0o100000) throw new ErrnoError(isDirInode(i) ? Errno.EISDIR : Errno.EINVAL, 'truncate of a non-regular file');
      if (viaFh) fs.ftruncateSync(fd, Number(body.size));
      else fs.truncateSync(path, Number(body.size));
    }
    if (v & (K.FATTR_ATIME | K.FATTR_MTIME)) {
      const l = link && !hostcalls ? await linkPathOf(s, i) : undefined;
      try { await setTimes(path, fd, body, l?.path); } finally { l?.release(); }
    }
    const st: BigIntStats = await s.host.fstat(i.dev, fd);
    return { attr_valid: s.timeout, attr_valid_nsec: 0, attr: statToAttr(st, 0) };
  } finally {
    if (own) await s.host.close(i.dev, fd);
  }
}
