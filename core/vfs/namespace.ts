// The calls that make and remove names: mkdir, mknod, symlink, link,
// unlink, rmdir, rename and renameat2, with Linux's checks in Linux's order
// (fs/namei.c: filename_create, may_create, may_delete, may_linkat,
// do_renameat2, vfs_rename), so each bad case gets the errno a Linux guest
// would see.

import { Errno, ErrnoError } from '../errno';
import { MAY_EXEC, MAY_READ, MAY_WRITE, checkAccess, checkSticky, isRoot } from './cred';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from './fcntl';
import type { FsEntry, OpContext } from './fs';
import { ParentResult, PathLike, namei, nameiParent, pathBytes, releaseParent } from './namei';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID } from './stat';
import { VfsState, checkWritableMount, err, getattr, writeVnop } from './state';
import { vget, vrele, Vnode } from './vnode';

/** The node `name` in `dir` without crossing a mount on it, or undefined. */
async function lookupHere(dir: Vnode, name: Uint8Array, ctx: OpContext): Promise<Vnode | undefined> {
  let entry: FsEntry;
  try {
    entry = await dir.mount.fs.vnops.lookup(dir, name, ctx);
  } catch (e) {
    if (e instanceof ErrnoError && e.errno === Errno.ENOENT) return undefined;
    throw e;
  }
  return vget(dir.mount, entry);
}

async function withParent<T>(s: VfsState, ctx: OpContext, path: PathLike, rootErrno: number,
  fn: (p: ParentResult) => Promise<T>): Promise<T> {
  const p = await nameiParent(s.root(), path, rootErrno, ctx);
  try {
    return await fn(p);
  } finally {
    releaseParent(p);
  }
}

/** filename_create and may_create: EEXIST for a name that is there (or "."
 *  and ".."), ENOENT for a missing name with a trailing slash (but mkdir),
 *  then EROFS, then EACCES without write and search on the directory. */
async function mayCreate(p: ParentResult, ctx: OpContext, dirOk: boolean): Promise<void> {
  if (p.kind !== 'norm') throw err(Errno.EEXIST);
  let denied: unknown;
  if (p.dir.mount.readonly) denied = err(Errno.EROFS);
  else {
    try { checkAccess(ctx.cred, await getattr(p.dir, ctx), MAY_WRITE | MAY_EXEC); } catch (e) { denied = e; }
  }
  // Whether the name exists decides between EEXIST and the refusal; a
  // caller who may create lets the filesystem say EEXIST (no extra LOOKUP).
  if (denied === undefined && !(p.trailingSlash && !dirOk)) return;
  const there = await lookupHere(p.dir, p.name, ctx);
  if (there) { vrele(there); throw err(Errno.EEXIST); }
  if (p.trailingSlash && !dirOk) throw err(Errno.ENOENT);
  throw denied;
}

function created(dir: Vnode, entry: FsEntry): void {
  vrele(vget(dir.mount, entry));
}

export function mkdir(s: VfsState, ctx: OpContext, path: PathLike, mode: number): Promise<void> {
  return withParent(s, ctx, path, Errno.EEXIST, async (p) => {
    await mayCreate(p, ctx, true);
    const mkdir = writeVnop(p.dir.mount, 'mkdir');
    created(p.dir, await mkdir(p.dir, p.name, mode & 0o1777 & ~ctx.cred.umask, ctx));
  });
}

/** mknod(2): a regular file, FIFO, socket, or (root only) a device node. */
export function mknod(s: VfsState, ctx: OpContext, path: PathLike, mode: number, rdev: number): Promise<void> {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFDIR) return Promise.reject(err(Errno.EPERM, 'mknod of a directory'));
  if (![S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK].includes(type)) return Promise.reject(err(Errno.EINVAL, 'bad file type'));
  if (!Number.isInteger(rdev) || rdev < 0 || rdev > 0xffffffff) return Promise.reject(err(Errno.EINVAL, 'bad device number'));
  return withParent(s, ctx, path, Errno.EEXIST, async (p) => {
    await mayCreate(p, ctx, false);
    // CAP_MKNOD: device nodes are root's.
    if ((type === S_IFCHR || type === S_IFBLK) && !isRoot(ctx.cred)) throw err(Errno.EPERM);
    const mknod = writeVnop(p.dir.mount, 'mknod');
    created(p.dir, await mknod(p.dir, p.name, type | (mode & 0o7777 & ~ctx.cred.umask), type === S_IFCHR || type === S_IFBLK ? rdev : 0, ctx));
  });
}

