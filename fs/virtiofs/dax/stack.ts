// OSv's chunk stack (dax_manager::_mappings), the default placement policy:
// mappings occupy consecutive chunks from chunk 0 upwards, in the order they
// were made; a new mapping goes on the lowest free chunks, right above the
// last one, and extends it when it continues it (coalescing); when too few
// chunks are free the highest, most recently mapped ones are evicted (LIFO).
// OSv finds a file chunk by scanning its vector; here a per-file index gives
// the lowest window chunk holding each mapped file chunk (what OSv's scan in
// vector order returns), and a chunk -> stack entry column gives the mapping
// around it: O(1) per lookup (two hash lookups and one array read).
//
// The stack has no holes: a dropped file's mappings, and the chunks a
// truncation or a failed upgrade takes out of the middle of a mapping (the
// mapping split around them), stay as tombstones until they reach the top.

import type { DaxPlacement, Mapping, MappingPart, Placement } from './placement';

export type { Mapping, MappingPart } from './placement';

export class MappingStack implements DaxPlacement {
  readonly name = 'lifo';
  // The stack as columns, bottom first, in typed arrays (a 64 Ki-chunk window
  // costs no object per mapping). Grown by doubling; at most one entry per
  // chunk.
  private mstartCol = new Uint32Array(16);
  private nchunksCol = new Uint32Array(16);
  /** mstart + nchunks, so a find reads one column after entryOf. */
  private endCol = new Uint32Array(16);
  private fstartCol = new Float64Array(16);
  private readonly nodeidCol: (bigint | null)[] = [];
  private count = 0;
  /** Window chunk -> index of the stack entry holding it; valid below
   *  firstEmpty(). Set by push for the chunks it adds (an entry keeps its
   *  index while it lives: pop and drop only shrink from the top). Grown by
   *  doubling up to windowChunks, so a huge, mostly unused window costs nothing. */
  private entryOf = new Uint32Array(16);
  /** nodeid -> file chunk -> lowest window chunk showing it. */
  private readonly index = new Map<bigint, Map<number, number>>();
  /** The last file looked up (reads come in runs on one file). */
  private lastNodeid: bigint | null = null;
  private lastFiles: Map<number, number> | undefined;

  constructor(readonly windowChunks: number) {
    if (!Number.isInteger(windowChunks) || windowChunks < 0 || windowChunks > 0xffffffff) {
      throw new RangeError(`dax stack: ${windowChunks} chunks`);
    }
  }

  get size(): number {
    return this.count;
  }

  /** OSv's first_empty(). */
  firstEmpty(): number {
    const top = this.count - 1;
    return top >= 0 ? this.mstartCol[top]! + this.nchunksCol[top]! : 0;
  }

  /** OSv's find(): the contiguous mapped run of nodeid from file chunk fstart. */
  find(nodeid: bigint, fstart: number): MappingPart | null {
    const mc = this.lookup(nodeid, fstart);
    if (mc < 0) return null;
    return { mstart: mc, nchunks: this.runEnd(mc) - mc };
  }

  /** find() without an allocation: the window chunk showing file chunk
   *  fstart of nodeid, or -1. Its run ends at runEnd(result). */
  lookup(nodeid: bigint, fstart: number): number {
    let files = this.lastFiles;
    if (nodeid !== this.lastNodeid) {
      files = this.index.get(nodeid);
      if (files === undefined) return -1;
      this.lastNodeid = nodeid;
      this.lastFiles = files;
    }
    const mc = files!.get(fstart);
    return mc === undefined ? -1 : mc;
  }

  /** One past the last chunk of the mapping holding window chunk mc (mc < firstEmpty()). */
  runEnd(mc: number): number {
    return this.endCol[this.entryOf[mc]!]!;
  }

