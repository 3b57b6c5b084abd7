// The VFS a microkernel embeds: the mount table, the descriptor table, and
// the POSIX-shaped async calls over them, each made as one caller (a Cred:
// uid, gid, groups, umask, pid; `as()` gives the view of another). Every
// failure is an ErrnoError; every call takes { signal } last, and an aborted
// call fails with EINTR. The calls live in files by family (open, io, dir,
// namespace, attr, xattr, lock); this class is their one front.

import { Errno } from '../errno';
import * as A from './attr';
import { Cred, ROOT, makeCred } from './cred';
import * as D from './dir';
import { MNT_FORCE, O_RDONLY } from './fcntl';
import type { FileSystemType, MountOptions } from './fs';
import * as IO from './io';
import * as L from './lock';
import { Mount } from './mount';
import { PathLike, absoluteBytes, nameString, namei, splitPath } from './namei';
import * as N from './namespace';
import * as O from './open';
import { DirEntry, S_IFDIR, Stat, StatFs } from './stat';
import { CallOptions, VfsState, err, getattr, opContext } from './state';
import { vget, vrele, Vnode } from './vnode';
import * as X from './xattr';

export type { CallOptions } from './state';
export type { TimeArg } from './attr';
export type { Flock } from './lock';
export type { XattrName } from './xattr';

export interface VfsOptions {
  /** The first descriptor number handed out (default 0). */
  firstFd?: number;
  /** Open files at most (EMFILE beyond; default 1024). */
  maxFiles?: number;
  /** Who calls through this view (default root, umask 022, pid 1). */
  cred?: Partial<Cred>;
}

let nextVfsId = 1;

export class Vfs {
  readonly cred: Cred;
  private readonly s: VfsState;
  /** POSIX locks are the process's: per VFS and pid. */
  private readonly id: number;

  constructor(opts: VfsOptions = {}, shared?: { state: VfsState; id: number }) {
    this.s = shared?.state ?? new VfsState(opts.firstFd ?? 0, opts.maxFiles ?? 1024);
    this.id = shared?.id ?? nextVfsId++;
    this.cred = makeCred(opts.cred ?? {}, ROOT);
  }

  /** The same mounts and descriptors, called as another identity. */
  as(cred: Partial<Cred>): Vfs {
    return new Vfs({ cred: makeCred(cred, this.cred) }, { state: this.s, id: this.id });
  }

  private ctx(opts?: CallOptions) { return opContext(this.cred, opts, L.processOwner(this.id, this.cred.pid)); }

  /** Mounts in mount order ("/" first). */
  mounts(): readonly Mount[] { return this.s.mountList; }

  /** Open descriptors. */
  get openFileCount(): number { return this.s.files.count; }

  // ---- mount table ----

  async mount(fsType: FileSystemType, source: string, target: string, options: MountOptions = {}): Promise<void> {
    const ctx = this.ctx();
    absoluteBytes(target);
    const s = this.s;
    let covered: Vnode | null = null;
    if (s.rootMount) {
      covered = await namei(s.root(), target, true, ctx);
      if (covered.type !== S_IFDIR) { vrele(covered); throw err(Errno.ENOTDIR); }
      if (covered === covered.mount.root) { vrele(covered); throw err(Errno.EBUSY, `${target} is a mount point`); }
    } else if (splitPath(absoluteBytes(target)).some((c) => !(c.length === 1 && c[0] === 0x2e))) {
      throw err(Errno.ENOENT, 'the first mount goes on /');
    }
    let fs;
    try {
      fs = await fsType.mount(source, { ...options });
    } catch (e) {
      if (covered) vrele(covered);
      throw e;
    }
    const parent = covered ? covered.mount : null;
    const norm = '/' + splitPath(absoluteBytes(target)).map(nameString).filter((c) => c !== '.').join('/');
    const m = new Mount(s.nextMountId++, fsType, source, norm, Object.freeze({ ...options }), fs, covered, parent);
    try {
      // A concurrent mount may have taken the spot (or /) while we waited.
      if (covered ? covered.mountedHere !== null : s.rootMount !== null) throw err(Errno.EBUSY);
      m.root = vget(m, await fs.root());
      if (m.root.type !== S_IFDIR) { vrele(m.root); throw err(Errno.ENOTDIR, 'filesystem root is not a directory'); }
    } catch (e) {
      if (covered) vrele(covered);
      await fs.unmount(true).catch(() => {});
      throw e;
    }
    if (covered) covered.mountedHere = m;
    else s.rootMount = m;
    s.mountList.push(m);
  }

