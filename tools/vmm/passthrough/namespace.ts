// Making and removing names: CREATE, MKNOD, MKDIR, SYMLINK, LINK, UNLINK,
// RMDIR, RENAME, RENAME2, as virtiofsd's passthrough_ll, confined as the
// reads are: every name is one checked component inside a verified
// directory fd (/proc/self/fd/<dir>/<name>), nothing is ever followed, and
// a link or rename can only name entries of directories inside the share.
// What a request creates belongs to its uid and gid (virtiofsd switches
// fsuid/fsgid; the vmm creates as itself and chowns), the group of a
// set-gid directory honoured; the mode is exactly the request's (the
// client applied its umask), whatever the vmm's own umask.

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { Errno, ErrnoError } from '../../../core';
import * as K from '../../../fs/fuse';
import { CreateIn, CreateOut, EntryOut, LinkIn, MkdirIn, MknodIn, NameIn, Rename2In, RenameIn, SymlinkIn } from '../../../fs/fuse';
import { hostcalls } from '../../native/hostcalls.node';
import type { FuseContext } from '../fuse';
import { joinRel, lookupNameErrno } from './confine';
import type { DirFd } from './dir-cache';
import { S_IFDIR, S_IFMT, S_IFREG, isDir, statToAttr } from './host-attrs';
import type { Inode } from './inodes';
import { PassthroughState } from './state';

const openAsync = promisify(fs.open);

