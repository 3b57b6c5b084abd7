// open(2) and close(2), as Linux's do_filp_open and may_open order their
// checks: flags, the walk, O_CREAT (create, or O_EXCL's EEXIST), the kind of
// node (ELOOP, ENOTDIR, EISDIR), EROFS, permission (EACCES), then the
// filesystem's open and O_TRUNC. close flushes (FUSE_FLUSH) and releases.

import { Errno, ErrnoError } from '../errno';
import { MAY_EXEC, MAY_READ, MAY_WRITE, checkAccess } from './cred';
import {
  MAXSYMLINKS, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY, wantsWrite,
} from './fcntl';
import { File } from './file';
import type { FsHandle, OpContext } from './fs';
import { PathLike, lookupChild, namei, nameiParent, parentOfLink, releaseParent } from './namei';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from './stat';
import { fileOwner, lockKey } from './lock';
import { VfsState, checkWritableMount, err, getattr, writeVnop } from './state';
import { vget, vrele, Vnode } from './vnode';

/** Open flags the VFS knows; others are EINVAL. */
const KNOWN_FLAGS = O_ACCMODE | O_CREAT | O_EXCL | 0o400 /* O_NOCTTY */ | O_TRUNC | 0o2000 /* O_APPEND */
  | 0o4000 /* O_NONBLOCK */ | 0o4010000 /* O_SYNC */ | 0o40000 /* O_DIRECT */ | 0o100000 /* O_LARGEFILE */
  | O_DIRECTORY | O_NOFOLLOW | 0o1000000 /* O_NOATIME */ | 0o2000000 /* O_CLOEXEC */;

export async function open(s: VfsState, ctx: OpContext, path: PathLike, flags: number, mode: number): Promise<number> {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~KNOWN_FLAGS) !== 0) throw err(Errno.EINVAL, 'bad flags');
  if ((flags & O_ACCMODE) === O_ACCMODE) throw err(Errno.EINVAL, 'O_WRONLY|O_RDWR');
  if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) throw err(Errno.EINVAL, 'O_CREAT|O_DIRECTORY');
  if (!Number.isInteger(mode) || mode < 0) throw err(Errno.EINVAL, 'bad mode');
  const root = s.root();
  let vp: Vnode;
  let fh: FsHandle | undefined;
  if (flags & O_CREAT) {
    const r = await openCreate(root, ctx, path, flags, mode);
    vp = r.vp;
    fh = r.fh;
  } else {
    vp = await namei(root, path, (flags & O_NOFOLLOW) === 0, ctx);
  }
  const isDir = vp.type === S_IFDIR;
  const vnops = vp.mount.fs.vnops;
  try {
    if (fh === undefined) fh = await openExisting(vp, ctx, flags);
  } catch (e) {
    vrele(vp);
    throw e;
  }
  const file = new File(vp, fh, flags, isDir, s.nextFileId++);
  let fd: number;
  try {
    fd = s.files.alloc(file);
  } catch (e) {
    await (isDir ? vnops.releasedir(vp, fh, ctx) : vnops.release(vp, fh, ctx)).catch(() => {});
    vrele(vp);
    throw e;
  }
  vp.mount.openFiles++;
  return fd;
}

/** O_CREAT: the existing node (its fh undefined: opened by the caller), or a
 *  new file created and opened by the filesystem. */
