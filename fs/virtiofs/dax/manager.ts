// The DAX window manager: OSv's virtiofs::dax_manager (fs/virtiofs/
// virtiofs_dax.{hh,cc}; OSv's dax_manager, Xenakis, 2020) ported, with what
// OSv left undone or wrong fixed (docs/DAX.md), and the write path Linux's
// fs/fuse/dax.c has (read and write DAX mappings, Liu Bo, 2019). One
// manager per device.
//
// This file is the read and write paths: a hit copies at once, with no
// lock and no await between the lookup and the copy; a miss takes the lock,
// maps (read-only for a read, for writing for a write), copies, releases.
// A write over a read mapping upgrades it: one SETUPMAPPING with the WRITE
// flag at the same moffset (Linux's fuse_upgrade_dax_mapping), never a
// second chunk for the same file range. The mechanism under them (the
// lock, the requests, the book, removal, reclaim) is base.ts; where
// mappings go is the placement's (placement.ts; OSv's stack the default).

import { Errno, ErrnoError } from '../../../core/errno';
import { DaxCore, DaxIoResult, errnoOf, isCount } from './base';
import { UNKNOWN_OWNER } from './owners';
import type { MappingPart } from './placement';

export type { MappingPart } from './placement';
export type { DaxIoResult, DaxManagerOptions } from './base';

/** What read() and write() need of an inode: OSv's virtiofs_inode nodeid and attr.size. */
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
export type DaxReadResult = DaxIoResult;

