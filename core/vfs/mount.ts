// One mounted filesystem instance: where it sits in the namespace, its
// vfsops, and its vnode cache.

import type { FileSystemType, MountedFs, MountOptions } from './fs';
import type { Vnode } from './vnode';

export class Mount {
  /** Cached vnodes by ino; each has refcnt > 0. */
  readonly vnodes = new Map<bigint, Vnode>();
  /** The mount's root vnode (referenced by the mount); set right after mounting. */
  root!: Vnode;
  /** Open files on this mount. */
  openFiles = 0;
  /** Set by umount; calls on files left open by a forced umount fail with EIO. */
  dead = false;

  constructor(
    readonly id: number,
    readonly fsType: FileSystemType,
    readonly source: string,
    /** Normalized absolute path of the mount point. */
    readonly target: string,
    readonly options: Readonly<MountOptions>,
    readonly fs: MountedFs,
    /** The directory this mount covers (referenced); null for "/". */
    readonly covered: Vnode | null,
    readonly parent: Mount | null,
  ) {}

  get readonly(): boolean { return this.options.ro === true; }
  get vnodeCount(): number { return this.vnodes.size; }
}
