// The DAX window manager: OSv's virtiofs::dax_manager (fs/virtiofs/
// virtiofs_dax.{hh,cc}) ported, with its known flaws fixed (docs/DAX.md).
//
// Policy, as OSv: the window is split into equal chunks; a mapping occupies
// consecutive chunks; new mappings go on the lowest free chunks, above the
// last mapping; when too few are free the highest (most recently mapped)
// chunks are evicted, so the window is a stack (LIFO). One manager per device.

import { Errno, ErrnoError } from '../../../core/errno';
import { DaxDevice, PAGE_SHIFT, REMOVEMAPPING_MAX_RANGES, RemoveMappingRange } from './device';
import { AsyncMutex } from './mutex';
import { Mapping, MappingPart, MappingStack } from './stack';
import { DaxFallbackReason, DaxStats } from './stats';

export type { MappingPart } from './stack';

/** What read() needs of an inode: OSv's virtiofs_inode nodeid and attr.size. */
export interface DaxInode {
  readonly nodeid: bigint;
  readonly size: number;
}

/** Where read() reads: file offset, and the buffer filled from its start. */
export interface DaxUio {
  readonly offset: number;
  readonly dst: Uint8Array;
}

export interface DaxFallback {
  readonly reason: DaxFallbackReason;
  /** The errno behind it (ENODEV for 'no-window', ENOSYS for 'enosys'...). */
  readonly errno: number;
}

/** bytes were read through the window into dst[0..bytes). If fallback is
 *  set, the rest (from offset + bytes) must be read with FUSE_READ. */
export interface DaxReadResult {
  readonly bytes: number;
  readonly fallback: DaxFallback | null;
}

export interface DaxManagerOptions {
  /** Bytes per chunk; a multiple of the map alignment. Default 2 MiB. */
  chunkSize?: number;
  /** log2 of the alignment FUSE_INIT announced (its map_alignment field);
   *  undefined or negative when none was announced: the page size is used. */
  mapAlignment?: number;
}

/** One mapping of the stack as the shell draws it. nodeid null: a dropped
 *  file's chunks, held until evicted. */
export interface DaxSnapshotMapping {
  readonly nodeid: bigint | null;
  readonly mstart: number;
  readonly nchunks: number;
  readonly fstart: number;
  readonly foffset: number;
  readonly moffset: number;
}

export interface DaxSnapshot {
  readonly chunkSize: number;
  readonly windowChunks: number;
  readonly firstEmpty: number;
  readonly canMap: boolean;
  readonly mappings: DaxSnapshotMapping[];
}

/** Owner of a window chunk whose device state is unknown (failed SETUPMAPPING). */
const UNKNOWN = -1n;

export class DaxManager {
  static readonly DEFAULT_CHUNK_SIZE = 1 << 21;

  readonly chunkSize: number;
  readonly windowChunks: number;
  /** log2 of the alignment in force (PAGE_SHIFT when none was announced). */
  readonly mapAlignment: number;
  readonly stats = new DaxStats();

  private readonly stack: MappingStack;
  private readonly lock = new AsyncMutex();
  private mappingPossible = true;
  /** What the device may still have mapped in each chunk (evicted chunks
   *  keep their device mapping until a SETUPMAPPING over them). */
  private readonly owner = new Map<number, bigint>();
  private readonly ownedChunks = new Map<bigint, number>();