  /** umount2: EBUSY with files open on the mount (unless MNT_FORCE) or mounts below it. */
  async umount(target: string, flags = 0): Promise<void> {
    const ctx = this.ctx();
    const s = this.s;
    const vp = await namei(s.root(), target, true, ctx);
    const m = vp.mount;
    const isRoot = vp === m.root;
    vrele(vp);
    if (!isRoot) throw err(Errno.EINVAL, `${target} is not a mount point`);
    if (m.dead) throw err(Errno.EINVAL);
    if (s.mountList.some((c) => c.parent === m)) throw err(Errno.EBUSY, 'mounts below it');
    const force = (flags & MNT_FORCE) !== 0;
    if (m.openFiles > 0 && !force) throw err(Errno.EBUSY, 'files open');
    m.dead = true;
    s.mountList.splice(s.mountList.indexOf(m), 1);
    if (m.covered) {
      m.covered.mountedHere = null;
      vrele(m.covered);
    } else {
      s.rootMount = null;
    }
    if (m.openFiles > 0) {
      for (const [, f] of s.files.entries()) {
        if (f.vp.mount === m && !f.dead) await O.releaseFile(f, ctx, false).catch(() => {});
      }
    }
    vrele(m.root);
    await m.fs.unmount(force);
  }

  // ---- open files ----

  async open(path: PathLike, flags = O_RDONLY, mode = 0o666, opts?: CallOptions): Promise<number> {
    return O.open(this.s, this.ctx(opts), path, flags, mode);
  }
  async close(fd: number, opts?: CallOptions): Promise<void> { return O.close(this.s, this.ctx(opts), fd); }

  /** Up to `len` bytes at the file offset, which advances; empty at EOF. */
  async read(fd: number, len: number, opts?: CallOptions): Promise<Uint8Array> { return IO.read(this.s, this.ctx(opts), fd, len); }
  /** Up to `len` bytes at `offset`; the file offset stays. */
  async pread(fd: number, len: number, offset: number, opts?: CallOptions): Promise<Uint8Array> {
    return IO.pread(this.s, this.ctx(opts), fd, len, offset);
  }
  /** POSIX read into the caller's buffer at the file offset, which advances. */
  async readInto(fd: number, dst: Uint8Array, opts?: CallOptions): Promise<number> { return IO.readInto(this.s, this.ctx(opts), fd, dst); }
  /** POSIX pread into the caller's buffer: up to dst.length bytes at `offset`
   *  into dst from its start; resolves with how many (0 at EOF). */
  preadInto(fd: number, dst: Uint8Array, offset: number, opts?: CallOptions): Promise<number> {
    let ctx;
    try { ctx = this.ctx(opts); } catch (e) { return Promise.reject(e); }
    return IO.preadInto(this.s, ctx, fd, dst, offset);
  }
  /** Writes at the file offset (the end with O_APPEND); the offset advances. */
  async write(fd: number, data: Uint8Array, opts?: CallOptions): Promise<number> { return IO.write(this.s, this.ctx(opts), fd, data); }
  async pwrite(fd: number, data: Uint8Array, offset: number, opts?: CallOptions): Promise<number> {
    return IO.pwrite(this.s, this.ctx(opts), fd, data, offset);
  }
  async writev(fd: number, bufs: readonly Uint8Array[], opts?: CallOptions): Promise<number> {
    return IO.writev(this.s, this.ctx(opts), fd, bufs);
  }
  /** The new offset: SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE. */
  async lseek(fd: number, offset: number, whence: number, opts?: CallOptions): Promise<number> {
    return IO.lseek(this.s, this.ctx(opts), fd, offset, whence);
  }
  async fsync(fd: number, datasync = false, opts?: CallOptions): Promise<void> { return IO.fsync(this.s, this.ctx(opts), fd, datasync); }
  async fallocate(fd: number, mode: number, offset: number, len: number, opts?: CallOptions): Promise<void> {
    return IO.fallocate(this.s, this.ctx(opts), fd, mode, offset, len);
  }
  async copyFileRange(fdIn: number, offIn: number | null, fdOut: number, offOut: number | null, len: number, opts?: CallOptions): Promise<number> {
    return IO.copyFileRange(this.s, this.ctx(opts), fdIn, offIn, fdOut, offOut, len);
  }