async function openCreate(root: Vnode, ctx: OpContext, path: PathLike, flags: number, mode: number)
  : Promise<{ vp: Vnode; fh?: FsHandle }> {
  let p = await nameiParent(root, path, Errno.EISDIR, ctx);
  try {
    for (let links = 0; ; links++) {
      if (p.kind !== 'norm' || p.trailingSlash) throw err(Errno.EISDIR);
      let vp: Vnode | undefined;
      try {
        vp = await lookupChild(p.dir, p.name, ctx);
      } catch (e) {
        if (!(e instanceof ErrnoError) || e.errno !== Errno.ENOENT) throw e;
      }
      if (vp === undefined) {
        checkWritableMount(p.dir.mount);
        checkAccess(ctx.cred, await getattr(p.dir, ctx), MAY_WRITE | MAY_EXEC);
        const create = writeVnop(p.dir.mount, 'create');
        const r = await create(p.dir, p.name, S_IFREG | (mode & 0o7777 & ~ctx.cred.umask), flags, ctx);
        return { vp: vget(p.dir.mount, r.entry), fh: r.fh };
      }
      if (flags & O_EXCL) { vrele(vp); throw err(Errno.EEXIST); }
      if (vp.type !== S_IFLNK || (flags & O_NOFOLLOW)) return { vp };
      // A trailing symlink: go on at its target (which O_CREAT may create).
      let target: Uint8Array;
      try {
        if (links >= MAXSYMLINKS) throw err(Errno.ELOOP);
        target = await vp.mount.fs.vnops.readlink(vp, ctx);
      } finally {
        vrele(vp);
      }
      const next = await parentOfLink(p, target, ctx);
      releaseParent(p);
      p = next;
    }
  } finally {
    releaseParent(p);
  }
}

/** may_open, then the filesystem's open (and O_TRUNC's setattr). */
async function openExisting(vp: Vnode, ctx: OpContext, flags: number): Promise<FsHandle> {
  const vnops = vp.mount.fs.vnops;
  const type = vp.type;
  if (type === S_IFLNK) throw err(Errno.ELOOP);
  if ((flags & O_DIRECTORY) && type !== S_IFDIR) throw err(Errno.ENOTDIR);
  if (type === S_IFDIR && wantsWrite(flags)) throw err(Errno.EISDIR);
  if (type === S_IFSOCK) throw err(Errno.ENXIO);
  if (wantsWrite(flags)) checkWritableMount(vp.mount);
  checkAccess(ctx.cred, await getattr(vp, ctx), accessMask(flags));
  if (type === S_IFDIR) return vnops.opendir(vp, flags, ctx);
  // FIFOs and device nodes would be opened locally by a kernel; nothing
  // here serves them.
  if ((type & S_IFMT) !== S_IFREG) throw err(Errno.ENXIO, 'only regular files and directories are opened');
  // Linux truncates on O_TRUNC whatever the access mode (may_open asked MAY_WRITE).
  const truncate = flags & O_TRUNC ? writeVnop(vp.mount, 'setattr') : undefined;
  if ((flags & O_ACCMODE) !== O_RDONLY) writeVnop(vp.mount, 'write');
  const fh = await vnops.open(vp, flags, ctx);
  if (truncate) {
    try {
      await truncate(vp, { size: 0 }, fh, ctx);
    } catch (e) {
      await vnops.release(vp, fh, ctx).catch(() => {});
      throw e;
    }
  }
  return fh;
}

function accessMask(flags: number): number {
  const acc = flags & O_ACCMODE;
  let mask = acc === O_RDONLY ? MAY_READ : acc === O_WRONLY ? MAY_WRITE : MAY_READ | MAY_WRITE;
  if (flags & O_TRUNC) mask |= MAY_WRITE;
  return mask;
}

/** close(2): FUSE_FLUSH (its error is close's), then release. */
export async function close(s: VfsState, ctx: OpContext, fd: number): Promise<void> {
  const f = s.files.remove(fd);
  // POSIX: any close drops the process's record locks on the file; the
  // description's flock lock goes with it (no dup here: this is its last).
  if (ctx.lockOwner !== undefined) s.locks.releasePosix(lockKey(f), ctx.lockOwner);
  s.locks.releaseFlock(lockKey(f), fileOwner(f));
  if (!f.dead) await releaseFile(f, ctx);
}

/** Flushes and gives back the fs handle and the vnode; the file stays dead. */
export async function releaseFile(f: File, ctx: OpContext, flush = true): Promise<void> {
  f.dead = true;
  f.vp.mount.openFiles--;
  const vnops = f.vp.mount.fs.vnops;
  let flushError: unknown;
  try {
    if (flush && !f.isDir && vnops.flush) {
      try { await vnops.flush(f.vp, f.fh, ctx); } catch (e) { flushError = e; }
    }
    await (f.isDir ? vnops.releasedir(f.vp, f.fh, ctx) : vnops.release(f.vp, f.fh, ctx));
  } finally {
    vrele(f.vp);
  }
  if (flushError !== undefined) throw flushError;
}

