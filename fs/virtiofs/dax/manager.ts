// The DAX window manager: OSv's virtiofs::dax_manager (fs/virtiofs/
// virtiofs_dax.{hh,cc}; OSv's dax_manager, Xenakis, 2020) ported, with what
// OSv left undone or wrong fixed (docs/DAX.md). One manager per device.
//
// This file is the mechanism: the read and hit paths, the lock, the
// statistics, SETUPMAPPING and REMOVEMAPPING, and the book of what the
// device may still have mapped (owners.ts). Where mappings go and which
// leave is the placement policy's (placement.ts); OSv's stack (stack.ts) is
// the default.

import { Errno, ErrnoError } from '../../../core/errno';
import { AsyncMutex } from './mutex';
import { ChunkOwners, UNKNOWN_OWNER } from './owners';
import type { DaxPlacement, MappingPart, PlacementFactory } from './placement';
import { DaxPort, PAGE_SHIFT, REMOVEMAPPING_MAX_RANGES, RemoveMappingRange } from './port';
import { MappingStack } from './stack';
import { DaxFallback, DaxFallbackReason, DaxSnapshot, DaxStats } from './stats';

export type { MappingPart } from './placement';

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
  /** The placement policy; default OSv's stack. */
  placement?: PlacementFactory;
}

export class DaxManager {
  static readonly DEFAULT_CHUNK_SIZE = 1 << 21;

  readonly chunkSize: number;
  readonly windowChunks: number;
  /** log2 of the alignment in force (PAGE_SHIFT when none was announced). */
  readonly mapAlignment: number;
  readonly stats = new DaxStats();

  private readonly placement: DaxPlacement;
  /** OSv's _lock: held from choosing chunks to map until the copy is done. */
  private readonly lock = new AsyncMutex();
  private mappingPossible = true;
  /** What the device may still have mapped in each chunk (evicted chunks
   *  keep their device mapping until a SETUPMAPPING over them). */
  private readonly owners = new ChunkOwners();