  /** The next batch of entries ("." and ".." included); empty at the end. */
  async readdir(fd: number, opts?: CallOptions): Promise<DirEntry[]> { return D.readdir(this.s, this.ctx(opts), fd); }
  /** Every entry of the directory `path`. */
  async readdirAll(path: PathLike, opts?: CallOptions): Promise<DirEntry[]> {
    return D.readdirAll(this.s, this.ctx(opts), path, (p, f) => this.open(p, f, 0, opts), (fd) => this.close(fd, opts));
  }

  // ---- attributes ----

  async stat(path: PathLike, opts?: CallOptions): Promise<Stat> { const c = this.ctx(opts); return A.withVnode(this.s, c, path, true, (vp) => getattr(vp, c)); }
  async lstat(path: PathLike, opts?: CallOptions): Promise<Stat> { const c = this.ctx(opts); return A.withVnode(this.s, c, path, false, (vp) => getattr(vp, c)); }
  async fstat(fd: number, opts?: CallOptions): Promise<Stat> { return getattr(this.s.live(fd).vp, this.ctx(opts)); }
  /** The target as a string (bytes that are not UTF-8 become U+FFFD). */
  async readlink(path: PathLike, opts?: CallOptions): Promise<string> { return A.readlinkString(this.s, this.ctx(opts), path); }
  async readlinkBytes(path: PathLike, opts?: CallOptions): Promise<Uint8Array> { return A.readlink(this.s, this.ctx(opts), path); }
  async statfs(path: PathLike, opts?: CallOptions): Promise<StatFs> { const c = this.ctx(opts); return A.withVnode(this.s, c, path, true, (vp) => A.statfs(c, vp)); }
  async fstatfs(fd: number, opts?: CallOptions): Promise<StatFs> { return A.statfs(this.ctx(opts), this.s.live(fd).vp); }
  /** access(2): F_OK, or R_OK | W_OK | X_OK, as this caller. */
  async access(path: PathLike, mode: number, opts?: CallOptions): Promise<void> { return A.access(this.s, this.ctx(opts), path, mode); }
  async chmod(path: PathLike, mode: number, opts?: CallOptions): Promise<void> { return A.chmod(this.s, this.ctx(opts), path, mode); }
  async fchmod(fd: number, mode: number, opts?: CallOptions): Promise<void> { return A.fchmod(this.s.live(fd), this.ctx(opts), mode); }
  /** chown(2): -1 leaves an id as it is. */
  async chown(path: PathLike, uid: number, gid: number, opts?: CallOptions): Promise<void> {
    return A.chown(this.s, this.ctx(opts), path, uid, gid, true);
  }
  async lchown(path: PathLike, uid: number, gid: number, opts?: CallOptions): Promise<void> {
    return A.chown(this.s, this.ctx(opts), path, uid, gid, false);
  }
  async fchown(fd: number, uid: number, gid: number, opts?: CallOptions): Promise<void> {
    return A.fchown(this.s.live(fd), this.ctx(opts), uid, gid);
  }
  async truncate(path: PathLike, length: number, opts?: CallOptions): Promise<void> { return A.truncate(this.s, this.ctx(opts), path, length); }
  async ftruncate(fd: number, length: number, opts?: CallOptions): Promise<void> { return A.ftruncate(this.s.live(fd), this.ctx(opts), length); }
  /** utimensat(2): each time a value, 'now' (UTIME_NOW) or 'omit' (UTIME_OMIT). */
  async utimens(path: PathLike, atime: A.TimeArg, mtime: A.TimeArg, opts?: CallOptions & { nofollow?: boolean }): Promise<void> {
    return A.utimens(this.s, this.ctx(opts), path, atime, mtime, !opts?.nofollow);
  }
  async futimens(fd: number, atime: A.TimeArg, mtime: A.TimeArg, opts?: CallOptions): Promise<void> {
    return A.futimens(this.s.live(fd), this.ctx(opts), atime, mtime);
  }

  // ---- namespace ----