  constructor(private readonly device: DaxDevice, options: DaxManagerOptions = {}) {
    const chunkSize = options.chunkSize ?? DaxManager.DEFAULT_CHUNK_SIZE;
    const announced = options.mapAlignment;
    // OSv shifts by get_map_alignment() even when it is -1 (not announced).
    const align = announced === undefined || announced < 0 ? PAGE_SHIFT : announced;
    if (!Number.isInteger(align) || align > 52) {
      throw new ErrnoError(Errno.EINVAL, `dax: bad map alignment ${announced}`);
    }
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize % 2 ** align !== 0) {
      throw new ErrnoError(Errno.EINVAL, `dax: chunk size ${chunkSize} is not a multiple of 2^${align}`);
    }
    this.chunkSize = chunkSize;
    this.mapAlignment = align;
    const size = device.window.size;
    // A remainder smaller than a chunk is left unused, as in OSv. Chunk
    // numbers are kept in 32 bits: 2^32 chunks is far beyond any window.
    this.windowChunks = Number.isSafeInteger(size) && size > 0 ? Math.min(Math.floor(size / chunkSize), 0xffffffff) : 0;
    this.stack = new MappingStack(this.windowChunks);
  }

  /** False once the server answered ENOSYS to FUSE_SETUPMAPPING, or without a window. */
  get canMap(): boolean {
    return this.mappingPossible && this.windowChunks > 0;
  }

  /**
   * OSv's dax_manager::read(): reads readAmt bytes of inode at uio.offset into
   * uio.dst through the window, clamped to the file size and dst. A chunk run
   * found mapped is copied at once; otherwise just enough chunks are mapped
   * (or, if aggressive, the rest of the file). Unlike OSv, which returns after
   * one run (a short read), it goes on until readAmt is read. Never rejects
   * for device errors: they come back as a fallback (the caller uses FUSE_READ).
   */
  async read(inode: DaxInode, fh: bigint, readAmt: number, uio: DaxUio, aggressive = false): Promise<DaxReadResult> {
    const { nodeid, size } = inode;
    const offset = uio.offset;
    if (!isCount(offset) || !isCount(readAmt) || !isCount(size)) {
      throw new ErrnoError(Errno.EINVAL, `dax read: offset ${offset}, amount ${readAmt}, size ${size}`);
    }
    const want = Math.min(readAmt, uio.dst.length, Math.max(0, size - offset));
    if (want === 0) return { bytes: 0, fallback: null };
    if (this.windowChunks === 0) return this.fallback('no-window', Errno.ENODEV, 0);

    const cs = this.chunkSize;
    let done = 0;
    while (done < want) {
      const pos = offset + done;
      const fstart = Math.floor(pos / cs);
      const coffset = pos - fstart * cs; // offset within the chunk
      let mp = this.stack.find(nodeid, fstart);
      if (mp) {
        // Mapped: copy now. No await between find and copy, so nothing can
        // re-map these chunks under us.
        this.stats.hits++;
        const n = this.copy(mp, coffset, uio.dst, done, want - done);
        if (n < 0) return this.fallback('copy', Errno.EFAULT, done);
        done += n;
        continue;
      }
      if (!this.mappingPossible) {
        this.stats.misses++;
        return this.fallback('enosys', Errno.ENOSYS, done);
      }
      const release = await this.lock.lock();
      try {
        mp = this.stack.find(nodeid, fstart); // mapped while we waited?
        if (mp) this.stats.hits++;
        else {
          this.stats.misses++;
          if (!this.mappingPossible) return this.fallback('enosys', Errno.ENOSYS, done);
          const toMap = coffset + (aggressive ? size - pos : want - done);
          try {
            mp = await this.map(nodeid, fh, Math.ceil(toMap / cs), fstart, true);
          } catch (e) {
            const errno = e instanceof ErrnoError ? e.errno : Errno.EIO;
            if (errno === Errno.ENOSYS) {
              this.mappingPossible = false;
              return this.fallback('enosys', errno, done);
            }
            return this.fallback('setupmapping', errno, done);
          }
        }
        // Copy with the lock held, as OSv: the chunks just mapped cannot be
        // chosen by another read's SETUPMAPPING before we are done.
        const n = this.copy(mp, coffset, uio.dst, done, want - done);
        if (n < 0) return this.fallback('copy', Errno.EFAULT, done);
        done += n;
      } finally {
        release();
      }
    }
    this.stats.bytesDax += done;
    return { bytes: done, fallback: null };
  }

  /**
   * The hit path of read(), synchronous: copies min(dst.length, size - offset)
   * bytes of inode at offset into dst when every chunk they span is mapped
   * now, and returns how many (0 at or past the end of file). Returns -1,
   * having counted nothing, when a chunk is not mapped or the copy failed:
   * the caller then uses read(). Safe with reads and maps in flight for the
   * reason read()'s hits are: chunks being re-mapped are off the stack (map()
   * evicts before its SETUPMAPPING and pushes after the reply), and nothing
   * runs between the lookup and the copy.
   */
  readHit(inode: DaxInode, offset: number, dst: Uint8Array): number {
    const size = inode.size;
    if (!isCount(offset) || !isCount(size)) return -1;
    const want = Math.min(dst.length, size - offset);
    if (want <= 0) return 0;
    if (this.windowChunks === 0) return -1;
    const nodeid = inode.nodeid;
    const cs = this.chunkSize;
    const stack = this.stack;
    const fstart = Math.floor(offset / cs);
    const coffset = offset - fstart * cs;
    const mc = stack.lookup(nodeid, fstart);
    if (mc < 0) return -1;
    const avail = (stack.runEnd(mc) - mc) * cs - coffset;
    if (avail >= want) {
      // One run holds it all: the common case.
      try {
        this.device.window.read(mc * cs + coffset, want === dst.length ? dst : dst.subarray(0, want));
      } catch {
        return -1;
      }
      this.stats.hits++;
      this.stats.bytesDax += want;
      return want;
    }
    // Several runs: check them all before copying, so a miss costs no copy
    // and leaves the statistics alone.
    let runs = 1;
    for (let pos = offset + avail; pos < offset + want; runs++) {
      const f = Math.floor(pos / cs);
      const m = stack.lookup(nodeid, f);
      if (m < 0) return -1;
      pos = (f + stack.runEnd(m) - m) * cs;
    }
    let done = 0;
    while (done < want) {
      const pos = offset + done;
      const f = Math.floor(pos / cs);
      const mp = stack.find(nodeid, f)!;
      const n = this.copy(mp, pos - f * cs, dst, done, want - done);
      if (n < 0) return -1;
      done += n;
    }
    this.stats.hits += runs;
    this.stats.bytesDax += want;
    return want;
  }

  /**
   * OSv's map(): maps up to nchunks chunks of nodeid from file chunk fstart
   * on top of the stack, evicting the highest chunks first if evict. Rejects
   * with ENOBUFS when nothing fits and !evict, or with SETUPMAPPING's errno.
   * Callers other than read() must not overlap calls (OSv: _lock held).
   */
  async map(nodeid: bigint, fh: bigint, nchunks: number, fstart: number, evict = false): Promise<MappingPart> {
    let empty = this.windowChunks - this.stack.firstEmpty();
    if (evict && empty < nchunks) {
      // Evicted chunks are not removed on the device: the SETUPMAPPING
      // that reuses them replaces what they show.
      empty += this.evict(nchunks - empty).nchunks;
    }
    const toMap = Math.min(nchunks, empty);
    const mstart = this.windowChunks - empty;
    if (toMap <= 0) {
      if (nchunks === 0) return { mstart, nchunks: 0 };
      throw new ErrnoError(Errno.ENOBUFS, 'dax window full');
    }
    await this.mapLl(nodeid, fh, toMap, fstart, mstart);
    this.stack.push(nodeid, toMap, fstart, mstart);
    return { mstart, nchunks: toMap };
  }

  /**
   * OSv's unmap(): takes the nchunks highest chunks off the stack, also
   * sending FUSE_REMOVEMAPPING for them if deep. Returns what was unmapped
   * (mstart: the new first empty chunk). Rejects with ENODATA when the stack
   * is empty and nchunks > 0.
   */
  async unmap(nchunks: number, deep = false): Promise<MappingPart> {
    const top = this.stack.firstEmpty();
    const toUnmap = Math.min(nchunks, top);
    if (toUnmap <= 0) {
      if (nchunks === 0) return { mstart: top, nchunks: 0 };
      throw new ErrnoError(Errno.ENODATA, 'dax window empty');
    }
    if (deep) await this.unmapLl(toUnmap, top - toUnmap);
    this.evict(toUnmap);
    return { mstart: this.stack.firstEmpty(), nchunks: toUnmap };
  }

  /** OSv's map_ll(): one FUSE_SETUPMAPPING (read-only) of nchunks chunks. */
  async mapLl(nodeid: bigint, fh: bigint, nchunks: number, fstart: number, mstart: number): Promise<void> {
    this.checkRange(nchunks, mstart);
    const cs = this.chunkSize;
    this.stats.setupMappingSent++;
    try {
      await this.device.setupMapping({ nodeid, fh, foffset: fstart * cs, len: nchunks * cs, moffset: mstart * cs, write: false });
    } catch (e) {
      const err = e instanceof ErrnoError ? e : new ErrnoError(Errno.EIO, String(e));
      // ENOSYS: nothing was mapped. Otherwise the device may hold anything there.
      if (err.errno !== Errno.ENOSYS) this.setOwner(mstart, nchunks, UNKNOWN);
      throw err;
    }
    this.setOwner(mstart, nchunks, nodeid);
    this.stats.chunksMapped += nchunks;
  }

  /** OSv's unmap_ll(): one FUSE_REMOVEMAPPING of nchunks chunks from mstart. */
  async unmapLl(nchunks: number, mstart: number): Promise<void> {
    this.checkRange(nchunks, mstart);
    await this.removeRanges([{ moffset: mstart * this.chunkSize, len: nchunks * this.chunkSize }]);
  }

  /** OSv's find(): the contiguous mapped run of nodeid from file chunk fstart. */
  find(nodeid: bigint, fstart: number): MappingPart | null {
    return this.stack.find(nodeid, fstart);
  }

  /** OSv's first_empty(): the first free chunk (windowChunks when full). */
  firstEmpty(): number {
    return this.stack.firstEmpty();
  }

  /**
   * Frees the whole window on the device (unmount): every chunk the device
   * may still map, evicted ones included, in FUSE_REMOVEMAPPING requests of
   * at most REMOVEMAPPING_MAX_RANGES ranges. Rejects with the first error
   * after trying every batch; chunks not removed are tried again next time.
   */
  async unmapAll(): Promise<void> {
    const release = await this.lock.lock();
    try {
      this.stack.clear();
      await this.removeRanges(this.ownedRanges(() => true));
    } finally {
      release();
    }
  }

  /**
   * Forgets a file (its inode is dropped, so its nodeid may be reused):
   * its mappings leave the stack and every chunk the device may still map
   * to it, evicted ones included, is removed on the device.
   */
  async dropInode(nodeid: bigint): Promise<void> {
    const release = await this.lock.lock();
    try {
      this.stack.drop(nodeid);
      if (!this.ownedChunks.get(nodeid) && !this.ownedChunks.get(UNKNOWN)) return;
      await this.removeRanges(this.ownedRanges((o) => o === nodeid || o === UNKNOWN));
    } finally {
      release();
    }
  }

  /** The caller counts the bytes it read with FUSE_READ. */
  noteFuseRead(bytes: number): void {
    if (isCount(bytes)) this.stats.bytesFuseRead += bytes;
  }

  snapshot(): DaxSnapshot {
    const cs = this.chunkSize;
    return {
      chunkSize: cs,
      windowChunks: this.windowChunks,
      firstEmpty: this.stack.firstEmpty(),
      canMap: this.canMap,
      mappings: this.stack.mappings().map((m: Mapping) => ({
        nodeid: m.nodeid,
        mstart: m.mstart,
        nchunks: m.nchunks,
        fstart: m.fstart,
        foffset: m.fstart * cs,
        moffset: m.mstart * cs,
      })),
    };
  }

  private evict(nchunks: number): { nchunks: number } {
    const r = this.stack.pop(nchunks);
    this.stats.chunksEvicted += r.live;
    return r;
  }

  /** Copies from run mp (at coffset in its first chunk) into dst at pos; -1 on failure. */
  private copy(mp: MappingPart, coffset: number, dst: Uint8Array, pos: number, max: number): number {
    const n = Math.min(max, mp.nchunks * this.chunkSize - coffset);
    if (n <= 0) return -1;
    try {
      const view = pos === 0 && n === dst.length ? dst : dst.subarray(pos, pos + n);
      this.device.window.read(mp.mstart * this.chunkSize + coffset, view);
    } catch {
      return -1;
    }
    return n;
  }

  private fallback(reason: DaxFallbackReason, errno: number, bytes: number): DaxReadResult {
    this.stats.noteFallback(reason, errno);
    this.stats.bytesDax += bytes;
    return { bytes, fallback: { reason, errno } };
  }

  private checkRange(nchunks: number, mstart: number): void {
    if (!Number.isInteger(nchunks) || !Number.isInteger(mstart) || nchunks <= 0 || mstart < 0 || mstart + nchunks > this.windowChunks) {
      throw new ErrnoError(Errno.EINVAL, `dax: chunks [${mstart}, +${nchunks}) outside the window of ${this.windowChunks}`);
    }
  }

  private setOwner(mstart: number, nchunks: number, nodeid: bigint | undefined): void {
    for (let c = mstart; c < mstart + nchunks; c++) {
      const old = this.owner.get(c);
      if (old === nodeid) continue;
      if (old !== undefined) {
        const n = this.ownedChunks.get(old)! - 1;
        if (n === 0) this.ownedChunks.delete(old);
        else this.ownedChunks.set(old, n);
      }
      if (nodeid !== undefined) this.ownedChunks.set(nodeid, (this.ownedChunks.get(nodeid) ?? 0) + 1);
      if (nodeid === undefined) this.owner.delete(c);
      else this.owner.set(c, nodeid);
    }
  }

  /** Runs of chunks the device may map whose owner matches, as byte ranges. */
  private ownedRanges(match: (owner: bigint) => boolean): RemoveMappingRange[] {
    const chunks: number[] = [];
    for (const [c, o] of this.owner) if (match(o)) chunks.push(c);
    chunks.sort((a, b) => a - b);
    const ranges: RemoveMappingRange[] = [];
    const cs = this.chunkSize;
    for (let i = 0; i < chunks.length; ) {
      let j = i + 1;
      while (j < chunks.length && chunks[j] === chunks[j - 1]! + 1) j++;
      ranges.push({ moffset: chunks[i]! * cs, len: (j - i) * cs });
      i = j;
    }
    return ranges;
  }

  /** FUSE_REMOVEMAPPING in batches; forgets the owners of what was removed. */
  private async removeRanges(ranges: readonly RemoveMappingRange[]): Promise<void> {
    let first: ErrnoError | null = null;
    for (let i = 0; i < ranges.length; i += REMOVEMAPPING_MAX_RANGES) {
      const batch = ranges.slice(i, i + REMOVEMAPPING_MAX_RANGES);
      this.stats.removeMappingSent++;
      try {
        await this.device.removeMapping(batch);
      } catch (e) {
        first ??= e instanceof ErrnoError ? e : new ErrnoError(Errno.EIO, String(e));
        continue;
      }
      for (const r of batch) this.setOwner(r.moffset / this.chunkSize, r.len / this.chunkSize, undefined);
    }
    if (first) throw first;
  }
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
