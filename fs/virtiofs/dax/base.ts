// The DAX window manager's mechanism below its read and write paths
// (manager.ts): the lock, the two requests and the book of what the device
// may still map (owners.ts), OSv's low-level calls (map, unmap, find,
// first_empty), and what removes chunks from the device: unmapAll at
// unmount, dropInode when a nodeid is forgotten, truncate when a file
// shrinks, and the range pool's background reclaim. OSv's dax_manager
// (fs/virtiofs/virtiofs_dax.{hh,cc}; OSv's dax_manager, Xenakis, 2020) for
// the names, Linux's fs/fuse/dax.c (Linux virtiofs DAX series, Goyal et
// al., 2020) for what OSv has not: write mappings, truncation, reclaim.
//
// Lock order: only this one lock (OSv's _lock). Everything that changes the
// placement or sends a request holds it, except OSv's low-level map, unmap,
// setupMapping and removeMapping, whose callers must not overlap them (OSv:
// "called with _lock held"). The hit paths take no lock (manager.ts).

import { Errno, ErrnoError } from '../../../core/errno';
import { AdaptiveRule, AdaptiveOptions } from './adaptive';
import { AsyncMutex } from './mutex';
import { ChunkOwners, UNKNOWN_OWNER } from './owners';
import type { DaxPlacement, MappingPart, PlacementFactory, PlacementName } from './placement';
import { RangePool } from './pool';
import { DaxPort, PAGE_SHIFT, REMOVEMAPPING_MAX_RANGES, RemoveMappingRange } from './port';
import { MappingStack } from './stack';
import { DaxFallback, DaxFallbackReason, DaxSnapshot, DaxSnapshotMapping, DaxStats } from './stats';

/** bytes went through the window; if fallback is set, the rest (from
 *  offset + bytes) goes through FUSE_READ / FUSE_WRITE, or, for a write
 *  whose mapping was refused for want of space, fails with that errno. */
export interface DaxIoResult {
  readonly bytes: number;
  readonly fallback: DaxFallback | null;
}

export interface DaxManagerOptions {
  /** Bytes per chunk; a multiple of the map alignment. Default 2 MiB. */
  chunkSize?: number;
  /** log2 of the alignment FUSE_INIT announced (its map_alignment field);
   *  undefined or negative when none was announced: the page size is used. */
  mapAlignment?: number;
  /** The placement policy: 'lifo' (OSv's stack, the default), 'lru'
   *  (Linux's range pool), or a factory. */
  placement?: PlacementName | PlacementFactory;
  /** The adaptive rule's parameters (adaptive.ts); callers turn it on per call. */
  adaptive?: AdaptiveOptions;
}

export const PLACEMENTS: Record<PlacementName, PlacementFactory> = {
  lifo: (n) => new MappingStack(n),
  lru: (n) => new RangePool(n),
};

/** An errno for what a port or the window threw. */
export function errnoOf(e: unknown): number {
  if (e instanceof ErrnoError) return e.errno;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in Errno) return Errno[code as keyof typeof Errno];
  return Errno.EIO;
}

