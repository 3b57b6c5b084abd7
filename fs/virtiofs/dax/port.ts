// What the DAX window manager needs of a virtio-fs device: the cache window's
// bytes (shared-memory region 0) and the two FUSE requests that change what
// it shows. OSv's manager reaches its device through a handful of calls the
// same way, which is what makes it testable alone. The filesystem's
// SessionDaxPort implements it over a FUSE session; tests use MemoryDaxPort.

/** The cache window's bytes as the manager reaches them, by window offset.
 *  Ranges the manager reads are inside `size` and mapped; ranges it writes
 *  are mapped for writing (a write through a read mapping is a fault, as a
 *  store to a read-only page of the cache BAR is). Either may throw when
 *  the host file cannot be reached; the manager then falls back. */
export interface DaxWindow {
  readonly size: number;
  /** Copies dst.length bytes at window offset moffset into dst. */
  read(moffset: number, dst: Uint8Array): void;
  /** Copies src into the window at moffset: into the host file it shows. */
  write(moffset: number, src: Uint8Array): void;
}

/** fuse_setupmapping_in, with the file's nodeid (the request's header). */
export interface SetupMappingArgs {
  readonly nodeid: bigint;
  readonly fh: bigint;
  readonly foffset: number;
  readonly len: number;
  readonly moffset: number;
  /** FUSE_SETUPMAPPING_FLAG_WRITE: a write mapping (the server reserves
   *  the host blocks, so ENOSPC comes here); reads map read-only (read and
   *  write DAX mappings, Liu Bo, 2019). */
  readonly write: boolean;
}

/** fuse_removemapping_one. */
export interface RemoveMappingRange {
  readonly moffset: number;
  readonly len: number;
}

export interface DaxPort {
  readonly window: DaxWindow;
  /** FUSE_SETUPMAPPING; rejects with ErrnoError (ENOSYS: the server cannot map). */
  setupMapping(args: SetupMappingArgs): Promise<void>;
  /** One FUSE_REMOVEMAPPING request; at most REMOVEMAPPING_MAX_RANGES ranges. */
  removeMapping(ranges: readonly RemoveMappingRange[]): Promise<void>;
}

/** Linux's FUSE_REMOVEMAPPING_MAX_ENTRY: one page of fuse_removemapping_one (16 bytes). */
export const REMOVEMAPPING_MAX_RANGES = 4096 / 16;

/** log2 of the page size, the map alignment assumed when FUSE_INIT announces none. */
export const PAGE_SHIFT = 12;
