// The attribute calls: stat, lstat, fstat, readlink, statfs, access, chmod,
// chown, truncate, utimensat and their fd forms, with setattr_prepare's
// rules (owner or root, the groups a caller may give a file, explicit times
// for owners only, set-id bits dropped on chown as Linux's notify_change).

import { Errno } from '../errno';
import { MAY_EXEC, MAY_READ, MAY_WRITE, checkAccess, checkChown, checkUtimes, chmodMode, isRoot } from './cred';
import { F_OK, O_ACCMODE, O_RDONLY, R_OK, W_OK, X_OK } from './fcntl';
import type { File } from './file';
import type { FsHandle, OpContext } from './fs';
import { PathLike, nameString, namei } from './namei';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_ISGID, S_ISUID, SetAttr, Stat, StatFs, TimeSet, Timespec } from './stat';
import { VfsState, checkCount, checkWritableMount, err, getattr, writeVnop } from './state';
import { vrele, Vnode } from './vnode';

/** A time for utimens: a value, now (UTIME_NOW), or unchanged (UTIME_OMIT). */
export type TimeArg = Timespec | 'now' | 'omit';

export async function withVnode<T>(s: VfsState, ctx: OpContext, path: PathLike, follow: boolean,
  fn: (vp: Vnode) => Promise<T>): Promise<T> {
  const vp = await namei(s.root(), path, follow, ctx);
  try {
    return await fn(vp);
  } finally {
    vrele(vp);
  }
}

export async function readlink(s: VfsState, ctx: OpContext, path: PathLike): Promise<Uint8Array> {
  return withVnode(s, ctx, path, false, async (vp) => {
    if (vp.type !== S_IFLNK) throw err(Errno.EINVAL, 'not a symlink');
    const target = await vp.mount.fs.vnops.readlink(vp, ctx);
    if (!(target instanceof Uint8Array)) throw err(Errno.EIO, 'readlink: bad reply');
    return target;
  });
}

export function readlinkString(s: VfsState, ctx: OpContext, path: PathLike): Promise<string> {
  return readlink(s, ctx, path).then(nameString);
}

export function statfs(ctx: OpContext, vp: Vnode): Promise<StatFs> {
  return vp.mount.fs.statfs(ctx);
}

/** access(2) with the caller's ids: F_OK, or R_OK | W_OK | X_OK. */
export async function access(s: VfsState, ctx: OpContext, path: PathLike, mode: number): Promise<void> {
  if (!Number.isInteger(mode) || (mode & ~(R_OK | W_OK | X_OK)) !== 0) throw err(Errno.EINVAL, 'bad mode');
  await withVnode(s, ctx, path, true, async (vp) => {
    if (mode === F_OK) return;
    const st = await getattr(vp, ctx);
    const t = st.mode & S_IFMT;
    if ((mode & W_OK) && vp.mount.readonly && (t === S_IFREG || t === S_IFDIR || t === S_IFLNK)) throw err(Errno.EROFS);
    checkAccess(ctx.cred, st, (mode & R_OK ? MAY_READ : 0) | (mode & W_OK ? MAY_WRITE : 0) | (mode & X_OK ? MAY_EXEC : 0));
  });
}

async function setattr(vp: Vnode, ctx: OpContext, attr: SetAttr, fh?: FsHandle): Promise<Stat> {
  const setattr = writeVnop(vp.mount, 'setattr');
  return setattr(vp, attr, fh, ctx);
}

async function doChmod(vp: Vnode, ctx: OpContext, mode: number, fh?: FsHandle): Promise<void> {
  if (!Number.isInteger(mode) || mode < 0) throw err(Errno.EINVAL, 'bad mode');
  checkWritableMount(vp.mount);
  const st = await getattr(vp, ctx);
  await setattr(vp, ctx, { mode: chmodMode(ctx.cred, st, mode) }, fh);
}

/** chown: -1 leaves an id. Set-uid, and set-gid with group execute, go from
 *  a non-directory (Linux's ATTR_KILL_SUID/SGID, sent as a mode change). */
async function doChown(vp: Vnode, ctx: OpContext, uid: number, gid: number, fh?: FsHandle): Promise<void> {
  const id = (v: number) => {
    if (v === -1) return undefined;
    if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) throw err(Errno.EINVAL, `bad id ${v}`);
    return v;
  };
  const u = id(uid);
  const g = id(gid);
  checkWritableMount(vp.mount);
  const st = await getattr(vp, ctx);
  checkChown(ctx.cred, st, u, g);
  if (u === undefined && g === undefined) return;
  const attr: SetAttr = {};
  if (u !== undefined) attr.uid = u;
  if (g !== undefined) attr.gid = g;
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    let kill = st.mode & S_ISUID;
    if ((st.mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010)) kill |= S_ISGID;
    if (kill) attr.mode = st.mode & 0o7777 & ~kill;
  }
  await setattr(vp, ctx, attr, fh);
}

/** do_truncate: a caller without CAP_FSETID (not root) also clears set-uid,
 *  and set-gid with group execute, in the same change (ATTR_KILL_SUID). */