export class DaxManager extends DaxCore {
  /**
   * OSv's dax_manager::read(): reads readAmt bytes of inode at uio.offset into
   * uio.dst through the window, clamped to the file size and dst. A chunk run
   * found mapped (read-only or for writing) is copied at once; otherwise just
   * enough chunks are mapped read-only (or, if aggressive, the rest of the
   * file), unless the adaptive rule, when `adaptive`, says to read the miss
   * with FUSE_READ. Unlike OSv, which returns after one run (a short read),
   * it goes on until readAmt is read. Never rejects for device errors: they
   * come back as a fallback (the caller uses FUSE_READ).
   */
  async read(inode: DaxInode, fh: bigint, readAmt: number, uio: DaxUio, aggressive = false, adaptive = false): Promise<DaxReadResult> {
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
        const n = this.copyOut(mp, coffset, uio.dst, done, want - done);
        if (n < 0) return this.fallback('copy', Errno.EFAULT, done);
        done += n;
        continue;
      }
      if (!this.mappingPossible) {
        this.stats.misses++;
        return this.fallback('enosys', Errno.ENOSYS, done);
      }
      if (adaptive && this.adaptive.bypass()) {
        this.stats.misses++;
        return this.fallback('adaptive', 0, done);
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
            return this.mapFailed(e, done, false);
          }
        }
        // Copy with the lock held, as OSv: the chunks just mapped cannot be
        // chosen by another read's SETUPMAPPING before we are done.
        const n = this.copyOut(mp, coffset, uio.dst, done, want - done);
        if (n < 0) return this.fallback('copy', Errno.EFAULT, done);
        done += n;
      } finally {
        release();
        this.kickReclaim();
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
   * (An upgrade leaves its chunks in the index: they show the same bytes
   * of the same file before and after it.)
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
      const n = this.copyOut(mp, pos - f * cs, dst, done, want - done);
      if (n < 0) return -1;
      done += n;
    }
    this.stats.hits += runs;
    this.stats.bytesDax += want;
    return want;
  }

  /**
   * Writes src at `offset` of inode through the window, inside the file:
   * the bytes past inode.size are left to the caller (an extending write
   * goes through FUSE_WRITE, as Linux's fuse_dax_write_iter sends it). A
   * chunk mapped for writing is written at once; one mapped read-only is
   * upgraded first (one SETUPMAPPING with the WRITE flag at its moffset);
   * an unmapped one is mapped for writing at once (the chunks the write
   * spans, never more: a write mapping reserves host blocks), unless the
   * adaptive rule, when `adaptive`, says to write the miss with FUSE_WRITE.
   * A refused mapping comes back as a fallback: for ENOSPC and EDQUOT the
   * caller reports it (bytes are what was written before), for other
   * errnos it writes the rest with FUSE_WRITE. Never rejects for device
   * errors.
   */
  async write(inode: DaxInode, fh: bigint, offset: number, src: Uint8Array, adaptive = false): Promise<DaxIoResult> {
    const { nodeid, size } = inode;
    if (!isCount(offset) || !isCount(size)) throw new ErrnoError(Errno.EINVAL, `dax write: offset ${offset}, size ${size}`);
    const want = Math.min(src.length, Math.max(0, size - offset));
    if (want === 0) return { bytes: 0, fallback: null };
    if (this.windowChunks === 0) return this.fallback('no-window', Errno.ENODEV, 0, true);

    const cs = this.chunkSize;
    let done = 0;
    while (done < want) {
      const pos = offset + done;
      const fstart = Math.floor(pos / cs);
      const coffset = pos - fstart * cs;
      const need = Math.ceil((coffset + want - done) / cs); // chunks the rest spans
      let mp = this.find(nodeid, fstart);
      if (mp && this.owners.writable(mp.mstart, Math.min(mp.nchunks, need))) {
        this.stats.hits++;
        const n = this.copyIn(mp, coffset, src, done, want - done);
        if (n < 0) return this.fallback('copy', -n, done, true);
        done += n;
        continue;
      }
      if (!this.mappingPossible) {
        this.stats.misses++;
        return this.fallback('enosys', Errno.ENOSYS, done, true);
      }
      if (!mp && adaptive && this.adaptive.bypass()) {
        this.stats.misses++;
        return this.fallback('adaptive', 0, done, true);
      }
      const release = await this.lock.lock();
      try {
        mp = this.find(nodeid, fstart); // mapped (or upgraded) while we waited?
        try {
          if (mp) {
            this.stats.hits++;
            mp = { mstart: mp.mstart, nchunks: Math.min(mp.nchunks, need) };
            await this.upgrade(nodeid, fh, fstart, mp);
          } else {
            this.stats.misses++;
            if (!this.mappingPossible) return this.fallback('enosys', Errno.ENOSYS, done, true);
            // Only the chunks up to the next one mapped: that one is upgraded
            // in its place, never shown twice for writing.
            let k = 1;
            while (k < need && this.placement.lookup(nodeid, fstart + k) < 0) k++;
            mp = await this.map(nodeid, fh, k, fstart, true, true);
          }
        } catch (e) {
          return this.mapFailed(e, done, true);
        }
        const n = this.copyIn(mp, coffset, src, done, want - done);
        if (n < 0) return this.fallback('copy', -n, done, true);
        done += n;
      } finally {
        release();
        this.kickReclaim();
      }
    }
    this.stats.bytesDaxWritten += done;
    return { bytes: done, fallback: null };
  }

  /**
   * The hit path of write(), synchronous: writes all of src at offset when
   * it lies inside the file and within one run of chunks mapped for
   * writing, and returns src.length; -1, having counted nothing, otherwise
   * (the caller then uses write()).
   */
  writeHit(inode: DaxInode, offset: number, src: Uint8Array): number {
    const want = src.length;
    if (!isCount(offset) || !isCount(inode.size) || offset + want > inode.size) return -1;
    if (want === 0) return 0;
    if (this.windowChunks === 0) return -1;
    const cs = this.chunkSize;
    const fstart = Math.floor(offset / cs);
    const coffset = offset - fstart * cs;
    const mc = this.placement.lookup(inode.nodeid, fstart);
    if (mc < 0) return -1;
    const k = Math.ceil((coffset + want) / cs);
    if (this.placement.runEnd(mc) - mc < k || !this.owners.writable(mc, k)) return -1;
    try {
      this.port.window.write(mc * cs + coffset, src);
    } catch {
      return -1;
    }
    this.stats.hits++;
    this.stats.bytesDaxWritten += want;
    return want;
  }

  /** Linux's fuse_upgrade_dax_mapping for the chunks of mp (showing file
   *  chunks from fstart): one SETUPMAPPING with the WRITE flag per run of
   *  read-only ones, at their own moffset and foffset. A failed upgrade
   *  takes its chunks out of the index (their device state is unknown) and
   *  rejects. Lock held. */
  private async upgrade(nodeid: bigint, fh: bigint, fstart: number, mp: MappingPart): Promise<void> {
    const cs = this.chunkSize;
    for (let i = 0; i < mp.nchunks; ) {
      if (this.owners.writable(mp.mstart + i, 1)) { i++; continue; }
      let j = i + 1;
      while (j < mp.nchunks && !this.owners.writable(mp.mstart + j, 1)) j++;
      const mstart = mp.mstart + i;
      const f = fstart + i;
      this.stats.setupMappingSent++;
      try {
        await this.port.setupMapping({ nodeid, fh, foffset: f * cs, len: (j - i) * cs, moffset: mstart * cs, write: true });
      } catch (e) {
        const errno = errnoOf(e);
        if (errno !== Errno.ENOSYS) {
          this.placement.remove(nodeid, f, fstart + j);
          this.owners.set(mstart, j - i, UNKNOWN_OWNER);
        }
        if (errno === Errno.ENOSPC || errno === Errno.EDQUOT) this.stats.enospc++;
        throw e instanceof ErrnoError ? e : new ErrnoError(errno, String(e));
      }
      this.owners.set(mstart, j - i, nodeid, f, true);
      this.stats.upgrades++;
      i = j;
    }
  }

  /** A SETUPMAPPING (or the placement) refused: the fallback for it. */
  private mapFailed(e: unknown, done: number, written: boolean): DaxIoResult {
    const errno = errnoOf(e);
    if (errno === Errno.ENOSYS) {
      this.mappingPossible = false;
      return this.fallback('enosys', errno, done, written);
    }
    return this.fallback('setupmapping', errno, done, written);
  }

  /** Copies from run mp (at coffset in its first chunk) into dst at pos; -1 on failure. */
  private copyOut(mp: MappingPart, coffset: number, dst: Uint8Array, pos: number, max: number): number {
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

  /** Copies src[pos..) into run mp at coffset; the bytes, or -errno. */
  private copyIn(mp: MappingPart, coffset: number, src: Uint8Array, pos: number, max: number): number {
    const n = Math.min(max, mp.nchunks * this.chunkSize - coffset);
    if (n <= 0) return -Errno.EFAULT;
    try {
      this.port.window.write(mp.mstart * this.chunkSize + coffset, pos === 0 && n === src.length ? src : src.subarray(pos, pos + n));
    } catch (e) {
      return -errnoOf(e);
    }
    return n;
  }
}
