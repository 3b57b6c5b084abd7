// Confinement of every host access to the shared root. Node has no openat,
// so each inode keeps a path relative to root made of checked components,
// and every use goes through a directory fd that was opened and verified:
//   - a directory is reopened through /proc/self/fd/<rootfd>/<path> with
//     O_DIRECTORY|O_NOFOLLOW and its (dev, ino) compared with the one
//     recorded at lookup (ESTALE on mismatch), before anything is read;
//   - a name inside it is then reached as /proc/self/fd/<dirfd>/<name>,
//     which the kernel resolves from the open directory itself (the way
//     virtiofsd uses /proc/self/fd), with lstat or O_NOFOLLOW.
// What remains racy is documented in docs/PASSTHROUGH.md.

import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { Errno, ErrnoError } from '../../../core/errno';

// libuv opens every fd with O_CLOEXEC.
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SLASH = Buffer.from('/');

/** Why a LOOKUP name is refused (errno), or 0. The codec already refused
 *  empty names, '/' and NUL; '.' and '..' are refused here (EINVAL) since
 *  the share offers no FUSE_EXPORT_SUPPORT and Linux never sends them. */
export function lookupNameErrno(name: Uint8Array): number {
  if (name.length === 0 || name.indexOf(0) >= 0 || name.indexOf(0x2f) >= 0) return Errno.EINVAL;
  if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) {
    return Errno.EINVAL;
  }
  return 0;
}

export function isDotOrDotdot(name: Buffer): boolean {
  return name.equals(DOT) || name.equals(DOTDOT);
}

/** A directory fd whose identity was checked; close it when done. */
export interface VerifiedDir {
  readonly handle: fs.promises.FileHandle;
  readonly stat: BigIntStats;
  /** /proc/self/fd/<fd>/<name>: a name resolved from this directory. */
  child(name: Buffer): Buffer;
  /** The same for another process (lsattr): /proc/<pid>/fd/<fd>/<name>. */
  childForChild(name: string): string;
  close(): Promise<void>;
}

export class Confine {
  readonly rootFd: number;
  readonly rootDev: bigint;
  readonly rootIno: bigint;

  /** Opens the root synchronously: a missing or non-directory root is a
   *  configuration error the constructor reports. */
  constructor(readonly root: string) {
    this.rootFd = fs.openSync(root, O_RDONLY | O_DIRECTORY);
    const st = fs.fstatSync(this.rootFd, { bigint: true });
    this.rootDev = st.dev;
    this.rootIno = st.ino;
  }

  /** The host path of `rel` (relative to root; empty for the root). */
  hostPath(rel: Buffer): Buffer {
    const base = Buffer.from(`/proc/self/fd/${this.rootFd}`);
    return rel.length === 0 ? base : Buffer.concat([base, SLASH, rel]);
  }

  /** Opens the directory at `rel` and checks it is still (dev, ino). */
  async openDir(rel: Buffer, dev: bigint, ino: bigint): Promise<VerifiedDir> {
    // The root is reached through its own magic link, which O_NOFOLLOW
    // would refuse; every other path ends in a real name.
    const flags = O_RDONLY | O_DIRECTORY | (rel.length === 0 ? 0 : O_NOFOLLOW);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.hostPath(rel), flags);
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A component swapped for a symlink or a file: the inode is gone.
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') throw new ErrnoError(Errno.ESTALE, 'directory moved');
      throw e;
    }
    let stat: BigIntStats;
    try {
      stat = await handle.stat({ bigint: true });
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    if (stat.dev !== dev || stat.ino !== ino) {
      await handle.close().catch(() => undefined);
      throw new ErrnoError(Errno.ESTALE, 'directory replaced since lookup');
    }
    const prefix = Buffer.from(`/proc/self/fd/${handle.fd}/`);
    const pid = process.pid;
    return {
      handle, stat,
      child: (name) => Buffer.concat([prefix, name]),
      childForChild: (name) => `/proc/${pid}/fd/${handle.fd}/${name}`,
      close: () => handle.close().catch(() => undefined),
    };
  }

  close(): void {
    try { fs.closeSync(this.rootFd); } catch { /* already closed */ }
  }
}

/** Joins a checked component to a relative path. */
export function joinRel(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 0 ? Buffer.from(name) : Buffer.concat([dir, SLASH, name]);
}