  constructor(private readonly port: DaxPort, options: DaxManagerOptions = {}) {
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
    const size = port.window.size;
    // A remainder smaller than a chunk is left unused, as in OSv. Chunk
    // numbers are kept in 32 bits: 2^32 chunks is far beyond any window.
    this.windowChunks = Number.isSafeInteger(size) && size > 0 ? Math.min(Math.floor(size / chunkSize), 0xffffffff) : 0;
    this.placement = (options.placement ?? ((n) => new MappingStack(n)))(this.windowChunks);
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
      let mp = this.find(nodeid, fstart);
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
        mp = this.find(nodeid, fstart); // mapped while we waited?
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
   * reason read()'s hits are: chunks being re-mapped are out of the index
   * (placement takes them out before the SETUPMAPPING and files the new
   * mapping after the reply), and nothing runs between lookup and copy.
   */
  readHit(inode: DaxInode, offset: number, dst: Uint8Array): number {
    const size = inode.size;
    if (!isCount(offset) || !isCount(size)) return -1;
    const want = Math.min(dst.length, size - offset);
    if (want <= 0) return 0;
    if (this.windowChunks === 0) return -1;
    const nodeid = inode.nodeid;
    const cs = this.chunkSize;
    const placement = this.placement;
    const fstart = Math.floor(offset / cs);
    const coffset = offset - fstart * cs;
    const mc = placement.lookup(nodeid, fstart);
    if (mc < 0) return -1;
    const avail = (placement.runEnd(mc) - mc) * cs - coffset;
    if (avail >= want) {
      // One run holds it all: the common case.
      try {
        this.port.window.read(mc * cs + coffset, want === dst.length ? dst : dst.subarray(0, want));
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
      const m = placement.lookup(nodeid, f);
      if (m < 0) return -1;
      pos = (f + placement.runEnd(m) - m) * cs;
    }
    let done = 0;
    while (done < want) {
      const pos = offset + done;
      const f = Math.floor(pos / cs);
      const mp = this.find(nodeid, f)!;
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
   * where the placement puts them (OSv's stack: on top), evicting first if
   * evict. Rejects with ENOBUFS when nothing fits and !evict, or with
   * SETUPMAPPING's errno. Callers other than read() must not overlap calls
   * (OSv: _lock held).
   */
  async map(nodeid: bigint, fh: bigint, nchunks: number, fstart: number, evict = false): Promise<MappingPart> {
    const placed = this.placement.place(nodeid, fstart, nchunks, evict);
    this.stats.chunksEvicted += placed.evicted;
    const { mstart } = placed;
    if (placed.nchunks <= 0) {
      if (nchunks === 0) return { mstart, nchunks: 0 };
      throw new ErrnoError(Errno.ENOBUFS, 'dax window full');
    }
    try {
      await this.setupMapping(nodeid, fh, placed.nchunks, fstart, mstart);
    } catch (e) {
      this.placement.abort(placed);
      throw e;
    }
    this.placement.commit(nodeid, fstart, placed);
    return { mstart, nchunks: placed.nchunks };
  }

  /**
   * OSv's unmap(): takes nchunks chunks out (OSv's stack: the highest),
   * first sending FUSE_REMOVEMAPPING for them if deep. Returns what was
   * unmapped (mstart: the new first empty chunk). Rejects with ENODATA when
   * nothing is mapped and nchunks > 0.
   */
  async unmap(nchunks: number, deep = false): Promise<MappingPart> {
    const runs = this.placement.victims(nchunks);
    const toUnmap = runs.reduce((n, r) => n + r.nchunks, 0);
    if (toUnmap <= 0) {
      if (nchunks === 0) return { mstart: this.placement.firstEmpty(), nchunks: 0 };
      throw new ErrnoError(Errno.ENODATA, 'dax window empty');
    }
    if (deep) {
      for (const r of runs) this.checkRange(r.nchunks, r.mstart);
      await this.removeRanges(this.toRanges(runs));
    }
    this.stats.chunksEvicted += this.placement.evict(toUnmap);
    return { mstart: this.placement.firstEmpty(), nchunks: toUnmap };
  }

  /** One FUSE_SETUPMAPPING (read-only) of nchunks chunks, booking who owns
   *  them on the device (OSv's map_ll()). */
  async setupMapping(nodeid: bigint, fh: bigint, nchunks: number, fstart: number, mstart: number): Promise<void> {
    this.checkRange(nchunks, mstart);
    const cs = this.chunkSize;
    this.stats.setupMappingSent++;
    try {
      await this.port.setupMapping({ nodeid, fh, foffset: fstart * cs, len: nchunks * cs, moffset: mstart * cs, write: false });
    } catch (e) {
      const err = e instanceof ErrnoError ? e : new ErrnoError(Errno.EIO, String(e));
      // ENOSYS: nothing was mapped. Otherwise the device may hold anything there.
      if (err.errno !== Errno.ENOSYS) this.owners.set(mstart, nchunks, UNKNOWN_OWNER);
      throw err;
    }
    this.owners.set(mstart, nchunks, nodeid);
    this.stats.chunksMapped += nchunks;
  }

  /** One FUSE_REMOVEMAPPING of nchunks chunks from mstart (OSv's unmap_ll()). */
  async removeMapping(nchunks: number, mstart: number): Promise<void> {
    this.checkRange(nchunks, mstart);
    await this.removeRanges(this.toRanges([{ mstart, nchunks }]));
  }

  /** OSv's find(): the contiguous mapped run of nodeid from file chunk fstart. */
  find(nodeid: bigint, fstart: number): MappingPart | null {
    const mc = this.placement.lookup(nodeid, fstart);
    if (mc < 0) return null;
    return { mstart: mc, nchunks: this.placement.runEnd(mc) - mc };
  }

  /** OSv's first_empty(): the first free chunk (windowChunks when full). */
  firstEmpty(): number {
    return this.placement.firstEmpty();
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
      this.placement.clear();
      await this.removeRanges(this.toRanges(this.owners.runs(() => true)));
    } finally {
      release();
    }
  }

  /**
   * Forgets a file (its inode is dropped, so its nodeid may be reused):
   * its mappings leave the placement and every chunk the device may still
   * map to it, evicted ones included, is removed on the device (and every
   * chunk of unknown state with them).
   */
  async dropInode(nodeid: bigint): Promise<void> {
    const release = await this.lock.lock();
    try {
      this.placement.drop(nodeid);
      if (!this.owners.has(nodeid) && !this.owners.has(UNKNOWN_OWNER)) return;
      await this.removeRanges(this.toRanges(this.owners.runs((o) => o === nodeid || o === UNKNOWN_OWNER)));
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
      firstEmpty: this.placement.firstEmpty(),
      canMap: this.canMap,
      mappings: this.placement.mappings().map((m) => ({
        nodeid: m.nodeid,
        mstart: m.mstart,
        nchunks: m.nchunks,
        fstart: m.fstart,
        foffset: m.fstart * cs,
        moffset: m.mstart * cs,
      })),
    };
  }

  /** Copies from run mp (at coffset in its first chunk) into dst at pos; -1 on failure. */
  private copy(mp: MappingPart, coffset: number, dst: Uint8Array, pos: number, max: number): number {
    const n = Math.min(max, mp.nchunks * this.chunkSize - coffset);
    if (n <= 0) return -1;
    try {
      const view = pos === 0 && n === dst.length ? dst : dst.subarray(pos, pos + n);
      this.port.window.read(mp.mstart * this.chunkSize + coffset, view);
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

  private toRanges(runs: readonly MappingPart[]): RemoveMappingRange[] {
    const cs = this.chunkSize;
    return runs.map((r) => ({ moffset: r.mstart * cs, len: r.nchunks * cs }));
  }

  /** FUSE_REMOVEMAPPING in batches; forgets the owners of what was removed. */
  private async removeRanges(ranges: readonly RemoveMappingRange[]): Promise<void> {
    let first: ErrnoError | null = null;
    for (let i = 0; i < ranges.length; i += REMOVEMAPPING_MAX_RANGES) {
      const batch = ranges.slice(i, i + REMOVEMAPPING_MAX_RANGES);
      this.stats.removeMappingSent++;
      try {
        await this.port.removeMapping(batch);
      } catch (e) {
        first ??= e instanceof ErrnoError ? e : new ErrnoError(Errno.EIO, String(e));
        continue;
      }
      for (const r of batch) this.owners.set(r.moffset / this.chunkSize, r.len / this.chunkSize, undefined);
    }
    if (first) throw first;
  }
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
