// The book of what the device may still have mapped, per window chunk: the
// nodeid whose file the last SETUPMAPPING over the chunk showed, or the
// unknown owner after one that failed (the device may hold anything there).
// Placement forgets a chunk when it evicts it; the device does not, until
// another SETUPMAPPING over it or a REMOVEMAPPING: this book is what
// unmapAll() and dropInode() must cover, whatever the placement policy.

import type { MappingPart } from './placement';

/** Owner of chunks whose device state is unknown (a failed SETUPMAPPING). */
export const UNKNOWN_OWNER = -1n;

export class ChunkOwners {
  /** Window chunk -> the nodeid the device may still show there. */
  private readonly owner = new Map<number, bigint>();
  /** Nodeid -> how many chunks it owns, so has() is O(1). */
  private readonly ownedChunks = new Map<bigint, number>();

  /** Books nchunks chunks from mstart to owner (undefined: the device maps nothing there). */
  set(mstart: number, nchunks: number, owner: bigint | undefined): void {
    for (let c = mstart; c < mstart + nchunks; c++) {
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

  /** The chunks whose owner matches, merged into runs, lowest first. */
  runs(match: (owner: bigint) => boolean): MappingPart[] {
    const chunks: number[] = [];
    for (const [c, o] of this.owner) if (match(o)) chunks.push(c);
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
