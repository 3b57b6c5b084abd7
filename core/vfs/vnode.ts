// The VFS's in-memory node: one per (mount, ino) while anything refers to
// it (an open file, a mount, a path walk in progress). When the last
// reference goes, the vnode leaves the cache and the filesystem is told
// (vnops.inactive), so it can forget the node.

import { Errno, ErrnoError } from '../errno';
import type { FsEntry } from './fs';
import type { Mount } from './mount';
import { S_IFMT, validFileType } from './stat';

export class Vnode {
  /** References held; 0 means dropped. */
  refcnt = 1;
  /** The mount whose root covers this directory, if any. */
  mountedHere: Mount | null = null;

  constructor(
    readonly mount: Mount,
    /** Identity within the mount (FUSE: nodeid). */
    readonly ino: bigint,
    /** S_IFMT bits. */
    readonly type: number,
    /** The filesystem's private data (OSv's v_data). */
    public data: unknown,
  ) {}
}

/** A referenced vnode for `entry`: the cached one, or a new one. */
export function vget(mount: Mount, entry: FsEntry): Vnode {
  if (entry === null || typeof entry !== 'object' || typeof entry.ino !== 'bigint'
      || typeof entry.mode !== 'number' || !validFileType(entry.mode)) {
    throw new ErrnoError(Errno.EIO, `${mount.fsType.name}: bad node from filesystem`);
  }
  const cached = mount.vnodes.get(entry.ino);
  if (cached) {
    cached.refcnt++;
    return cached;
  }
  const vp = new Vnode(mount, entry.ino, entry.mode & S_IFMT, entry.data);
  mount.vnodes.set(entry.ino, vp);
  return vp;
}

export function vref(vp: Vnode): Vnode {
  vp.refcnt++;
  return vp;
}

/** Drops one reference; the last one removes the vnode and tells the fs. */
export function vrele(vp: Vnode): void {
  if (vp.refcnt <= 0) throw new Error('vrele: vnode not referenced');
  if (--vp.refcnt > 0) return;
  const mount = vp.mount;
  if (mount.vnodes.get(vp.ino) === vp) mount.vnodes.delete(vp.ino);
  try {
    const r = mount.fs.vnops.inactive(vp);
    if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(() => {});
  } catch {
    // A drop cannot fail from the caller's side; the fs keeps its own books.
  }
}