  /** Pushes a mapping at the top (mstart must be firstEmpty()), extending the
   *  top mapping when it continues it (OSv's coalescing). */
  push(nodeid: bigint, nchunks: number, fstart: number, mstart: number): void {
    if (mstart !== this.firstEmpty() || !(nchunks > 0) || mstart + nchunks > this.windowChunks) {
      throw new RangeError(`dax stack: push of ${nchunks} chunks at ${mstart}, top ${this.firstEmpty()}`);
    }
    let files = this.index.get(nodeid);
    if (!files) this.index.set(nodeid, (files = new Map()));
    for (let i = 0; i < nchunks; i++) {
      if (!files.has(fstart + i)) files.set(fstart + i, mstart + i); // a lower copy wins
    }
    if (mstart + nchunks > this.entryOf.length) this.growEntryOf(mstart + nchunks);
    const top = this.count - 1;
    if (top >= 0 && this.nodeidCol[top] === nodeid && this.fstartCol[top]! + this.nchunksCol[top]! === fstart) {
      this.nchunksCol[top] += nchunks;
      this.endCol[top] += nchunks;
      this.entryOf.fill(top, mstart, mstart + nchunks);
      return;
    }
    if (this.count === this.mstartCol.length) this.grow();
    this.entryOf.fill(this.count, mstart, mstart + nchunks);
    this.mstartCol[this.count] = mstart;
    this.nchunksCol[this.count] = nchunks;
    this.endCol[this.count] = mstart + nchunks;
    this.fstartCol[this.count] = fstart;
    this.nodeidCol[this.count] = nodeid;
    this.count++;
  }

  /** Takes up to nchunks chunks off the top (the state part of OSv's
   *  unmap()). Returns how many, and how many of them belonged to live files. */
  pop(nchunks: number): { nchunks: number; live: number } {
    let popped = 0;
    let live = 0;
    while (popped < nchunks && this.count > 0) {
      const top = this.count - 1;
      const have = this.nchunksCol[top]!;
      const n = Math.min(have, nchunks - popped);
      const nodeid = this.nodeidCol[top]!;
      if (nodeid !== null) {
        this.unindex(nodeid, this.fstartCol[top]!, this.mstartCol[top]!, have - n, have);
        live += n;
      }
      if (n === have) {
        this.nodeidCol[top] = null;
        this.count--;
      } else {
        this.nchunksCol[top] = have - n;
        this.endCol[top] -= n;
      }
      popped += n;
    }
    return { nchunks: popped, live };
  }

  /** Turns nodeid's mappings into tombstones and frees the tombstones at the
   *  top. Returns the number of mappings dropped. */
  drop(nodeid: bigint): number {
    let dropped = 0;
    if (this.index.delete(nodeid)) {
      this.forgetLast();
      for (let i = 0; i < this.count; i++) {
        if (this.nodeidCol[i] === nodeid) {
          this.nodeidCol[i] = null;
          dropped++;
        }
      }
    }
    // Placeholders on top are freed, also those an eviction left there.
    while (this.count > 0 && this.nodeidCol[this.count - 1] === null) this.count--;
    return dropped;
  }

  /** Splits every mapping of nodeid around file chunks [ffrom, fto): the
   *  part inside becomes a tombstone, the parts before and after stay
   *  mappings of their own (so the stack keeps no hole); tombstones on top
   *  are freed. O(mappings + chunks in use): truncation is rare. */
  remove(nodeid: bigint, ffrom: number, fto: number): number {
    if (!this.index.has(nodeid) || !(fto > ffrom)) return 0;
    const out: Mapping[] = [];
    let removed = 0;
    for (const m of this.mappings()) {
      const a = Math.max(ffrom, m.fstart);
      const b = Math.min(fto, m.fstart + m.nchunks);
      if (m.nodeid !== nodeid || a >= b) { out.push(m); continue; }
      const k0 = a - m.fstart;
      const k1 = b - m.fstart;
      if (k0 > 0) out.push({ nodeid, nchunks: k0, fstart: m.fstart, mstart: m.mstart });
      out.push({ nodeid: null, nchunks: k1 - k0, fstart: a, mstart: m.mstart + k0 });
      if (k1 < m.nchunks) out.push({ nodeid, nchunks: m.nchunks - k1, fstart: b, mstart: m.mstart + k1 });
      removed += k1 - k0;
    }
    if (removed === 0) return 0;
    while (out.length > 0 && out[out.length - 1]!.nodeid === null) out.pop();
    this.rebuild(out);
    return removed;
  }

  freeChunks(): number {
    return this.windowChunks - this.firstEmpty();
  }

