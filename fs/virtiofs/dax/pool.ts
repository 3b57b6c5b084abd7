// Linux's placement of DAX mappings (fs/fuse/dax.c; Linux virtiofs DAX
// series, Goyal et al., 2020), the `dax-placement=lru` policy:
//
// - the window is cut into fixed ranges of the chunk size (FUSE_DAX_SZ is
//   2 MiB there), and one SETUPMAPPING maps one range: runEnd(mc) is mc + 1;
// - a free list (fcd->free_ranges): ranges are taken from its head and
//   given back at its tail;
// - a busy list (fcd->busy_ranges) of mapped ranges, least recently mapped
//   first: a range joins its tail when it is set up;
// - a per-inode map, file chunk -> range (fi->dax->tree, an interval tree
//   of single-range nodes there);
// - inline reclaim when nothing is free (alloc_dax_mapping_reclaim): the
//   inode's own first range (inode_lookup_first_dmap), or, when it has none,
//   the head of the busy list — what Linux waits for the worker to free;
// - background reclaim (fuse_dax_free_mem_worker): while fewer than
//   FUSE_DAX_RECLAIM_THRESHOLD (20) percent of the ranges are free,
//   FUSE_DAX_RECLAIM_CHUNK (10) ranges at a time from the busy list's head.
//
// What Linux keeps and this does not: the refcount of a range in use by an
// iomap operation (here a copy is synchronous and a miss holds the manager's
// lock from place() to its copy; reclaim takes the same lock), and the
// writable bit (device state: the manager's book, owners.ts). No I/O here:
// the manager sends the requests.

import type { DaxPlacement, Mapping, MappingPart, Placement } from './placement';

/** Linux's FUSE_DAX_RECLAIM_THRESHOLD: reclaim while fewer free, in percent. */
export const RECLAIM_THRESHOLD_PERCENT = 20;
/** Linux's FUSE_DAX_RECLAIM_CHUNK: ranges one reclaim run frees. */
export const RECLAIM_CHUNK = 10;

const NONE = -1;

export class RangePool implements DaxPlacement {
  readonly name = 'lru';
  /** The free list as a ring of range numbers, head first. */
  private readonly ring: Uint32Array;
  private head = 0;
  private nfree: number;
  /** 1 for a free range (firstEmpty scans it; off the hot path). */
  private readonly isFree: Uint8Array;
  /** Mapped ranges, least recently mapped first (a Map keeps insertion order). */
  private readonly busy = new Map<number, true>();
  /** Range -> the nodeid and file chunk it shows (busy ranges only). */
  private readonly nodeidOf: (bigint | null)[] = [];
  private readonly fchunkOf: Float64Array;
  /** nodeid -> file chunk -> range. */
  private readonly index = new Map<bigint, Map<number, number>>();
  private lastNodeid: bigint | null = null;
  private lastFiles: Map<number, number> | undefined;

  constructor(readonly windowChunks: number) {
    if (!Number.isInteger(windowChunks) || windowChunks < 0 || windowChunks > 0x7fffffff) {
      throw new RangeError(`dax range pool: ${windowChunks} ranges`);
    }
    this.ring = new Uint32Array(windowChunks);
    for (let i = 0; i < windowChunks; i++) this.ring[i] = i;
    this.nfree = windowChunks;
    this.isFree = new Uint8Array(windowChunks).fill(1);
    this.fchunkOf = new Float64Array(windowChunks);
  }

  lookup(nodeid: bigint, fstart: number): number {
    let files = this.lastFiles;
    if (nodeid !== this.lastNodeid) {
      files = this.index.get(nodeid);
      if (files === undefined) return NONE;
      this.lastNodeid = nodeid;
      this.lastFiles = files;
    }
    const mc = files!.get(fstart);
    return mc === undefined ? NONE : mc;
  }

  runEnd(mc: number): number {
    return mc + 1;
  }

  firstEmpty(): number {
    const i = this.isFree.indexOf(1);
    return i < 0 ? this.windowChunks : i;
  }

  freeChunks(): number {
    return this.nfree;
  }

