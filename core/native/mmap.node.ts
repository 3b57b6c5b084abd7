// The mapping addon (src/mmap.c, src/guard.c), loaded when it was built,
// with the reason when it was not: guest RAM and window ranges then take
// positioned I/O (docs/MEMORY.md).

import { loadAddon } from '../addon.node';

export interface MmapAddon {
  /**
   * Maps [offset, offset + len) of fd MAP_SHARED (offset a multiple of
   * pageSize). The buffer's finalizer unmaps it when it is collected; unmap()
   * does it at once.
   */
  mmap(fd: number, offset: number, len: number, writable: boolean): ArrayBuffer;
  /** munmap now and detach the buffer: every view of it reads length 0 after. Idempotent. */
  unmap(ab: ArrayBuffer): void;
  /**
   * Copies ab[offset, offset + dst.byteLength) into dst with SIGBUS caught;
   * returns the bytes copied before a page faulted (past the end of a
   * truncated file), the rest of dst zeroed. Throws EFAULT once unmapped.
   */
  copyFrom(ab: ArrayBuffer, offset: number, dst: ArrayBufferView): number;
  /** Copies src into ab at offset with SIGBUS caught; returns the bytes stored before a fault. */
  copyTo(ab: ArrayBuffer, offset: number, src: ArrayBufferView): number;
  /** A memfd (MFD_CLOEXEC) of size zero bytes, sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL. */
  memfdCreate(name: string, size: number): number;
  /** The fd's F_SEAL_* bits; 0 for a file that cannot carry seals. */
  getSeals(fd: number): number;
  readonly pageSize: number;
  readonly F_SEAL_SEAL: number;
  readonly F_SEAL_SHRINK: number;
  readonly F_SEAL_GROW: number;
  readonly F_SEAL_WRITE: number;
}

const loaded = loadAddon<MmapAddon>('core/native', 'mmap', 'npm ci builds it; it needs gcc and make');
/** The addon, or undefined when it is not built. */
export const mmapAddon: MmapAddon | undefined = loaded.addon;
/** Why there is no addon. */
export const mmapMissing: string | undefined = loaded.why;
