// A device shared-memory region whose ranges show host file ranges: the
// virtio-fs DAX cache window. QEMU mmaps a file range into the cache BAR; we
// keep a table of mappings and route each access to the file, so reads see
// the host page cache and writes through a write mapping land in the file,
// without copying at map time. The device model fills the table (in one
// process the guest shares it; across processes the guest keeps its own copy,
// fed by MAP/UNMAP frames). An access to an unmapped range, or a write
// through a read mapping, is a fault, as touching an unmapped BAR page is.

import type { MemoryBacking } from './memory';

/** A host file as the window reaches it (positioned reads and writes). */
export interface FileRange {
  /** Fill dst from file offset `pos`; bytes past the end of the file read 0. */
  read(pos: number, dst: Uint8Array): void;
  write(pos: number, src: Uint8Array): void;
  /** Called when no mapping uses this file any more. */
  release?(): void;
}

export interface WindowMapping {
  readonly moffset: number;
  readonly len: number;
  readonly file: FileRange;
  readonly foffset: number;
  readonly writable: boolean;
}

export class WindowFault extends Error {
  constructor(readonly moffset: number, readonly len: number, reason: string) {
    super(`dax window: ${reason} (moffset 0x${moffset.toString(16)}, len ${len})`);
    this.name = 'WindowFault';
  }
}

export class WindowBacking implements MemoryBacking {
  /** Sorted by moffset, never overlapping. */
  private maps: WindowMapping[] = [];

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`window size ${size}`);
  }

  mappings(): readonly WindowMapping[] {
    return this.maps;
  }

  /** Show [foffset, foffset+len) of `file` at [moffset, moffset+len); replaces what was there. */
  map(moffset: number, len: number, file: FileRange, foffset: number, writable: boolean): void {
    this.checkRange(moffset, len);
    if (!Number.isSafeInteger(foffset) || foffset < 0) throw new WindowFault(moffset, len, `bad file offset ${foffset}`);
    const cut = this.cut(moffset, len);
    const m: WindowMapping = { moffset, len, file, foffset, writable };
    this.maps.splice(cut, 0, m);
  }

  /** Remove whatever is mapped in [moffset, moffset+len). */
  unmap(moffset: number, len: number): void {
    this.checkRange(moffset, len);
    this.cut(moffset, len);
  }

  clear(): void {
    const old = this.maps;
    this.maps = [];
    for (const file of new Set(old.map((m) => m.file))) file.release?.();
  }

  read(offset: number, dst: Uint8Array): void {
    this.each(offset, dst.length, false, (m, at, pos, n) => m.file.read(pos, dst.subarray(at, at + n)));
  }

  write(offset: number, src: Uint8Array): void {
    this.each(offset, src.length, true, (m, at, pos, n) => m.file.write(pos, src.subarray(at, at + n)));
  }

  // --- internals -----------------------------------------------------------

  private checkRange(moffset: number, len: number): void {
    if (!Number.isSafeInteger(moffset) || !Number.isSafeInteger(len) || moffset < 0 || len <= 0
        || moffset + len > this.size) {
      throw new WindowFault(moffset, len, `range outside the window of ${this.size} bytes`);
    }
  }

  /** Index of the first mapping ending after `offset`. */
  private search(offset: number): number {
    let lo = 0;
    let hi = this.maps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.maps[mid];
      if (m.moffset + m.len <= offset) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Clear [moffset, moffset+len), trimming mappings that stick out; returns the insert index. */
  private cut(moffset: number, len: number): number {
    const end = moffset + len;
    let i = this.search(moffset);
    const removed: WindowMapping[] = [];
    const kept: WindowMapping[] = [];
    let j = i;
    while (j < this.maps.length && this.maps[j].moffset < end) {
      const m = this.maps[j];
      removed.push(m);
      if (m.moffset < moffset) kept.push({ ...m, len: moffset - m.moffset });
      const mEnd = m.moffset + m.len;
      if (mEnd > end) kept.push({ ...m, moffset: end, len: mEnd - end, foffset: m.foffset + (end - m.moffset) });
      j++;
    }
    this.maps.splice(i, j - i, ...kept);
    if (kept.length > 0 && kept[0].moffset < moffset) i++;
    for (const file of new Set(removed.map((m) => m.file))) this.releaseIfUnused(file);
    return i;
  }

  private releaseIfUnused(file: FileRange): void {
    if (file.release && !this.maps.some((m) => m.file === file)) file.release();
  }

  private each(offset: number, len: number, write: boolean,
    fn: (m: WindowMapping, at: number, pos: number, n: number) => void): void {
    if (len === 0) return;
    const end = offset + len;
    let at = offset;
    for (let i = this.search(offset); at < end; i++) {
      const m = this.maps[i];
      if (!m || m.moffset > at) throw new WindowFault(at, end - at, 'access to an unmapped range');
      if (write && !m.writable) throw new WindowFault(at, end - at, 'write through a read mapping');
      const n = Math.min(end, m.moffset + m.len) - at;
      fn(m, at - offset, m.foffset + (at - m.moffset), n);
      at += n;
    }
  }
}
