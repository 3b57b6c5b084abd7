// The book of what the device may still have mapped, per window chunk: the
// nodeid whose file the last SETUPMAPPING over the chunk showed and which
// file chunk, or the unknown owner after one that failed (the device may
// hold anything there); and whether the guest may write through the chunk
// (the last SETUPMAPPING carried FUSE_SETUPMAPPING_FLAG_WRITE: read and
// write DAX mappings, Liu Bo, 2019). Placement forgets a chunk when it
// evicts it; the device does not, until another SETUPMAPPING over it or a
// REMOVEMAPPING: this book is what unmapAll(), dropInode() and truncate()
// must cover, whatever the placement policy. Writability is device state,
// so it lives here for every policy (Linux keeps it per range, `writable`
// in struct fuse_dax_mapping: one range is one chunk there).

import type { MappingPart } from './placement';

/** Owner of chunks whose device state is unknown (a failed SETUPMAPPING). */
export const UNKNOWN_OWNER = -1n;

export class ChunkOwners {
  /** Window chunk -> the nodeid the device may still show there. */
  private readonly owner = new Map<number, bigint>();
  /** Window chunk -> the file chunk it shows (known owners only). */
  private readonly fchunk = new Map<number, number>();
  /** Nodeid -> how many chunks it owns, so has() is O(1). */
  private readonly ownedChunks = new Map<bigint, number>();
  /** 1 where the guest may write: read by the write hit path, so a typed
   *  array, grown by doubling (a huge, mostly unused window costs nothing). */
  private writableBits = new Uint8Array(16);

  /** Books nchunks chunks from mstart to owner, showing file chunks from
   *  fstart (undefined owner: the device maps nothing there). Writability
   *  is set to `writable` (false for the unknown owner and for none). */
  set(mstart: number, nchunks: number, owner: bigint | undefined, fstart = 0, writable = false): void {
    const known = owner !== undefined && owner !== UNKNOWN_OWNER;
    this.setWritable(mstart, nchunks, known && writable);
    for (let c = mstart, k = 0; k < nchunks; c++, k++) {
      if (known) this.fchunk.set(c, fstart + k);
      else this.fchunk.delete(c);
      const old = this.owner.get(c);
      if (old === owner) continue;
      if (old !== undefined) {
        const n = this.ownedChunks.get(old)! - 1;
        if (n === 0) this.ownedChunks.delete(old);
        else this.ownedChunks.set(old, n);
      }
      if (owner === undefined) {
        this.owner.delete(c);
      } else {
        this.ownedChunks.set(owner, (this.ownedChunks.get(owner) ?? 0) + 1);
        this.owner.set(c, owner);
      }
    }
  }

  /** Whether the device may still map a chunk to owner. */
  has(owner: bigint): boolean {
    return (this.ownedChunks.get(owner) ?? 0) > 0;
  }

  /** Whether every chunk of [mstart, mstart + nchunks) is mapped for writing. */
  writable(mstart: number, nchunks: number): boolean {
    const bits = this.writableBits;
    if (mstart + nchunks > bits.length) return false;
    for (let c = mstart; c < mstart + nchunks; c++) if (bits[c] === 0) return false;
    return true;
  }

  /** Sets or clears the guest's right to write through chunks (clearing
   *  needs nothing of the device: the next write upgrades again). */
  setWritable(mstart: number, nchunks: number, writable: boolean): void {
    const end = mstart + nchunks;
    if (end > this.writableBits.length) {
      if (!writable) {
        if (mstart < this.writableBits.length) this.writableBits.fill(0, mstart);
        return;
      }
      let n = this.writableBits.length;
      while (n < end) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.writableBits);
      this.writableBits = b;
    }
    this.writableBits.fill(writable ? 1 : 0, mstart, end);
  }

  /** The chunks whose owner (and file chunk, -1 for the unknown owner)
   *  match, merged into runs of consecutive chunks, lowest first. */
  runs(match: (owner: bigint, fchunk: number) => boolean): MappingPart[] {
    const chunks: number[] = [];
    for (const [c, o] of this.owner) if (match(o, this.fchunk.get(c) ?? -1)) chunks.push(c);
    chunks.sort((a, b) => a - b);
    const out: MappingPart[] = [];
    for (let i = 0; i < chunks.length; ) {
      let j = i + 1;
      while (j < chunks.length && chunks[j] === chunks[j - 1]! + 1) j++;
      out.push({ mstart: chunks[i]!, nchunks: j - i });
      i = j;
    }
    return out;
  }
}
