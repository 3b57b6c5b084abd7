// What the passthrough backend needs from the DAX window: map a host file
// range into it and unmap ranges. The session implements it over the window
// (and tells a remote guest of each change before resolving).

export interface DaxMapping {
  /** Offset in the window. */
  moffset: number;
  len: number;
  /** Host fd of the open file; valid only for the duration of the call
   *  (the backend may close it on RELEASE), so an implementation that
   *  needs it later must dup or mmap it before resolving. */
  fd: number;
  /** Offset in the file. */
  foffset: number;
  /** A write mapping (FUSE_SETUPMAPPING_FLAG_WRITE). */
  writable: boolean;
}

export interface DaxRange {
  moffset: number;
  len: number;
}

export interface DaxMapper {
  /** Bytes in the window (shared-memory region 0). */
  readonly windowSize: number;
  /** Resolves once the window shows the range; rejects (ideally with an
   *  ErrnoError) when it cannot. */
  map(m: DaxMapping): Promise<void>;
  unmap(ranges: DaxRange[]): Promise<void>;
}