export function symlink(s: VfsState, ctx: OpContext, target: PathLike, path: PathLike): Promise<void> {
  let t: Uint8Array;
  try { t = pathBytes(target); } catch (e) { return Promise.reject(e); }
  return withParent(s, ctx, path, Errno.EEXIST, async (p) => {
    await mayCreate(p, ctx, false);
    const symlink = writeVnop(p.dir.mount, 'symlink');
    created(p.dir, await symlink(p.dir, p.name, t, ctx));
  });
}

/** link(2): never follows `oldPath`'s last symlink (as linkat without AT_SYMLINK_FOLLOW). */
export async function link(s: VfsState, ctx: OpContext, oldPath: PathLike, newPath: PathLike): Promise<void> {
  const vp = await namei(s.root(), oldPath, false, ctx);
  try {
    await withParent(s, ctx, newPath, Errno.EEXIST, async (p) => {
      if (p.kind !== 'norm') throw err(Errno.EEXIST);
      // filename_create comes first in do_linkat: a name that is there is
      // EEXIST before EXDEV, protected_hardlinks' EPERM and vfs_link's EPERM
      // for a directory (a root caller linking a file on one mount meets
      // none of them, and the filesystem says EEXIST itself).
      if (p.dir.mount !== vp.mount || !isRoot(ctx.cred) || vp.type === S_IFDIR) {
        const there = await lookupHere(p.dir, p.name, ctx);
        if (there) { vrele(there); throw err(Errno.EEXIST); }
      }
      if (p.dir.mount !== vp.mount) throw err(Errno.EXDEV);
      await mayLink(vp, ctx);
      await mayCreate(p, ctx, false);
      if (vp.type === S_IFDIR) throw err(Errno.EPERM, 'hard link to a directory');
      const link = writeVnop(p.dir.mount, 'link');
      created(p.dir, await link(vp, p.dir, p.name, ctx));
    });
  } finally {
    vrele(vp);
  }
}

/** may_linkat with fs.protected_hardlinks = 1 (Debian's default): a caller
 *  who does not own the file links only a regular file it may read and
 *  write, that is not set-uid nor set-gid executable. */
async function mayLink(vp: Vnode, ctx: OpContext): Promise<void> {
  if (isRoot(ctx.cred)) return;
  const st = await getattr(vp, ctx);
  if (st.uid === ctx.cred.uid) return;
  const safe = (st.mode & S_IFMT) === S_IFREG && !(st.mode & S_ISUID) && (st.mode & (S_ISGID | 0o010)) !== (S_ISGID | 0o010);
  try {
    if (!safe) throw err(Errno.EPERM);
    checkAccess(ctx.cred, st, MAY_READ | MAY_WRITE);
  } catch {
    throw err(Errno.EPERM, 'protected_hardlinks');
  }
}

/** may_delete: write and search on the directory, the sticky rule, the kind
 *  of the victim; then EBUSY for a mount point or a mount's root. */
async function mayDelete(dir: Vnode, victim: Vnode, isdir: boolean, ctx: OpContext): Promise<void> {
  const dst = await getattr(dir, ctx);
  checkAccess(ctx.cred, dst, MAY_WRITE | MAY_EXEC);
  if (!isRoot(ctx.cred)) checkSticky(ctx.cred, dst, await getattr(victim, ctx));
  if (isdir && victim.type !== S_IFDIR) throw err(Errno.ENOTDIR);
  if (!isdir && victim.type === S_IFDIR) throw err(Errno.EISDIR);
  if (victim.mountedHere !== null || victim === victim.mount.root) throw err(Errno.EBUSY);
}

export function unlink(s: VfsState, ctx: OpContext, path: PathLike): Promise<void> {
  return withParent(s, ctx, path, Errno.EISDIR, async (p) => {
    if (p.kind !== 'norm') throw err(Errno.EISDIR);
    checkWritableMount(p.dir.mount);
    const victim = await lookupHere(p.dir, p.name, ctx);
    if (!victim) throw err(Errno.ENOENT);
    try {
      if (p.trailingSlash) throw err(victim.type === S_IFDIR ? Errno.EISDIR : Errno.ENOTDIR);
      await mayDelete(p.dir, victim, false, ctx);
      const unlink = writeVnop(p.dir.mount, 'unlink');
      await unlink(p.dir, p.name, ctx);
    } finally {
      vrele(victim);
    }
  });
}

