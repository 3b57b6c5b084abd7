// The VFS a microkernel embeds: the mount table, the file table, and the
// POSIX-shaped async calls over them. Every failure is an ErrnoError.

import { Errno, ErrnoError } from '../errno';
import {
  MNT_FORCE, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY, O_APPEND,
  SEEK_CUR, SEEK_END, SEEK_SET, wantsWrite,
} from './fcntl';
import { File, FileTable } from './file';
import type { FileSystemType, FsHandle, MountOptions, Vnops } from './fs';
import { Mount } from './mount';
import { checkAbsolute, checkPath, lookupChild, namei, nameiParent, splitPath } from './namei';
import { DirEntry, S_IFDIR, S_IFLNK, Stat, StatFs } from './stat';
import { vget, vrele, Vnode } from './vnode';

export interface VfsOptions {
  /** The first descriptor number handed out (default 0). */
  firstFd?: number;
  /** Open files at most (EMFILE beyond; default 1024). */
  maxFiles?: number;
}

const EMPTY = new Uint8Array(0);

function err(errno: number, msg?: string): ErrnoError { return new ErrnoError(errno, msg); }

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw err(Errno.EINVAL, `bad ${what} ${n}`);
}

function checkEntries(batch: unknown): DirEntry[] {
  if (!Array.isArray(batch)) throw err(Errno.EIO, 'readdir: not a list');
  for (const e of batch as DirEntry[]) {
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || e.name.length === 0
        || e.name.indexOf('/') >= 0 || e.name.indexOf('\0') >= 0
        || typeof e.ino !== 'bigint' || typeof e.nextCookie !== 'bigint' || typeof e.type !== 'number') {
      throw err(Errno.EIO, 'readdir: bad entry from filesystem');
    }
  }
  return batch as DirEntry[];
}

export class Vfs {
  private readonly files: FileTable;
  private readonly mountList: Mount[] = [];
  private rootMount: Mount | null = null;
  private nextMountId = 1;

  constructor(opts: VfsOptions = {}) {
    this.files = new FileTable(opts.firstFd ?? 0, opts.maxFiles ?? 1024);
  }

  /** Mounts in mount order ("/" first). */
  mounts(): readonly Mount[] { return this.mountList; }

  /** Open descriptors. */
  get openFileCount(): number { return this.files.count; }

  private root(): Vnode {
    if (!this.rootMount) throw err(Errno.ENOENT, 'nothing mounted at /');
    return this.rootMount.root;
  }

  // ---- mount table ----