  /** One range: the free list's head; when it is empty and evict, one
   *  reclaimed inline (the inode's own first range, else the busy head). */
  place(nodeid: bigint, _fstart: number, nchunks: number, evict: boolean): Placement {
    if (!(nchunks > 0)) return { mstart: this.firstEmpty(), nchunks: 0, evicted: 0 };
    let evicted = 0;
    if (this.nfree === 0 && evict && this.busy.size > 0) {
      const own = this.index.get(nodeid);
      let victim = NONE;
      if (own) for (const [f, mc] of own) if (victim === NONE || f < this.fchunkOf[victim]!) victim = mc;
      if (victim === NONE) victim = this.busy.keys().next().value as number;
      this.unbusy(victim);
      this.pushFree(victim);
      evicted = 1;
    }
    const mc = this.popFree();
    if (mc === NONE) return { mstart: this.windowChunks, nchunks: 0, evicted };
    return { mstart: mc, nchunks: 1, evicted };
  }

  commit(nodeid: bigint, fstart: number, placed: MappingPart): void {
    for (let k = 0; k < placed.nchunks; k++) {
      const mc = placed.mstart + k;
      this.busy.set(mc, true);
      this.nodeidOf[mc] = nodeid;
      this.fchunkOf[mc] = fstart + k;
      let files = this.index.get(nodeid);
      if (!files) this.index.set(nodeid, (files = new Map()));
      files.set(fstart + k, mc);
    }
  }

  abort(placed: MappingPart): void {
    for (let k = 0; k < placed.nchunks; k++) this.pushFree(placed.mstart + k);
  }

  /** The busy list's head: least recently mapped first. */
  victims(nchunks: number): MappingPart[] {
    const out: MappingPart[] = [];
    if (!(nchunks > 0)) return out;
    for (const mc of this.busy.keys()) {
      out.push({ mstart: mc, nchunks: 1 });
      if (out.length >= nchunks) break;
    }
    return out;
  }

  evict(nchunks: number): number {
    let n = 0;
    for (const { mstart } of this.victims(nchunks)) {
      this.unbusy(mstart);
      this.pushFree(mstart);
      n++;
    }
    return n;
  }

  drop(nodeid: bigint): void {
    const files = this.index.get(nodeid);
    if (!files) return;
    for (const mc of [...files.values()]) { this.unbusy(mc); this.pushFree(mc); }
  }

  remove(nodeid: bigint, ffrom: number, fto: number): number {
    const files = this.index.get(nodeid);
    if (!files) return 0;
    let n = 0;
    for (const [f, mc] of [...files]) {
      if (f < ffrom || f >= fto) continue;
      this.unbusy(mc);
      this.pushFree(mc);
      n++;
    }
    return n;
  }

  clear(): void {
    for (const mc of [...this.busy.keys()]) { this.unbusy(mc); this.pushFree(mc); }
  }

  /** Window order; neighbouring ranges showing consecutive chunks of one
   *  file are drawn as one mapping. */
  mappings(): Mapping[] {
    const out: Mapping[] = [];
    for (const mc of [...this.busy.keys()].sort((a, b) => a - b)) {
      const nodeid = this.nodeidOf[mc]!;
      const fstart = this.fchunkOf[mc]!;
      const last = out[out.length - 1];
      if (last && last.nodeid === nodeid && last.mstart + last.nchunks === mc && last.fstart + last.nchunks === fstart) last.nchunks++;
      else out.push({ nodeid, nchunks: 1, fstart, mstart: mc });
    }
    return out;
  }

  /** Linux's __kick_dmap_free_worker test: fewer than 20 % free (at least 1). */
  reclaimWanted(): number {
    const threshold = Math.max(1, Math.floor((this.windowChunks * RECLAIM_THRESHOLD_PERCENT) / 100));
    if (this.nfree >= threshold || this.busy.size === 0) return 0;
    return Math.min(RECLAIM_CHUNK, this.busy.size);
  }

  private unbusy(mc: number): void {
    if (!this.busy.delete(mc)) return;
    const nodeid = this.nodeidOf[mc]!;
    this.nodeidOf[mc] = null;
    const files = this.index.get(nodeid)!;
    files.delete(this.fchunkOf[mc]!);
    if (files.size === 0) {
      this.index.delete(nodeid);
      if (this.lastNodeid === nodeid) { this.lastNodeid = null; this.lastFiles = undefined; }
    }
  }

  private popFree(): number {
    if (this.nfree === 0) return NONE;
    const mc = this.ring[this.head]!;
    this.head = this.head + 1 === this.windowChunks ? 0 : this.head + 1;
    this.nfree--;
    this.isFree[mc] = 0;
    return mc;
  }

  private pushFree(mc: number): void {
    if (this.isFree[mc]) return;
    let tail = this.head + this.nfree;
    if (tail >= this.windowChunks) tail -= this.windowChunks;
    this.ring[tail] = mc;
    this.nfree++;
    this.isFree[mc] = 1;
  }
}