  async mkdir(path: PathLike, mode = 0o777, opts?: CallOptions): Promise<void> { return N.mkdir(this.s, this.ctx(opts), path, mode); }
  /** mknod(2): S_IFREG, S_IFIFO, S_IFSOCK, or (root) S_IFCHR/S_IFBLK with rdev. */
  async mknod(path: PathLike, mode: number, rdev = 0, opts?: CallOptions): Promise<void> {
    return N.mknod(this.s, this.ctx(opts), path, mode, rdev);
  }
  async symlink(target: PathLike, path: PathLike, opts?: CallOptions): Promise<void> { return N.symlink(this.s, this.ctx(opts), target, path); }
  async link(oldPath: PathLike, newPath: PathLike, opts?: CallOptions): Promise<void> { return N.link(this.s, this.ctx(opts), oldPath, newPath); }
  async unlink(path: PathLike, opts?: CallOptions): Promise<void> { return N.unlink(this.s, this.ctx(opts), path); }
  async rmdir(path: PathLike, opts?: CallOptions): Promise<void> { return N.rmdir(this.s, this.ctx(opts), path); }
  async rename(oldPath: PathLike, newPath: PathLike, opts?: CallOptions): Promise<void> { return N.rename(this.s, this.ctx(opts), oldPath, newPath, 0); }
  /** renameat2(2): RENAME_NOREPLACE, RENAME_EXCHANGE. */
  async rename2(oldPath: PathLike, newPath: PathLike, flags: number, opts?: CallOptions): Promise<void> {
    return N.rename(this.s, this.ctx(opts), oldPath, newPath, flags);
  }

  // ---- extended attributes (follow symlinks; `nofollow` for the l* calls) ----

  async getxattr(path: PathLike, name: X.XattrName, opts?: CallOptions & { nofollow?: boolean }): Promise<Uint8Array> {
    const c = this.ctx(opts);
    return A.withVnode(this.s, c, path, !opts?.nofollow, (vp) => X.getxattr(vp, c, name));
  }
  /** flags: 0, XATTR_CREATE or XATTR_REPLACE. */
  async setxattr(path: PathLike, name: X.XattrName, value: Uint8Array, flags = 0, opts?: CallOptions & { nofollow?: boolean }): Promise<void> {
    const c = this.ctx(opts);
    return A.withVnode(this.s, c, path, !opts?.nofollow, (vp) => X.setxattr(vp, c, name, value, flags));
  }
  async listxattr(path: PathLike, opts?: CallOptions & { nofollow?: boolean }): Promise<string[]> {
    const c = this.ctx(opts);
    return A.withVnode(this.s, c, path, !opts?.nofollow, (vp) => X.listxattrStrings(vp, c));
  }
  async removexattr(path: PathLike, name: X.XattrName, opts?: CallOptions & { nofollow?: boolean }): Promise<void> {
    const c = this.ctx(opts);
    return A.withVnode(this.s, c, path, !opts?.nofollow, (vp) => X.removexattr(vp, c, name));
  }
  async fgetxattr(fd: number, name: X.XattrName, opts?: CallOptions): Promise<Uint8Array> { return X.getxattr(this.s.live(fd).vp, this.ctx(opts), name); }
  async fsetxattr(fd: number, name: X.XattrName, value: Uint8Array, flags = 0, opts?: CallOptions): Promise<void> {
    return X.setxattr(this.s.live(fd).vp, this.ctx(opts), name, value, flags);
  }
  async flistxattr(fd: number, opts?: CallOptions): Promise<string[]> { return X.listxattrStrings(this.s.live(fd).vp, this.ctx(opts)); }
  async fremovexattr(fd: number, name: X.XattrName, opts?: CallOptions): Promise<void> { return X.removexattr(this.s.live(fd).vp, this.ctx(opts), name); }

  // ---- locks ----

  /** fcntl(F_GETLK): the lock that would block `lock`, or type F_UNLCK. */
  async getlk(fd: number, lock: L.Flock, opts?: CallOptions): Promise<L.Flock> {
    return L.getlk(this.s.live(fd), this.ctx(opts), L.processOwner(this.id, this.cred.pid), lock, this.s.locks);
  }
  /** fcntl(F_SETLK): EAGAIN when another owner holds a conflicting lock. */
  async setlk(fd: number, lock: L.Flock, opts?: CallOptions): Promise<void> {
    return L.setlk(this.s.live(fd), this.ctx(opts), L.processOwner(this.id, this.cred.pid), lock, false, this.s.locks);
  }
  /** fcntl(F_SETLKW): waits for the lock; abort with opts.signal (EINTR). */
  async setlkw(fd: number, lock: L.Flock, opts?: CallOptions): Promise<void> {
    return L.setlk(this.s.live(fd), this.ctx(opts), L.processOwner(this.id, this.cred.pid), lock, true, this.s.locks);
  }
  /** flock(2): LOCK_SH, LOCK_EX, LOCK_UN, with LOCK_NB. */
  async flock(fd: number, op: number, opts?: CallOptions): Promise<void> { return L.flock(this.s.live(fd), this.ctx(opts), op, this.s.locks); }

  /** Flushes every mounted filesystem. */
  async sync(): Promise<void> {
    for (const m of this.s.mountList.slice()) await m.fs.sync();
  }
}