  async mount(fsType: FileSystemType, source: string, target: string, options: MountOptions = {}): Promise<void> {
    checkAbsolute(target);
    let covered: Vnode | null = null;
    if (this.rootMount) {
      covered = await namei(this.root(), target, true);
      if (covered.type !== S_IFDIR) { vrele(covered); throw err(Errno.ENOTDIR); }
      if (covered === covered.mount.root) { vrele(covered); throw err(Errno.EBUSY, `${target} is a mount point`); }
    } else if (splitPath(target).some((c) => c !== '.')) {
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
    const m = new Mount(this.nextMountId++, fsType, source, '/' + splitPath(target).filter((c) => c !== '.').join('/'),
      Object.freeze({ ...options }), fs, covered, parent);
    try {
      // A concurrent mount may have taken the spot (or /) while we waited.
      if (covered ? covered.mountedHere !== null : this.rootMount !== null) throw err(Errno.EBUSY);
      m.root = vget(m, await fs.root());
      if (m.root.type !== S_IFDIR) { vrele(m.root); throw err(Errno.ENOTDIR, 'filesystem root is not a directory'); }
    } catch (e) {
      if (covered) vrele(covered);
      await fs.unmount(true).catch(() => {});
      throw e;
    }
    if (covered) covered.mountedHere = m;
    else this.rootMount = m;
    this.mountList.push(m);
  }

  /** umount2: EBUSY with files open on the mount (unless MNT_FORCE) or mounts below it. */
  async umount(target: string, flags = 0): Promise<void> {
    const vp = await namei(this.root(), target, true);
    const m = vp.mount;
    const isRoot = vp === m.root;
    vrele(vp);
    if (!isRoot) throw err(Errno.EINVAL, `${target} is not a mount point`);
    if (m.dead) throw err(Errno.EINVAL);
    if (this.mountList.some((c) => c.parent === m)) throw err(Errno.EBUSY, 'mounts below it');
    const force = (flags & MNT_FORCE) !== 0;
    if (m.openFiles > 0 && !force) throw err(Errno.EBUSY, 'files open');
    m.dead = true;
    this.mountList.splice(this.mountList.indexOf(m), 1);
    if (m.covered) {
      m.covered.mountedHere = null;
      vrele(m.covered);
    } else {
      this.rootMount = null;
    }
    if (m.openFiles > 0) {
      for (const [, f] of this.files.entries()) {
        if (f.vp.mount === m && !f.dead) await this.releaseFile(f).catch(() => {});
      }
    }
    vrele(m.root);
    await m.fs.unmount(force);
  }

  // ---- open files ----

  async open(path: string, flags = O_RDONLY, mode = 0o666): Promise<number> {
    if (!Number.isInteger(flags) || flags < 0) throw err(Errno.EINVAL, 'bad flags');
    const root = this.root();
    let vp: Vnode;
    let fh: FsHandle | undefined;
    let created = false;
    if (flags & O_CREAT) {
      const p = await nameiParent(root, path, Errno.EISDIR);
      if (p.trailingSlash) { vrele(p.dir); throw err(Errno.EISDIR); }
      try {
        vp = await lookupChild(p.dir, p.name);
      } catch (e) {
        if (!(e instanceof ErrnoError) || e.errno !== Errno.ENOENT) { vrele(p.dir); throw e; }
        try {
          const create = this.writeHook(p.dir.mount, 'create');
          const r = await create.call(p.dir.mount.fs.vnops, p.dir, p.name, mode, flags);
          vp = vget(p.dir.mount, r.entry);
          fh = r.fh;
          created = true;
        } finally {
          vrele(p.dir);
        }
      }
      if (!created) {
        vrele(p.dir);
        if (flags & O_EXCL) { vrele(vp); throw err(Errno.EEXIST); }
        if (vp.type === S_IFLNK && !(flags & O_NOFOLLOW)) {
          vrele(vp);
          vp = await namei(root, path, true);
        }
      }
    } else {
      vp = await namei(root, path, (flags & O_NOFOLLOW) === 0);
    }
    const isDir = vp.type === S_IFDIR;
    const vnops = vp.mount.fs.vnops;
    try {
      if (!created) {
        if (vp.type === S_IFLNK) throw err(Errno.ELOOP);
        if ((flags & O_DIRECTORY) && !isDir) throw err(Errno.ENOTDIR);
        if (isDir) {
          if (wantsWrite(flags)) throw err(Errno.EISDIR);
          fh = await vnops.opendir(vp, flags);
        } else {
          if (wantsWrite(flags)) this.writeHook(vp.mount, 'write');
          const truncate = (flags & O_TRUNC) ? this.writeHook(vp.mount, 'setattr') : undefined;
          fh = await vnops.open(vp, flags);
          if (truncate) {
            try { await truncate.call(vnops, vp, { size: 0 }); } catch (e) { await vnops.release(vp, fh).catch(() => {}); throw e; }
          }
        }
      }
    } catch (e) {
      vrele(vp);
      throw e;
    }
    const file = new File(vp, fh, flags, isDir);
    let fd: number;
    try {
      fd = this.files.alloc(file);
    } catch (e) {
      await (isDir ? vnops.releasedir(vp, fh) : vnops.release(vp, fh)).catch(() => {});
      vrele(vp);
      throw e;
    }
    vp.mount.openFiles++;
    return fd;
  }

  async close(fd: number): Promise<void> {
    const f = this.files.remove(fd);
    if (!f.dead) await this.releaseFile(f);
  }

  /** Gives back the fs handle and the vnode; the file stays dead. */
  private async releaseFile(f: File): Promise<void> {
    f.dead = true;
    f.vp.mount.openFiles--;
    const vnops = f.vp.mount.fs.vnops;
    try {
      await (f.isDir ? vnops.releasedir(f.vp, f.fh) : vnops.release(f.vp, f.fh));
    } finally {
      vrele(f.vp);
    }
  }

  private live(fd: number): File {
    const f = this.files.get(fd);
    if (f.dead) throw err(Errno.EIO, 'filesystem was unmounted');
    return f;
  }

  private readable(fd: number): File {
    const f = this.live(fd);
    if ((f.flags & O_ACCMODE) === O_WRONLY) throw err(Errno.EBADF, 'not open for reading');
    if (f.isDir) throw err(Errno.EISDIR);
    return f;
  }

  private writable(fd: number): File {
    const f = this.live(fd);
    if ((f.flags & O_ACCMODE) === O_RDONLY) throw err(Errno.EBADF, 'not open for writing');
    if (f.isDir) throw err(Errno.EISDIR);
    return f;
  }

  private async fsRead(f: File, offset: number, len: number): Promise<Uint8Array> {
    if (len === 0) return EMPTY;
    const data = await f.vp.mount.fs.vnops.read(f.vp, f.fh, offset, len);
    if (!(data instanceof Uint8Array) || data.length > len) throw err(Errno.EIO, 'read: bad reply from filesystem');
    return data;
  }

  /** Up to `len` bytes at the file offset, which advances; empty at EOF. */
  async read(fd: number, len: number): Promise<Uint8Array> {
    const f = this.readable(fd);
    checkCount(len, 'length');
    return f.serialize(async () => {
      const data = await this.fsRead(f, f.offset, len);
      f.offset += data.length;
      return data;
    });
  }

  /** Up to `len` bytes at `offset`; the file offset stays. */
  async pread(fd: number, len: number, offset: number): Promise<Uint8Array> {
    const f = this.readable(fd);
    checkCount(len, 'length');
    checkCount(offset, 'offset');
    return this.fsRead(f, offset, len);
  }

  /** Into dst at offset: the vnop readInto when the filesystem has it, else read and copy. */
  private fsReadInto(f: File, offset: number, dst: Uint8Array): Promise<number> {
    const len = dst.length;
    if (len === 0) return Promise.resolve(0);
    const vnops = f.vp.mount.fs.vnops;
    if (vnops.readInto === undefined) {
      return this.fsRead(f, offset, len).then((data) => {
        dst.set(data);
        return data.length;
      });
    }
    return vnops.readInto(f.vp, f.fh, offset, dst).then((n) => {
      if (!Number.isSafeInteger(n) || n < 0 || n > len) throw err(Errno.EIO, 'read: bad reply from filesystem');
      return n;
    });
  }

  /** POSIX pread into the caller's buffer: up to dst.length bytes at
   *  `offset` into dst from its start; resolves with how many (0 at EOF).
   *  The file offset stays. */
  preadInto(fd: number, dst: Uint8Array, offset: number): Promise<number> {
    let f: File;
    try {
      f = this.readable(fd);
      if (!(dst instanceof Uint8Array)) throw err(Errno.EFAULT);
      checkCount(offset, 'offset');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.fsReadInto(f, offset, dst);
  }

  /** POSIX read into the caller's buffer at the file offset, which advances. */
  async readInto(fd: number, dst: Uint8Array): Promise<number> {
    const f = this.readable(fd);
    if (!(dst instanceof Uint8Array)) throw err(Errno.EFAULT);
    return f.serialize(async () => {
      const n = await this.fsReadInto(f, f.offset, dst);
      f.offset += n;
      return n;
    });
  }

  private async fsWrite(f: File, offset: number, data: Uint8Array): Promise<number> {
    if (!(data instanceof Uint8Array)) throw err(Errno.EFAULT);
    const write = this.writeHook(f.vp.mount, 'write');
    if (data.length === 0) return 0;
    const n = await write.call(f.vp.mount.fs.vnops, f.vp, f.fh, offset, data);
    if (!Number.isSafeInteger(n) || n < 0 || n > data.length) throw err(Errno.EIO, 'write: bad reply from filesystem');
    return n;
  }

  /** Writes at the file offset (the end with O_APPEND); the offset advances. */
  async write(fd: number, data: Uint8Array): Promise<number> {
    const f = this.writable(fd);
    return f.serialize(async () => {
      const offset = (f.flags & O_APPEND) ? (await f.vp.mount.fs.vnops.getattr(f.vp)).size : f.offset;
      const n = await this.fsWrite(f, offset, data);
      f.offset = offset + n;
      return n;
    });
  }

  async pwrite(fd: number, data: Uint8Array, offset: number): Promise<number> {
    const f = this.writable(fd);
    checkCount(offset, 'offset');
    return this.fsWrite(f, offset, data);
  }

  /** The new offset. Directories take only (0, SEEK_SET), which rewinds them. */
  async lseek(fd: number, offset: number, whence: number): Promise<number> {
    const f = this.live(fd);
    if (!Number.isSafeInteger(offset)) throw err(Errno.EINVAL, `bad offset ${offset}`);
    if (f.isDir) {
      if (whence !== SEEK_SET || offset !== 0) throw err(Errno.EINVAL, 'directories rewind only');
      return f.serialize(async () => { f.cookie = 0n; f.eof = false; return 0; });
    }
    return f.serialize(async () => {
      let base: number;
      if (whence === SEEK_SET) base = 0;
      else if (whence === SEEK_CUR) base = f.offset;
      else if (whence === SEEK_END) base = (await f.vp.mount.fs.vnops.getattr(f.vp)).size;
      else throw err(Errno.EINVAL, `bad whence ${whence}`);
      const pos = base + offset;
      if (pos < 0) throw err(Errno.EINVAL, 'negative offset');
      if (!Number.isSafeInteger(pos)) throw err(Errno.EOVERFLOW);
      f.offset = pos;
      return pos;
    });
  }

  /** The next batch of entries (as the filesystem returns them, "." and ".." included); empty at the end. */
  async readdir(fd: number): Promise<DirEntry[]> {
    const f = this.live(fd);
    if (!f.isDir) throw err(Errno.ENOTDIR);
    return f.serialize(async () => {
      if (f.eof) return [];
      const batch = checkEntries(await f.vp.mount.fs.vnops.readdir(f.vp, f.fh, f.cookie));
      if (batch.length === 0) {
        f.eof = true;
        return batch;
      }
      const next = batch[batch.length - 1].nextCookie;
      if (next === f.cookie) throw err(Errno.EIO, 'readdir: cookie did not advance');
      f.cookie = next;
      return batch;
    });
  }

  /** Every entry of the directory `path`. */
  async readdirAll(path: string): Promise<DirEntry[]> {
    const fd = await this.open(path, O_RDONLY | O_DIRECTORY);
    const f = this.files.get(fd);
    const all: DirEntry[] = [];
    const seen = new Set<bigint>([0n]);
    try {
      for (;;) {
        const batch = await this.readdir(fd);
        if (batch.length === 0) break;
        // A filesystem that cycles its cookies would otherwise never end.
        if (seen.has(f.cookie)) throw err(Errno.EIO, 'readdir: cookie loop');
        seen.add(f.cookie);
        for (const e of batch) all.push(e);
      }
    } finally {
      await this.close(fd);
    }
    return all;
  }

  async fsync(fd: number, datasync = false): Promise<void> {
    const f = this.live(fd);
    const vnops = f.vp.mount.fs.vnops;
    if (vnops.fsync) await vnops.fsync(f.vp, f.fh, datasync);
  }

  async ftruncate(fd: number, length: number): Promise<void> {
    const f = this.live(fd);
    if (f.isDir || (f.flags & O_ACCMODE) === O_RDONLY) throw err(Errno.EINVAL);
    checkCount(length, 'length');
    await this.setattr(f.vp, length);
  }

  // ---- attributes ----

  private async getattr(vp: Vnode): Promise<Stat> {
    const st = await vp.mount.fs.vnops.getattr(vp);
    if (st === null || typeof st !== 'object' || typeof st.mode !== 'number') throw err(Errno.EIO, 'getattr: bad reply');
    return st;
  }

  private async withVnode<T>(path: string, follow: boolean, fn: (vp: Vnode) => Promise<T>): Promise<T> {
    const vp = await namei(this.root(), path, follow);
    try {
      return await fn(vp);
    } finally {
      vrele(vp);
    }
  }

  stat(path: string): Promise<Stat> { return this.withVnode(path, true, (vp) => this.getattr(vp)); }
  lstat(path: string): Promise<Stat> { return this.withVnode(path, false, (vp) => this.getattr(vp)); }
  async fstat(fd: number): Promise<Stat> { return this.getattr(this.live(fd).vp); }

  readlink(path: string): Promise<string> {
    return this.withVnode(path, false, async (vp) => {
      if (vp.type !== S_IFLNK) throw err(Errno.EINVAL, 'not a symlink');
      const target = await vp.mount.fs.vnops.readlink(vp);
      if (typeof target !== 'string') throw err(Errno.EIO, 'readlink: bad reply');
      return target;
    });
  }

  statfs(path: string): Promise<StatFs> { return this.withVnode(path, true, (vp) => vp.mount.fs.statfs()); }
  async fstatfs(fd: number): Promise<StatFs> { return this.live(fd).vp.mount.fs.statfs(); }

  truncate(path: string, length: number): Promise<void> {
    checkCount(length, 'length');
    return this.withVnode(path, true, async (vp) => {
      if (vp.type === S_IFDIR) throw err(Errno.EISDIR);
      await this.setattr(vp, length);
    });
  }

  private async setattr(vp: Vnode, size: number): Promise<void> {
    const setattr = this.writeHook(vp.mount, 'setattr');
    await setattr.call(vp.mount.fs.vnops, vp, { size });
  }

  // ---- namespace ----

  /** The optional vnop `name`, or EROFS when the mount is read-only or the fs lacks it. */
  private writeHook<K extends 'write' | 'create' | 'mkdir' | 'unlink' | 'rmdir' | 'rename' | 'symlink' | 'setattr'>(
    m: Mount, name: K): NonNullable<Vnops[K]> {
    const hook = m.fs.vnops[name];
    if (m.readonly || hook === undefined) throw err(Errno.EROFS);
    return hook as NonNullable<Vnops[K]>;
  }

  private async inParent<T>(path: string, rootErrno: number, fn: (dir: Vnode, name: string, slash: boolean) => Promise<T>): Promise<T> {
    const p = await nameiParent(this.root(), path, rootErrno);
    try {
      return await fn(p.dir, p.name, p.trailingSlash);
    } finally {
      vrele(p.dir);
    }
  }

  mkdir(path: string, mode = 0o777): Promise<void> {
    return this.inParent(path, Errno.EEXIST, async (dir, name) => {
      const mkdir = this.writeHook(dir.mount, 'mkdir');
      vrele(vget(dir.mount, await mkdir.call(dir.mount.fs.vnops, dir, name, mode)));
    });
  }

  symlink(target: string, path: string): Promise<void> {
    checkPath(target);
    return this.inParent(path, Errno.EEXIST, async (dir, name, slash) => {
      if (slash) throw err(Errno.ENOENT);
      const symlink = this.writeHook(dir.mount, 'symlink');
      vrele(vget(dir.mount, await symlink.call(dir.mount.fs.vnops, dir, name, target)));
    });
  }

  unlink(path: string): Promise<void> {
    return this.inParent(path, Errno.EISDIR, async (dir, name, slash) => {
      const unlink = this.writeHook(dir.mount, 'unlink');
      if (slash) throw err(Errno.ENOTDIR);
      await unlink.call(dir.mount.fs.vnops, dir, name);
    });
  }

  rmdir(path: string): Promise<void> {
    return this.inParent(path, Errno.EBUSY, async (dir, name) => {
      const rmdir = this.writeHook(dir.mount, 'rmdir');
      await this.refuseMountPoint(dir, name);
      await rmdir.call(dir.mount.fs.vnops, dir, name);
    });
  }

  async rename(oldPath: string, newPath: string): Promise<void> {
    await this.inParent(oldPath, Errno.EBUSY, (src, srcName) =>
      this.inParent(newPath, Errno.EBUSY, async (dst, dstName) => {
        if (src.mount !== dst.mount) throw err(Errno.EXDEV);
        const rename = this.writeHook(src.mount, 'rename');
        await this.refuseMountPoint(src, srcName);
        await this.refuseMountPoint(dst, dstName);
        await rename.call(src.mount.fs.vnops, src, srcName, dst, dstName);
      }));
  }

  /** EBUSY when `name` in `dir` is covered by a mount (only asked when one could be). */
  private async refuseMountPoint(dir: Vnode, name: string): Promise<void> {
    if (!this.mountList.some((m) => m.parent === dir.mount)) return;
    let entry;
    try {
      entry = await dir.mount.fs.vnops.lookup(dir, name);
    } catch {
      return; // the call itself reports a missing name
    }
    const vp = vget(dir.mount, entry);
    const busy = vp.mountedHere !== null;
    vrele(vp);
    if (busy) throw err(Errno.EBUSY);
  }

  /** Flushes every mounted filesystem. */
  async sync(): Promise<void> {
    for (const m of this.mountList.slice()) await m.fs.sync();
  }
}