/** lstat, or undefined when nothing is there. */
async function lstatOrNone(s: PassthroughState, dev: bigint, path: Buffer): Promise<BigIntStats | undefined> {
  try {
    return await s.host.lstat(dev, path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

const { O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW, O_NONBLOCK, O_APPEND, O_TRUNC, O_SYNC, O_DSYNC } = fs.constants;
const O_ACCMODE = 3;
const S_ISGID = 0o2000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const K_RENAME_NOREPLACE = 1;
const K_RENAME_EXCHANGE = 2;

/** A new name's bytes, checked (EINVAL, ENAMETOOLONG) and copied out of the request. */
function newName(name: Uint8Array): Buffer {
  const bad = lookupNameErrno(name);
  if (bad !== 0) throw new ErrnoError(bad, 'name refused');
  return Buffer.from(name);
}

/** The directory inode `nodeid` and its verified fd (a reference to release). */
async function parentDir(s: PassthroughState, nodeid: bigint): Promise<{ p: Inode; dir: DirFd }> {
  const p = s.inode(nodeid);
  if (!isDir(p.mode)) throw new ErrnoError(Errno.ENOTDIR, 'not a directory');
  return { p, dir: await s.dirOf(p) };
}

/**
 * The caller's ownership and the request's exact mode on what was just
 * made at `path` in `dir` (its stat `st`), as the kernel would have set
 * them for that caller: uid and gid, the directory's gid when it is
 * set-gid (and S_ISGID on a new directory); a caller outside the file's
 * group loses S_ISGID on a non-directory. Returns the final stat.
 */
async function own(s: PassthroughState, ctx: FuseContext, dir: DirFd, path: Buffer, st: BigIntStats, mode: number | undefined): Promise<BigIntStats> {
  const sgidDir = (Number(dir.stat.mode) & S_ISGID) !== 0;
  const type = Number(st.mode) & S_IFMT;
  const gid = sgidDir ? Number(dir.stat.gid) : ctx.gid;
  if (st.uid !== BigInt(ctx.uid) || st.gid !== BigInt(gid)) {
    await s.host.call(st.dev, () => fs.lchownSync(path, ctx.uid, gid), () => fs.promises.lchown(path, ctx.uid, gid));
  }
  if (mode !== undefined && type !== S_IFLNK) {
    let m = mode & 0o7777;
    if (type === S_IFDIR && sgidDir) m |= S_ISGID;
    if (type !== S_IFDIR && (m & S_ISGID) && gid !== ctx.gid && ctx.uid !== 0) m &= ~S_ISGID;
    // The vmm's umask must not apply: chmod to the request's mode.
    if ((Number(st.mode) & 0o7777) !== m || sgidDir) {
      await s.host.call(st.dev, () => fs.chmodSync(path, m), () => fs.promises.chmod(path, m));
    }
  }
  return s.host.lstat(st.dev, path);
}

/** The entry for what now stands at `name` in `p` (counted as a lookup). */
async function entry(s: PassthroughState, p: Inode, dir: DirFd, name: Buffer, st: BigIntStats): Promise<EntryOut> {
  const dax = await s.daxFor(st, dir, name);
  const i = s.inodes.lookedUp(p, name, joinRel(p.path, name), st);
  return s.entryOut(i.nodeid, statToAttr(st, dax ? K.FUSE_ATTR_DAX : 0));
}

/** Makes `name` in the request's directory with `make(path)`, owns it, enters it. */
async function make(s: PassthroughState, ctx: FuseContext, rawName: Uint8Array, mode: number | undefined,
  mk: (path: Buffer, dir: DirFd, name: Buffer, dev: bigint) => unknown): Promise<EntryOut> {
  const name = newName(rawName);
  const { p, dir } = await parentDir(s, ctx.nodeid);
  try {
    const path = dir.child(name);
    await mk(path, dir, name, p.dev);
    const st = await own(s, ctx, dir, path, await s.host.lstat(p.dev, path), mode);
    return await entry(s, p, dir, name, st);
  } finally {
    dir.release();
  }
}

export function mkdir(s: PassthroughState, ctx: FuseContext, body: MkdirIn): Promise<EntryOut> {
  return make(s, ctx, body.name, body.mode, (path, _d, _n, dev) =>
    s.host.call(dev, () => fs.mkdirSync(path, 0o700), () => fs.promises.mkdir(path, 0o700)));
}

export function symlink(s: PassthroughState, ctx: FuseContext, body: SymlinkIn): Promise<EntryOut> {
  // The target is stored as given and never followed here.
  const target = Buffer.from(body.link);
  return make(s, ctx, body.name, undefined, (path, _d, _n, dev) =>
    s.host.call(dev, () => fs.symlinkSync(target, path), () => fs.promises.symlink(target, path)));
}

/** Regular files by open(O_CREAT|O_EXCL); FIFOs, sockets and device nodes by mknodat (the addon). */
export function mknod(s: PassthroughState, ctx: FuseContext, body: MknodIn): Promise<EntryOut> {
  const type = body.mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFSOCK && type !== 0o020000 && type !== 0o060000) {
    throw new ErrnoError(Errno.EINVAL, 'MKNOD of an unknown type');
  }
  return make(s, ctx, body.name, body.mode, (path, dir, name, dev) => {
    if (type === S_IFREG) {
      return s.host.call(dev, () => fs.closeSync(fs.openSync(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0o600)),
        async () => { await (await fs.promises.open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0o600)).close(); });
    }
    if (!hostcalls) throw new ErrnoError(Errno.EOPNOTSUPP, 'mknod of a special file needs tools/native (not built)');
    return hostcalls.mknodat(dir.fd, name, type | 0o600, type === S_IFIFO || type === S_IFSOCK ? 0 : body.rdev);
  });
}

export async function link(s: PassthroughState, ctx: FuseContext, body: LinkIn): Promise<EntryOut> {
  const src = s.inode(body.oldnodeid);
  if (isDir(src.mode)) throw new ErrnoError(Errno.EPERM, 'LINK of a directory');
  const name = newName(body.newname);
  const from = await s.parentOf(src);
  try {
    // The entry must still be the inode asked for: link() never follows
    // the final symlink, and the path stays inside the share.
    await s.lstatChecked(from, src);
    const { p, dir } = await parentDir(s, ctx.nodeid);
    try {
      const path = dir.child(name);
      const oldPath = from.child(src.name);
      await s.host.call(p.dev, () => fs.linkSync(oldPath, path), () => fs.promises.link(oldPath, path));
      return await entry(s, p, dir, name, await s.host.lstat(p.dev, path));
    } finally {
      dir.release();
    }
  } finally {
    from.release();
  }
}

/** CREATE: open(O_CREAT) with O_NOFOLLOW (a symlink standing at the name
 *  is never followed out of the share), then owned and entered. */
export async function create(s: PassthroughState, ctx: FuseContext, body: CreateIn): Promise<CreateOut> {
  const name = newName(body.name);
  const { p, dir } = await parentDir(s, ctx.nodeid);
  try {
    const path = dir.child(name);
    const flags = body.flags;
    const acc = flags & O_ACCMODE;
    const host = acc | (flags & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)) | O_NOFOLLOW | O_NONBLOCK;
    // A plain fd by callback: a FileHandle's fd taken out of it is closed
    // again when the handle is collected (a reused number, or EBADF and exit).
    const open = (f: number) => s.host.call(p.dev, () => fs.openSync(path, f, 0o600), () => openAsync(path, f, 0o600));
    // O_EXCL first, so we know whether this call made the file: a file that
    // already stood there (the client did not ask O_EXCL) keeps its owner and mode.
    let fresh = true;
    let fd: number;
    try {
      fd = await open(host | O_CREAT | O_EXCL);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' || (flags & O_EXCL)) throw e;
      fresh = false;
      fd = await open(host);
    }
    try {
      const st0 = await s.host.fstat(p.dev, fd);
      if ((Number(st0.mode) & S_IFMT) !== S_IFREG) throw new ErrnoError(Errno.ENXIO, 'only regular files are opened');
      const st = fresh ? await own(s, ctx, dir, path, st0, body.mode) : st0;
      const entry_out = await entry(s, p, dir, name, st);
      const i = s.inodes.get(entry_out.nodeid)!;
      const fh = s.handles.add({ kind: 'file', fd, inode: i, writable: acc !== 0 });
      return { entry_out, open_out: { fh, open_flags: 0, backing_id: 0 } };
    } catch (e) {
      await s.host.close(p.dev, fd);
      throw e;
    }
  } finally {
    dir.release();
  }
}