async function doTruncate(vp: Vnode, ctx: OpContext, length: number, fh?: FsHandle): Promise<void> {
  let kill = 0;
  let mode = 0;
  if (!isRoot(ctx.cred)) {
    mode = (await getattr(vp, ctx)).mode;
    kill = mode & S_ISUID;
    if ((mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010)) kill |= S_ISGID;
  }
  await setattr(vp, ctx, kill ? { size: length, mode: mode & 0o7777 & ~kill } : { size: length }, fh);
}

function checkTime(t: TimeArg, what: string): TimeSet | undefined {
  if (t === 'omit') return undefined;
  if (t === 'now') return 'now';
  if (t === null || typeof t !== 'object' || !Number.isSafeInteger(t.sec) || !Number.isInteger(t.nsec) || t.nsec < 0 || t.nsec > 999_999_999) {
    throw err(Errno.EINVAL, `bad ${what}`);
  }
  return { sec: t.sec, nsec: t.nsec };
}

async function doUtimens(vp: Vnode, ctx: OpContext, atime: TimeArg, mtime: TimeArg, fh?: FsHandle): Promise<void> {
  const a = checkTime(atime, 'atime');
  const m = checkTime(mtime, 'mtime');
  if (a === undefined && m === undefined) return; // both UTIME_OMIT: nothing, no checks (Linux)
  checkWritableMount(vp.mount);
  const explicit = (a !== undefined && a !== 'now') || (m !== undefined && m !== 'now');
  // Linux: UTIME_NOW with the other UTIME_OMIT is also owner-or-writer.
  checkUtimes(ctx.cred, await getattr(vp, ctx), explicit);
  const attr: SetAttr = {};
  if (a !== undefined) attr.atime = a;
  if (m !== undefined) attr.mtime = m;
  await setattr(vp, ctx, attr, fh);
}

// ---- by path ----

export function chmod(s: VfsState, ctx: OpContext, path: PathLike, mode: number): Promise<void> {
  return withVnode(s, ctx, path, true, (vp) => doChmod(vp, ctx, mode));
}

export function chown(s: VfsState, ctx: OpContext, path: PathLike, uid: number, gid: number, follow: boolean): Promise<void> {
  return withVnode(s, ctx, path, follow, (vp) => doChown(vp, ctx, uid, gid));
}

/** truncate(2): EISDIR for a directory, EINVAL for other non-regular files,
 *  EACCES without write permission. */
export async function truncate(s: VfsState, ctx: OpContext, path: PathLike, length: number): Promise<void> {
  checkCount(length, 'length');
  return withVnode(s, ctx, path, true, async (vp) => {
    if (vp.type === S_IFDIR) throw err(Errno.EISDIR);
    if (vp.type !== S_IFREG) throw err(Errno.EINVAL);
    checkWritableMount(vp.mount);
    checkAccess(ctx.cred, await getattr(vp, ctx), MAY_WRITE);
    await doTruncate(vp, ctx, length);
  });
}

export function utimens(s: VfsState, ctx: OpContext, path: PathLike, atime: TimeArg, mtime: TimeArg, follow: boolean): Promise<void> {
  return withVnode(s, ctx, path, follow, (vp) => doUtimens(vp, ctx, atime, mtime));
}

// ---- by descriptor ----

export function fchmod(f: File, ctx: OpContext, mode: number): Promise<void> {
  return doChmod(f.vp, ctx, mode, f.isDir ? undefined : f.fh);
}

export function fchown(f: File, ctx: OpContext, uid: number, gid: number): Promise<void> {
  return doChown(f.vp, ctx, uid, gid, f.isDir ? undefined : f.fh);
}

/** ftruncate(2): EINVAL unless a regular file open for writing (Linux). */
export async function ftruncate(f: File, ctx: OpContext, length: number): Promise<void> {
  if (f.isDir || f.vp.type !== S_IFREG || (f.flags & O_ACCMODE) === O_RDONLY) throw err(Errno.EINVAL);
  checkCount(length, 'length');
  await doTruncate(f.vp, ctx, length, f.fh);
}

/** futimens: an fd open for writing counts as write access (Linux). */
export async function futimens(f: File, ctx: OpContext, atime: TimeArg, mtime: TimeArg): Promise<void> {
  const a = checkTime(atime, 'atime');
  const m = checkTime(mtime, 'mtime');
  const nowOnly = (a === undefined || a === 'now') && (m === undefined || m === 'now');
  if (nowOnly && (f.flags & O_ACCMODE) !== O_RDONLY && (a !== undefined || m !== undefined)) {
    checkWritableMount(f.vp.mount);
    const attr: SetAttr = {};
    if (a !== undefined) attr.atime = a;
    if (m !== undefined) attr.mtime = m;
    await setattr(f.vp, ctx, attr, f.isDir ? undefined : f.fh);
    return;
  }
  await doUtimens(f.vp, ctx, atime, mtime, f.isDir ? undefined : f.fh);
}

