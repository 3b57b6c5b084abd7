// A host file range as a DAX window mapping shows it, mapped into this
// process (QEMU mmaps the range into the cache BAR; so do we). Host files
// can be truncated by anyone, so the mapping is never handed out as a view:
// every access is a guarded copy (the addon catches the SIGBUS of a page
// past the end of the file). A read that faults finishes with positioned
// reads, which show the bytes past the end as 0, exactly as HostFileRange
// does; a write that faults is an error (EFAULT), as a store through QEMU's
// mapping past the end would be.
//
// Coherence: release() — the window calls it once no mapping uses the
// range (cut, clear) — unmaps at once, so the range can never be read
// through a stale mapping; an access after it throws EFAULT.
//
// mmap wants a page-aligned file offset: the page-aligned span covering
// [foffset, foffset + len) is mapped, and only that range is served.

import * as fs from 'node:fs';
import { ErrnoError, Errno } from './errno';
import { HostFileRange } from './host-file.node';
import { mmapAddon, type MmapAddon } from './native/mmap.node';
import type { FileRange } from './window';

export class MappedFileRange implements FileRange {
  private ab: ArrayBuffer | undefined;
  /** File offset of the mapping's first byte (page-aligned). */
  readonly base: number;
  /** File offsets [start, end) this range serves. */
  readonly start: number;
  readonly end: number;
  private fdOpen = true;

  /**
   * Map [foffset, foffset + len) of fd (opened read-write for a writable
   * range). `owned`: close the fd on release. Throws when the addon is missing.
   */
  constructor(readonly fd: number, foffset: number, len: number, readonly writable: boolean, private readonly owned: boolean) {
    const addon = mmapAddon;
    if (!addon) throw new Error('mapped file range: the mmap addon is not built');
    if (!Number.isSafeInteger(foffset) || foffset < 0 || !Number.isSafeInteger(len) || len <= 0) {
      throw new RangeError(`mapped file range: bad range ${foffset}+${len}`);
    }
    this.base = foffset - (foffset % addon.pageSize);
    this.start = foffset;
    this.end = foffset + len;
    this.ab = addon.mmap(fd, this.base, this.end - this.base, writable);
  }

  /** Open a host path (e.g. /proc/<pid>/fd/<n>) and map the range; the fd is the range's own. */
  static open(path: string, foffset: number, len: number, writable: boolean): MappedFileRange {
    const fd = fs.openSync(path, writable ? 'r+' : 'r');
    try {
      return new MappedFileRange(fd, foffset, len, writable, true);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get released(): boolean { return this.ab === undefined; }

  read(pos: number, dst: Uint8Array): void {
    const ab = this.mapping(pos, dst.length);
    const n = (mmapAddon as MmapAddon).copyFrom(ab, pos - this.base, dst);
    if (n === dst.length) return;
    // A page past the end of the file (truncated under us), or a failed
    // page-in: positioned reads tell which (zeros, or the error).
    let done = n;
    while (done < dst.length) {
      const r = fs.readSync(this.fd, dst, done, dst.length - done, pos + done);
      if (r === 0) { dst.fill(0, done); return; }
      done += r;
    }
  }

  write(pos: number, src: Uint8Array): void {
    if (!this.writable) throw new ErrnoError(Errno.EFAULT, `mapped file range: write through a read mapping at ${pos}`);
    const ab = this.mapping(pos, src.length);
    const n = (mmapAddon as MmapAddon).copyTo(ab, pos - this.base, src);
    if (n < src.length) {
      throw new ErrnoError(Errno.EFAULT, `mapped file range: write past the end of the file at ${pos + n}`);
    }
  }

  /** Unmap now; close the fd when owned. Idempotent. */
  release(): void {
    if (this.ab) { const ab = this.ab; this.ab = undefined; (mmapAddon as MmapAddon).unmap(ab); }
    if (this.owned && this.fdOpen) { this.fdOpen = false; fs.closeSync(this.fd); }
  }

  private mapping(pos: number, len: number): ArrayBuffer {
    if (!this.ab) throw new ErrnoError(Errno.EFAULT, `mapped file range: unmapped (file offset ${pos}, len ${len})`);
    if (!Number.isSafeInteger(pos) || pos < this.start || pos + len > this.end) {
      throw new ErrnoError(Errno.EFAULT, `mapped file range: ${pos}+${len} outside [${this.start}, ${this.end})`);
    }
    return this.ab;
  }
}

/**
 * The FileRange a window mapping of [foffset, foffset + len) should use:
 * mapped when the addon is built and the file's filesystem can mmap,
 * positioned I/O (HostFileRange) otherwise. `source`: an fd (`owned`: close
 * it on release), or a host path (e.g. /proc/<pid>/fd/<n> from a MAP frame)
 * opened here, read-write for a writable range, and always owned.
 */
export function openFileRange(source: number | string, foffset: number, len: number, writable: boolean,
  owned = typeof source === 'string'): MappedFileRange | HostFileRange {
  const byPath = typeof source === 'string';
  const fd = byPath ? fs.openSync(source, writable ? 'r+' : 'r') : source;
  const own = byPath || owned;
  try {
    if (mmapAddon) {
      try {
        return new MappedFileRange(fd, foffset, len, writable, own);
      } catch (e) {
        // A filesystem that cannot mmap (ENODEV): positioned I/O still works.
        if ((e as { code?: string }).code !== 'ENODEV') throw e;
      }
    }
    return new HostFileRange(fd, own);
  } catch (e) {
    if (byPath) fs.closeSync(fd);
    throw e;
  }
}