export function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export class DaxCore {
  static readonly DEFAULT_CHUNK_SIZE = 1 << 21;

  readonly chunkSize: number;
  readonly windowChunks: number;
  /** log2 of the alignment in force (PAGE_SHIFT when none was announced). */
  readonly mapAlignment: number;
  readonly stats = new DaxStats();

  protected readonly placement: DaxPlacement;
  /** OSv's _lock: held from choosing chunks to map until the copy is done. */
  protected readonly lock = new AsyncMutex();
  protected mappingPossible = true;
  /** What the device may still have mapped in each chunk, and writable. */
  protected readonly owners = new ChunkOwners();
  protected readonly adaptive: AdaptiveRule;
  private reclaiming: Promise<void> | null = null;

  constructor(protected readonly port: DaxPort, options: DaxManagerOptions = {}) {
    const chunkSize = options.chunkSize ?? DaxCore.DEFAULT_CHUNK_SIZE;
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
    // numbers are kept in 31 bits: far beyond any window.
    this.windowChunks = Number.isSafeInteger(size) && size > 0 ? Math.min(Math.floor(size / chunkSize), 0x7fffffff) : 0;
    const p = options.placement ?? 'lifo';
    const factory = typeof p === 'function' ? p : PLACEMENTS[p];
    if (!factory) throw new ErrnoError(Errno.EINVAL, `dax: placement ${String(p)}: lifo or lru`);
    this.placement = factory(this.windowChunks);
    this.adaptive = new AdaptiveRule(this.stats, options.adaptive);
  }

  /** False once the server answered ENOSYS to FUSE_SETUPMAPPING, or without a window. */
  get canMap(): boolean {
    return this.mappingPossible && this.windowChunks > 0;
  }

  /** The placement policy's name: 'lifo' or 'lru'. */
  get placementName(): string {
    return this.placement.name;
  }

  /**
   * OSv's map(): maps up to nchunks chunks of nodeid from file chunk fstart
   * where the placement puts them (OSv's stack: on top; the pool: one
   * range), evicting first if evict; for writing if write. Rejects with
   * ENOBUFS when nothing fits and !evict, or with SETUPMAPPING's errno.
   * Callers other than the read and write paths must not overlap calls.
   */
  async map(nodeid: bigint, fh: bigint, nchunks: number, fstart: number, evict = false, write = false): Promise<MappingPart> {
    const placed = this.placement.place(nodeid, fstart, nchunks, evict);
    this.stats.chunksEvicted += placed.evicted;
    const { mstart } = placed;
    if (placed.nchunks <= 0) {
      if (nchunks === 0) return { mstart, nchunks: 0 };
      throw new ErrnoError(Errno.ENOBUFS, 'dax window full');
    }
    try {
      await this.setupMapping(nodeid, fh, placed.nchunks, fstart, mstart, write);
    } catch (e) {
      this.placement.abort(placed);
      throw e;
    }
    this.placement.commit(nodeid, fstart, placed);
    return { mstart, nchunks: placed.nchunks };
  }

  /**
   * OSv's unmap(): takes nchunks chunks out (OSv's stack: the highest),
   * then, if deep, sends FUSE_REMOVEMAPPING for them (out of the index
   * first: a hit never reads a chunk being removed). Returns what was
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
    for (const r of runs) this.checkRange(r.nchunks, r.mstart);
    this.stats.chunksEvicted += this.placement.evict(toUnmap);
    if (deep) await this.removeRanges(this.toRanges(runs));
    return { mstart: this.placement.firstEmpty(), nchunks: toUnmap };
  }

  /** One FUSE_SETUPMAPPING of nchunks chunks, read-only or for writing,
   *  booking who owns them on the device (OSv's map_ll()). */
  async setupMapping(nodeid: bigint, fh: bigint, nchunks: number, fstart: number, mstart: number, write = false): Promise<void> {
    this.checkRange(nchunks, mstart);
    const cs = this.chunkSize;
    this.stats.setupMappingSent++;
    try {
      await this.port.setupMapping({ nodeid, fh, foffset: fstart * cs, len: nchunks * cs, moffset: mstart * cs, write });
    } catch (e) {
      const err = e instanceof ErrnoError ? e : new ErrnoError(errnoOf(e), String(e));
      // ENOSYS: nothing was mapped. Otherwise the device may hold anything there.
      if (err.errno !== Errno.ENOSYS) this.owners.set(mstart, nchunks, UNKNOWN_OWNER);
      if (err.errno === Errno.ENOSPC || err.errno === Errno.EDQUOT) this.stats.enospc++;
      throw err;
    }
    this.owners.set(mstart, nchunks, nodeid, fstart, write);
    this.stats.chunksMapped += nchunks;
    if (write) this.stats.writeMappings++;
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
    await this.idle();
    await this.locked(async () => {
      this.placement.clear();
      await this.removeRanges(this.toRanges(this.owners.runs(() => true)));
    });
  }

  /**
   * Forgets a file (its inode is dropped, so its nodeid may be reused):
   * its mappings leave the placement and every chunk the device may still
   * map to it, evicted ones included, is removed on the device (and every
   * chunk of unknown state with them).
   */
  async dropInode(nodeid: bigint): Promise<void> {
    await this.locked(async () => {
      this.placement.drop(nodeid);
      if (!this.owners.has(nodeid) && !this.owners.has(UNKNOWN_OWNER)) return;
      await this.removeRanges(this.toRanges(this.owners.runs((o) => o === nodeid || o === UNKNOWN_OWNER)));
    });
  }

  /**
   * The file shrinks to `size` (called before the SETATTR that does it):
   * every chunk showing a file chunk wholly past the new end leaves the
   * placement and is removed on the device — exactly those, live or
   * evicted — so no window access reaches past the end of the host file.
   * The chunk holding the new end stays mapped, but is no longer trusted
   * for writing: the host frees the blocks past the end that its write
   * mapping reserved, and the next write upgrades it again.
   */
  async truncate(nodeid: bigint, size: number): Promise<void> {
    if (!isCount(size) || this.windowChunks === 0) return;
    const fend = Math.ceil(size / this.chunkSize);
    await this.locked(async () => {
      this.placement.remove(nodeid, fend, Infinity);
      if (!this.owners.has(nodeid) && !this.owners.has(UNKNOWN_OWNER)) return;
      for (const r of this.owners.runs((o, f) => o === nodeid && f === fend - 1)) this.owners.setWritable(r.mstart, r.nchunks, false);
      const runs = this.owners.runs((o, f) => o === nodeid && f >= fend);
      this.stats.chunksTruncated += runs.reduce((n, r) => n + r.nchunks, 0);
      // A chunk of unknown state (after a failed SETUPMAPPING the device may
      // still show what was there, this file's chunk past the end too) goes
      // with them, as with dropInode.
      await this.removeRanges(this.toRanges([...runs, ...this.owners.runs((o) => o === UNKNOWN_OWNER)]));
    });
  }

  /** Host blocks under [offset, offset + len) of the file were freed (a
   *  punched hole): its chunks are no longer trusted for writing. */
  async forgetWritable(nodeid: bigint, offset: number, len: number): Promise<void> {
    if (!isCount(offset) || !isCount(len) || len === 0 || this.windowChunks === 0) return;
    const f0 = Math.floor(offset / this.chunkSize);
    const f1 = Math.ceil((offset + len) / this.chunkSize);
    await this.locked(async () => {
      for (const r of this.owners.runs((o, f) => o === nodeid && f >= f0 && f < f1)) this.owners.setWritable(r.mstart, r.nchunks, false);
    });
  }

  /** Resolves once no background reclaim is running (tests, unmount). */
  async idle(): Promise<void> {
    while (this.reclaiming) await this.reclaiming;
  }

  /** The caller counts the bytes it read with FUSE_READ. */
  noteFuseRead(bytes: number): void {
    if (isCount(bytes)) this.stats.bytesFuseRead += bytes;
  }

  snapshot(): DaxSnapshot {
    const cs = this.chunkSize;
    const mappings: DaxSnapshotMapping[] = [];
    for (const m of this.placement.mappings()) {
      // One row per run of equal writability (live mappings only are writable).
      for (let k = 0; k < m.nchunks; ) {
        const w = m.nodeid !== null && this.owners.writable(m.mstart + k, 1);
        let j = k + 1;
        while (j < m.nchunks && (m.nodeid !== null && this.owners.writable(m.mstart + j, 1)) === w) j++;
        const mstart = m.mstart + k;
        const fstart = m.fstart + k;
        mappings.push({ nodeid: m.nodeid, mstart, nchunks: j - k, fstart, foffset: fstart * cs, moffset: mstart * cs, writable: w });
        k = j;
      }
    }
    return {
      chunkSize: cs, windowChunks: this.windowChunks, firstEmpty: this.placement.firstEmpty(),
      freeChunks: this.placement.freeChunks(), placement: this.placement.name, canMap: this.canMap,
      bypassing: this.adaptive.bypassing, mappings,
    };
  }

  // ---- for the read and write paths -----------------------------------------

  /** Runs fn with the lock held. */
  protected async locked<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.lock.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** After a miss: starts the placement's background reclaim if it wants
   *  one and none is running (Linux: kick_dmap_free_worker). Each run takes
   *  the lock, evicts what the placement asks (out of the index at once)
   *  and removes it on the device. A failed REMOVEMAPPING leaves the
   *  chunks in the book, removed again later. */
  protected kickReclaim(): void {
    const wanted = this.placement.reclaimWanted;
    if (this.reclaiming || !wanted || wanted.call(this.placement) <= 0) return;
    this.reclaiming = (async () => {
      for (;;) {
        const more = await this.locked(async () => {
          const n = this.placement.reclaimWanted!();
          if (n <= 0) return false;
          const runs = this.placement.victims(n);
          this.stats.chunksEvicted += this.placement.evict(n);
          this.stats.reclaimRuns++;
          await this.removeRanges(this.toRanges(runs)).catch(() => undefined);
          return true;
        });
        if (!more) return;
      }
    })().finally(() => { this.reclaiming = null; });
  }

  protected fallback(reason: DaxFallbackReason, errno: number, bytes: number, written = false): DaxIoResult {
    this.stats.noteFallback(reason, errno);
    if (written) this.stats.bytesDaxWritten += bytes;
    else this.stats.bytesDax += bytes;
    return { bytes, fallback: { reason, errno } };
  }

  protected checkRange(nchunks: number, mstart: number): void {
    if (!Number.isInteger(nchunks) || !Number.isInteger(mstart) || nchunks <= 0 || mstart < 0 || mstart + nchunks > this.windowChunks) {
      throw new ErrnoError(Errno.EINVAL, `dax: chunks [${mstart}, +${nchunks}) outside the window of ${this.windowChunks}`);
    }
  }

  protected toRanges(runs: readonly MappingPart[]): RemoveMappingRange[] {
    const cs = this.chunkSize;
    return runs.map((r) => ({ moffset: r.mstart * cs, len: r.nchunks * cs }));
  }

  /** FUSE_REMOVEMAPPING in batches; forgets the owners of what was removed. */
  protected async removeRanges(ranges: readonly RemoveMappingRange[]): Promise<void> {
    let first: ErrnoError | null = null;
    for (let i = 0; i < ranges.length; i += REMOVEMAPPING_MAX_RANGES) {
      const batch = ranges.slice(i, i + REMOVEMAPPING_MAX_RANGES);
      this.stats.removeMappingSent++;
      try {
        await this.port.removeMapping(batch);
      } catch (e) {
        first ??= e instanceof ErrnoError ? e : new ErrnoError(errnoOf(e), String(e));
        continue;
      }
      for (const r of batch) this.owners.set(r.moffset / this.chunkSize, r.len / this.chunkSize, undefined);
    }
    if (first) throw first;
  }
}
