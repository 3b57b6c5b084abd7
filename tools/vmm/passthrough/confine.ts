// Confinement of every host access to the shared root. Node has no openat,
// so each inode keeps a path relative to root made of checked components,
// and every use goes through a directory fd that was opened and verified:
//   - a directory is opened through /proc/self/fd/<rootfd>/<path> with
//     O_DIRECTORY|O_NOFOLLOW and its (dev, ino) compared with the one
//     recorded at lookup (ESTALE on mismatch), before anything is read;
//   - a directory fd kept open (DirCache) is used again only after an lstat
//     of the same path shows the path still leads to it (checkDir);
//   - a name inside it is then reached as /proc/self/fd/<dirfd>/<name>,
//     which the kernel resolves from the open directory itself (the way
//     virtiofsd uses /proc/self/fd), with lstat or O_NOFOLLOW.
// What remains racy is documented in docs/PASSTHROUGH.md.

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core';
import { DirFd } from './dir-cache';
import { HostCalls } from './host';
import { isDir } from './host-attrs';

// libuv opens every fd with O_CLOEXEC.
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SLASH = Buffer.from('/');

/** Longest name a host filesystem takes (NAME_MAX). */
export const HOST_NAME_MAX = 255;

/** Why a name in a request is refused (errno), or 0. The codec already
 *  refused empty names, '/' and NUL; over 255 bytes is ENAMETOOLONG, as the
 *  host would answer; '.' and '..' are refused (EINVAL) since the share
 *  offers no FUSE_EXPORT_SUPPORT and Linux never sends them. */
export function lookupNameErrno(name: Uint8Array): number {
  if (name.length === 0 || name.indexOf(0) >= 0 || name.indexOf(0x2f) >= 0) return Errno.EINVAL;
  if (name.length > HOST_NAME_MAX) return Errno.ENAMETOOLONG;
  if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) {
    return Errno.EINVAL;
  }
  return 0;
}

export function isDotOrDotdot(name: Buffer): boolean {
  return name.equals(DOT) || name.equals(DOTDOT);
}

/** A component swapped for a symlink or a file, or gone: the inode is gone. */
function staleOnWalkError(e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') throw new ErrnoError(Errno.ESTALE, 'directory moved');
  throw e;
}

export class Confine {
  readonly rootFd: number;
  readonly rootDev: bigint;
  readonly rootIno: bigint;
  /** The root as a DirFd that is never closed by its users. */
  readonly rootDir: DirFd;
  private readonly rootPath: Buffer;

  /** Opens the root synchronously: a missing or non-directory root is a
   *  configuration error the constructor reports. */
  constructor(readonly root: string, private readonly host: HostCalls) {
    this.rootFd = fs.openSync(root, O_RDONLY | O_DIRECTORY);
    const st = fs.fstatSync(this.rootFd, { bigint: true });
    this.rootDev = st.dev;
    this.rootIno = st.ino;
    this.rootDir = new DirFd(this.rootFd, st, null);
    this.rootPath = Buffer.from(`/proc/self/fd/${this.rootFd}`);
  }

  /** The host path of `rel` (relative to root; empty for the root). */
  hostPath(rel: Buffer): Buffer {
    return rel.length === 0 ? this.rootPath : Buffer.concat([this.rootPath, SLASH, rel]);
  }

  /** Opens the directory at `rel` (not the root) and checks it is still
   *  (dev, ino). The DirFd has no user yet and closes when dropped. */
  async openDir(rel: Buffer, dev: bigint, ino: bigint): Promise<DirFd> {
    let fd: number;
    try {
      fd = await this.host.open(dev, this.hostPath(rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (e) {
      staleOnWalkError(e);
    }
    let stat: BigIntStats;
    try {
      stat = await this.host.fstat(dev, fd);
    } catch (e) {
      await this.host.close(dev, fd);
      throw e;
    }
    if (stat.dev !== dev || stat.ino !== ino) {
      await this.host.close(dev, fd);
      throw new ErrnoError(Errno.ESTALE, 'directory replaced since lookup');
    }
    return new DirFd(fd, stat, (n) => { void this.host.close(dev, n); });
  }

  /** Checks that `rel` (not the root) still leads to the directory held by
   *  `d`: the same check as openDir's, for an fd opened earlier. */
  async checkDir(rel: Buffer, d: DirFd): Promise<void> {
    const { dev, ino } = d.stat;
    let st: BigIntStats;
    try {
      st = await this.host.lstat(dev, this.hostPath(rel));
    } catch (e) {
      staleOnWalkError(e);
    }
    // The birth time too: a directory removed and another made soon gets its inode number.
    if (st.dev !== dev || st.ino !== ino || st.birthtimeNs !== d.stat.birthtimeNs || !isDir(Number(st.mode))) {
      throw new ErrnoError(Errno.ESTALE, 'directory replaced since lookup');
    }
    d.stat = st;
  }

  close(): void {
    try { fs.closeSync(this.rootFd); } catch { /* already closed */ }
  }
}

/** Joins a checked component to a relative path. */
export function joinRel(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 0 ? Buffer.from(name) : Buffer.concat([dir, SLASH, name]);
}
