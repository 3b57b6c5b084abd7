// Guest RAM mapped into this process: a live `bytes` view over an mmap
// (MAP_SHARED) of the whole file, so GuestMemory's accesses are loads and
// stores, not syscalls, and the device model, the guest and a vhost-user
// backend still see the same bytes. Only for a file sealed against
// shrinking (F_SEAL_SHRINK, read on the very fd mapped): a peer that could
// truncate the file could otherwise SIGBUS us through a plain load, which
// nothing catches. ram.node.ts picks this or ShmFileBacking.

import * as fs from 'node:fs';
import { ErrnoError, Errno } from './errno';
import type { MemoryBacking } from './memory';
import { mmapAddon, mmapMissing, type MmapAddon } from './native/mmap.node';

/** Node's largest ArrayBuffer (buffer.constants.MAX_LENGTH on 64-bit Node 20). */
export const MAX_MAPPED = 2 ** 32;

/** Why the file behind fd cannot be mapped as RAM, or undefined when it can. */
export function unmappableWhy(fd: number, size: number): string | undefined {
  const addon = mmapAddon;
  if (!addon) return mmapMissing;
  if (!(addon.getSeals(fd) & addon.F_SEAL_SHRINK)) return 'the file is not sealed against shrinking (F_SEAL_SHRINK)';
  if (size > MAX_MAPPED) return `${size} bytes is more than one ArrayBuffer holds (${MAX_MAPPED})`;
  return undefined;
}

export class MappedFileBacking implements MemoryBacking {
  readonly bytes: Uint8Array;
  private ab: ArrayBuffer | undefined;
  private _fd: number;

  private constructor(private readonly addon: MmapAddon, readonly path: string, fd: number, readonly size: number) {
    this.ab = addon.mmap(fd, 0, size, true);
    this.bytes = new Uint8Array(this.ab);
    this._fd = fd;
  }

  /**
   * Map all of a read-write fd sealed against shrinking; throws, naming the
   * reason, otherwise (the fd stays the caller's then). Adopts the fd on
   * success: close() closes it. `file` names it for another process.
   */
  static map(fd: number, file: string): MappedFileBacking {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`mapped file ${file}: not a regular file`);
    if (st.size <= 0 || !Number.isSafeInteger(st.size)) throw new Error(`mapped file ${file}: bad size ${st.size}`);
    const why = unmappableWhy(fd, st.size);
    if (why !== undefined) throw new Error(`mapped file ${file}: ${why}`);
    return new MappedFileBacking(mmapAddon!, file, fd, st.size);
  }

  get fd(): number {
    if (this._fd < 0) throw new Error(`mapped file ${this.path}: closed`);
    return this._fd;
  }

  get closed(): boolean { return this._fd < 0; }

  read(offset: number, dst: Uint8Array): void {
    if (!this.ab) throw this.unmapped(offset, dst.length);
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }

  write(offset: number, src: Uint8Array): void {
    if (!this.ab) throw this.unmapped(offset, src.length);
    this.bytes.set(src, offset);
  }

  /** Unmap (every view of `bytes` is detached: no access reaches the file after) and close the fd. Idempotent. */
  close(): void {
    if (this.ab) { const ab = this.ab; this.ab = undefined; this.addon.unmap(ab); }
    if (this._fd >= 0) { const fd = this._fd; this._fd = -1; fs.closeSync(fd); }
  }

  /** A memfd has no name to remove: nothing to do (as ShmFileBacking.unlink() after the first). */
  unlink(): void {}

  private unmapped(offset: number, len: number): ErrnoError {
    return new ErrnoError(Errno.EFAULT, `mapped file ${this.path}: unmapped (offset ${offset}, len ${len})`);
  }
}