export function rmdir(s: VfsState, ctx: OpContext, path: PathLike): Promise<void> {
  return withParent(s, ctx, path, Errno.EBUSY, async (p) => {
    if (p.kind === 'dot') throw err(Errno.EINVAL, '"." as last component');
    if (p.kind === 'dotdot') throw err(Errno.ENOTEMPTY);
    checkWritableMount(p.dir.mount);
    const victim = await lookupHere(p.dir, p.name, ctx);
    if (!victim) throw err(Errno.ENOENT);
    try {
      await mayDelete(p.dir, victim, true, ctx);
      const rmdir = writeVnop(p.dir.mount, 'rmdir');
      await rmdir(p.dir, p.name, ctx);
    } finally {
      vrele(victim);
    }
  });
}

export async function rename(s: VfsState, ctx: OpContext, oldPath: PathLike, newPath: PathLike, flags: number): Promise<void> {
  if (!Number.isInteger(flags) || (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) throw err(Errno.EINVAL);
  if ((flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) && (flags & RENAME_EXCHANGE)) throw err(Errno.EINVAL);
  if (flags & RENAME_WHITEOUT) throw err(Errno.EINVAL, 'RENAME_WHITEOUT is for overlay filesystems');
  await withParent(s, ctx, oldPath, Errno.EBUSY, (src) =>
    withParent(s, ctx, newPath, Errno.EBUSY, async (dst) => {
      if (src.dir.mount !== dst.dir.mount) throw err(Errno.EXDEV);
      if (src.kind !== 'norm' || dst.kind !== 'norm') throw err(Errno.EBUSY);
      checkWritableMount(src.dir.mount);
      const from = await lookupHere(src.dir, src.name, ctx);
      if (!from) throw err(Errno.ENOENT);
      let to: Vnode | undefined;
      try {
        to = await lookupHere(dst.dir, dst.name, ctx);
        await renameChecks(src, dst, from, to, flags, ctx);
        if (from === to) return; // two names of one file: nothing to do (POSIX)
        const rename = writeVnop(src.dir.mount, 'rename');
        await rename(src.dir, src.name, dst.dir, dst.name, flags, ctx);
      } finally {
        vrele(from);
        if (to) vrele(to);
      }
    }));
}

async function renameChecks(src: ParentResult, dst: ParentResult, from: Vnode, to: Vnode | undefined,
  flags: number, ctx: OpContext): Promise<void> {
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  if ((flags & RENAME_NOREPLACE) && to) throw err(Errno.EEXIST);
  if (exchange) {
    if (!to) throw err(Errno.ENOENT);
    if (to.type !== S_IFDIR && dst.trailingSlash) throw err(Errno.ENOTDIR);
  }
  if (from.type !== S_IFDIR && (src.trailingSlash || (!exchange && dst.trailingSlash))) throw err(Errno.ENOTDIR);
  // lock_rename's trap: the source may not hold the target's directory...
  if (from === dst.dir || dst.ancestors.includes(from)) throw err(Errno.EINVAL, 'a directory into itself');
  // ...nor the target the source's.
  if (to && (to === src.dir || src.ancestors.includes(to))) throw err(exchange ? Errno.EINVAL : Errno.ENOTEMPTY);
  if (from === to) return;
  const isDir = from.type === S_IFDIR;
  await mayDelete(src.dir, from, isDir, ctx);
  if (!to) {
    checkAccess(ctx.cred, await getattr(dst.dir, ctx), MAY_WRITE | MAY_EXEC);
  } else {
    await mayDelete(dst.dir, to, exchange ? to.type === S_IFDIR : isDir, ctx);
  }
  // A directory that changes parent rewrites its "..": it must be writable.
  if (src.dir !== dst.dir) {
    if (isDir) checkAccess(ctx.cred, await getattr(from, ctx), MAY_WRITE);
    if (exchange && to && to.type === S_IFDIR) checkAccess(ctx.cred, await getattr(to, ctx), MAY_WRITE);
  }
}