  clear(): void {
    this.count = 0;
    this.nodeidCol.length = 0;
    this.index.clear();
    this.forgetLast();
  }

  /** A copy of the stack, bottom first. */
  mappings(): Mapping[] {
    const out: Mapping[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push({ nodeid: this.nodeidCol[i]!, nchunks: this.nchunksCol[i]!, fstart: this.fstartCol[i]!, mstart: this.mstartCol[i]! });
    }
    return out;
  }

  // ---- DaxPlacement ----------------------------------------------------------

  /** OSv's map(): the free chunks above the top, after evicting the highest
   *  ones if evict and too few are free. Evicted chunks keep their device
   *  mapping: the SETUPMAPPING that reuses them replaces what they show. */
  place(_nodeid: bigint, _fstart: number, nchunks: number, evict: boolean): Placement {
    let empty = this.windowChunks - this.firstEmpty();
    let evicted = 0;
    if (evict && empty < nchunks) {
      const r = this.pop(nchunks - empty);
      empty += r.nchunks;
      evicted = r.live;
    }
    return { mstart: this.windowChunks - empty, nchunks: Math.min(nchunks, empty), evicted };
  }

  commit(nodeid: bigint, fstart: number, placed: MappingPart): void {
    this.push(nodeid, placed.nchunks, fstart, placed.mstart);
  }

  /** Nothing to undo: the chunks were never pushed, they are above the top. */
  abort(_placed: MappingPart): void {}

  /** The top nchunks chunks: one run, since the stack has no holes. */
  victims(nchunks: number): MappingPart[] {
    const top = this.firstEmpty();
    const n = Math.min(nchunks, top);
    return n > 0 ? [{ mstart: top - n, nchunks: n }] : [];
  }

  evict(nchunks: number): number {
    return this.pop(nchunks).live;
  }

  private grow(): void {
    const n = this.mstartCol.length * 2;
    const m = new Uint32Array(n);
    m.set(this.mstartCol);
    this.mstartCol = m;
    const c = new Uint32Array(n);
    c.set(this.nchunksCol);
    this.nchunksCol = c;
    const e = new Uint32Array(n);
    e.set(this.endCol);
    this.endCol = e;
    const f = new Float64Array(n);
    f.set(this.fstartCol);
    this.fstartCol = f;
  }

  /** The columns, entryOf and the index again from entries in window
   *  order (no coalescing: each entry stays one). */
  private rebuild(entries: readonly Mapping[]): void {
    this.clear();
    for (const m of entries) {
      if (this.count === this.mstartCol.length) this.grow();
      const end = m.mstart + m.nchunks;
      if (end > this.entryOf.length) this.growEntryOf(end);
      this.entryOf.fill(this.count, m.mstart, end);
      this.mstartCol[this.count] = m.mstart;
      this.nchunksCol[this.count] = m.nchunks;
      this.endCol[this.count] = end;
      this.fstartCol[this.count] = m.fstart;
      this.nodeidCol[this.count] = m.nodeid;
      this.count++;
      if (m.nodeid === null) continue;
      let files = this.index.get(m.nodeid);
      if (!files) this.index.set(m.nodeid, (files = new Map()));
      for (let k = 0; k < m.nchunks; k++) if (!files.has(m.fstart + k)) files.set(m.fstart + k, m.mstart + k);
    }
  }

  private unindex(nodeid: bigint, fstart: number, mstart: number, from: number, to: number): void {
    const files = this.index.get(nodeid);
    if (!files) return;
    for (let k = from; k < to; k++) {
      // Only if this is the copy indexed: higher copies are already gone
      // (popped first), lower ones stay.
      if (files.get(fstart + k) === mstart + k) files.delete(fstart + k);
    }
    if (files.size === 0) {
      this.index.delete(nodeid);
      this.forgetLast();
    }
  }

  private forgetLast(): void {
    this.lastNodeid = null;
    this.lastFiles = undefined;
  }

  private growEntryOf(need: number): void {
    let n = this.entryOf.length;
    while (n < need) n *= 2;
    const e = new Uint32Array(Math.min(n, this.windowChunks));
    e.set(this.entryOf);
    this.entryOf = e;
  }
}
