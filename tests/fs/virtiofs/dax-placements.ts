// Placement policies for the DAX manager's tests: a wrapper that hands the
// manager nothing but the DaxPlacement interface of a policy, and a toy
// range pool shaped like Linux's (Linux virtiofs DAX series, Goyal et al.,
// 2020): one chunk per range, a free list, a busy list in LRU order, a
// per-inode map, inline reclaim of the least recently mapped range when
// nothing is free. It shows that a second policy needs no change to the
// manager; it is not the DAX-writes issue's pool (no refcount, no writable
// bit, no background reclaim).
import type { DaxPlacement, Mapping, MappingPart, Placement } from '../../../fs/virtiofs/dax';

/** Exactly the interface's methods, each counted, so the manager can reach nothing else. */
export function interfaceOnly(p: DaxPlacement, calls: Record<string, number> = {}): DaxPlacement {
  const count = (k: string) => { calls[k] = (calls[k] ?? 0) + 1; };
  return {
    get windowChunks() { return p.windowChunks; },
    lookup: (nodeid, fstart) => p.lookup(nodeid, fstart),
    runEnd: (mc) => p.runEnd(mc),
    firstEmpty: () => p.firstEmpty(),
    place: (nodeid, fstart, nchunks, evict) => { count('place'); return p.place(nodeid, fstart, nchunks, evict); },
    commit: (nodeid, fstart, placed) => { count('commit'); p.commit(nodeid, fstart, placed); },
    abort: (placed) => { count('abort'); p.abort(placed); },
    victims: (nchunks) => p.victims(nchunks),
    evict: (nchunks) => { count('evict'); return p.evict(nchunks); },
    drop: (nodeid) => { count('drop'); p.drop(nodeid); },
    clear: () => { count('clear'); p.clear(); },
    mappings: () => p.mappings(),
  };
}

interface Busy { nodeid: bigint; fstart: number }

export class RangePool implements DaxPlacement {
  /** Free ranges, lowest first. */
  private free: number[];
  /** Busy ranges by window chunk, least recently mapped first. */
  private readonly busy = new Map<number, Busy>();
  /** nodeid -> file chunk -> window chunk. */
  private readonly index = new Map<bigint, Map<number, number>>();

  constructor(readonly windowChunks: number) {
    this.free = Array.from({ length: windowChunks }, (_, i) => i);
  }

  lookup(nodeid: bigint, fstart: number): number {
    return this.index.get(nodeid)?.get(fstart) ?? -1;
  }

  runEnd(mc: number): number {
    return mc + 1; // ranges are independent
  }

  firstEmpty(): number {
    return this.free.length > 0 ? this.free[0]! : this.windowChunks;
  }

  /** One range per SETUPMAPPING, as Linux: a free one, or the LRU busy one reclaimed. */
  place(_nodeid: bigint, _fstart: number, nchunks: number, evict: boolean): Placement {
    if (nchunks <= 0) return { mstart: this.firstEmpty(), nchunks: Math.min(nchunks, 0), evicted: 0 };
    let evicted = 0;
    if (this.free.length === 0 && evict && this.busy.size > 0) evicted = this.evict(1);
    const mc = this.free.shift();
    if (mc === undefined) return { mstart: this.windowChunks, nchunks: 0, evicted };
    return { mstart: mc, nchunks: 1, evicted };
  }

  commit(nodeid: bigint, fstart: number, placed: MappingPart): void {
    this.busy.set(placed.mstart, { nodeid, fstart });
    let files = this.index.get(nodeid);
    if (!files) this.index.set(nodeid, (files = new Map()));
    files.set(fstart, placed.mstart);
  }

  abort(placed: MappingPart): void {
    this.release(placed.mstart);
  }

  victims(nchunks: number): MappingPart[] {
    return [...this.busy.keys()].slice(0, Math.max(0, nchunks)).map((mstart) => ({ mstart, nchunks: 1 }));
  }

  evict(nchunks: number): number {
    let n = 0;
    for (const { mstart } of this.victims(nchunks)) {
      this.unbusy(mstart);
      n++;
    }
    return n;
  }

  drop(nodeid: bigint): void {
    for (const [mc, b] of [...this.busy]) if (b.nodeid === nodeid) this.unbusy(mc);
  }

  clear(): void {
    for (const mc of [...this.busy.keys()]) this.unbusy(mc);
  }

  mappings(): Mapping[] {
    return [...this.busy].sort(([a], [b]) => a - b).map(([mstart, b]) => ({ nodeid: b.nodeid, nchunks: 1, fstart: b.fstart, mstart }));
  }

  private unbusy(mc: number): void {
    const b = this.busy.get(mc)!;
    this.busy.delete(mc);
    const files = this.index.get(b.nodeid)!;
    files.delete(b.fstart);
    if (files.size === 0) this.index.delete(b.nodeid);
    this.release(mc);
  }

  private release(mc: number): void {
    this.free.push(mc);
    this.free.sort((a, b) => a - b);
  }
}
