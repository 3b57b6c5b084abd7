// What the DAX window manager needs from a virtio-fs device: the cache window
// (shared-memory region 0) and the two FUSE requests that change it. The real
// driver implements it; tests use MemoryDaxDevice.

/** The cache window as the guest sees it. Reads never fault: ranges the
 *  manager reads are always inside `size` and mapped. */
export interface DaxWindow {
  readonly size: number;
  /** Copies dst.length bytes at window offset moffset into dst. */
  read(moffset: number, dst: Uint8Array): void;
}

/** fuse_setupmapping_in, with the file's nodeid (the request's header). */
export interface SetupMappingArgs {
  readonly nodeid: bigint;
  readonly fh: bigint;
  readonly foffset: number;
  readonly len: number;
  readonly moffset: number;
  /** FUSE_SETUPMAPPING_FLAG_WRITE; reads map read-only (seed 001). */
  readonly write: boolean;
}

/** fuse_removemapping_one. */
export interface RemoveMappingRange {
  readonly moffset: number;
  readonly len: number;
}

export interface DaxDevice {
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