export async function unlink(s: PassthroughState, ctx: FuseContext, body: NameIn): Promise<null> {
  const name = newName(body.name);
  const { p, dir } = await parentDir(s, ctx.nodeid);
  try {
    const path = dir.child(name);
    const st = await s.host.lstat(p.dev, path);
    await s.host.call(p.dev, () => fs.unlinkSync(path), () => fs.promises.unlink(path));
    s.inodes.unlinked(st.dev, st.ino, joinRel(p.path, name));
    return null;
  } finally {
    dir.release();
  }
}

export async function rmdir(s: PassthroughState, ctx: FuseContext, body: NameIn): Promise<null> {
  const name = newName(body.name);
  const { p, dir } = await parentDir(s, ctx.nodeid);
  try {
    const path = dir.child(name);
    const st = await s.host.lstat(p.dev, path);
    await s.host.call(p.dev, () => fs.rmdirSync(path), () => fs.promises.rmdir(path));
    const gone = s.inodes.byHost(st.dev, st.ino);
    if (gone) s.dirs.drop(gone.nodeid);
    return null;
  } finally {
    dir.release();
  }
}

export function rename(s: PassthroughState, ctx: FuseContext, body: RenameIn): Promise<null> {
  return rename2(s, ctx, { ...body, flags: 0 });
}

/** RENAME2's flags: RENAME_NOREPLACE and RENAME_EXCHANGE (renameat2, the addon). */
export async function rename2(s: PassthroughState, ctx: FuseContext, body: Rename2In): Promise<null> {
  const flags = body.flags;
  if ((flags & ~(K_RENAME_NOREPLACE | K_RENAME_EXCHANGE)) !== 0) throw new ErrnoError(Errno.EINVAL, 'RENAME2 flags');
  const oldName = newName(body.oldname);
  const newNameB = newName(body.newname);
  const src = await parentDir(s, ctx.nodeid);
  try {
    const dst = await parentDir(s, body.newdir);
    try {
      const from = src.dir.child(oldName);
      const to = dst.dir.child(newNameB);
      const before = await s.host.lstat(src.p.dev, from);
      const other = flags & K_RENAME_EXCHANGE ? await s.host.lstat(dst.p.dev, to) : undefined;
      // What a plain rename replaces loses that name.
      const replaced = flags === 0 ? await lstatOrNone(s, dst.p.dev, to) : undefined;
      if (flags !== 0) {
        if (!hostcalls) throw new ErrnoError(Errno.EINVAL, 'RENAME2 flags need tools/native (not built)');
        hostcalls.renameat2(src.dir.fd, oldName, dst.dir.fd, newNameB, flags);
      } else {
        await s.host.call(src.p.dev, () => fs.renameSync(from, to), () => fs.promises.rename(from, to));
      }
      // Held inodes are reached by their new paths from now on.
      const fromRel = joinRel(src.p.path, oldName);
      const toRel = joinRel(dst.p.path, newNameB);
      if (replaced && !(replaced.dev === before.dev && replaced.ino === before.ino)) s.inodes.unlinked(replaced.dev, replaced.ino, toRel);
      const moved = s.inodes.byHost(before.dev, before.ino);
      if (moved) s.inodes.moved(moved, dst.p, newNameB, toRel, fromRel);
      const swapped = other && s.inodes.byHost(other.dev, other.ino);
      if (swapped) s.inodes.moved(swapped, src.p, oldName, fromRel, toRel);
      if (moved && isDir(moved.mode)) s.dirs.drop(moved.nodeid);
      if (swapped && isDir(swapped.mode)) s.dirs.drop(swapped.nodeid);
      return null;
    } finally {
      dst.dir.release();
    }
  } finally {
    src.dir.release();
  }
}
