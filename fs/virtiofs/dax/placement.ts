// Where mappings go in the window, and which ones leave it: the placement
// policy of the DAX window manager, apart from its mechanism (the read and
// hit paths, the lock, the statistics, the book of what the device may still
// have mapped: manager.ts and owners.ts). Chunks are window chunks (mstart)
// and file chunks (fstart) of the manager's chunk size; nothing here does I/O.
//
// OSv's stack (stack.ts: the lowest free chunks, the top evicted first) is
// one policy, the default. Linux's range pool (pool.ts; Linux virtiofs DAX
// series, Goyal et al., 2020: fixed ranges of the chunk size, a free list, a
// busy list in LRU order, a per-inode map, inline and background reclaim) is
// the other: place() takes a free range or reclaims a busy one, commit()
// files it under the inode, drop() and clear() put ranges back on the free
// list, reclaimWanted() asks for the background reclaim. Neither keeps the
// writable bit: that is device state, in the manager's book (owners.ts).
//
// The manager makes the changing calls with its lock held (or, for its
// OSv-shaped public map/unmap, from callers that do not overlap); the
// queries (lookup, runEnd, firstEmpty, mappings) come at any time, lookup
// and runEnd from the hit path. So chunks chosen by place() must leave the
// index at once, and a new mapping enter it only at commit(), after its
// SETUPMAPPING succeeded.

/** OSv's mapping_part: nchunks consecutive window chunks from mstart. */
export interface MappingPart {
  nchunks: number;
  mstart: number;
}

/** A mapping of nchunks window chunks from mstart to the file's chunks from
 *  fstart. nodeid null: a dropped file's chunks a policy still holds (OSv's
 *  stack keeps them as a tombstone, so that it has no holes). */
export interface Mapping {
  nodeid: bigint | null;
  nchunks: number;
  fstart: number;
  mstart: number;
}

/** Where place() put a new mapping: nchunks chunks from mstart (fewer than
 *  asked when the window has no room for all; none when nothing fits), and
 *  how many chunks of live files it evicted to make room. */
export interface Placement extends MappingPart {
  readonly evicted: number;
}

export interface DaxPlacement {
  /** For the snapshot and the shell: 'lifo' (OSv's stack), 'lru' (Linux's pool). */
  readonly name: string;
  readonly windowChunks: number;

  /** The window chunk showing file chunk fstart of nodeid, or -1. The hit
   *  path: synchronous, without allocation. */
  lookup(nodeid: bigint, fstart: number): number;
  /** One past the last chunk of the run, starting at window chunk mc (a
   *  lookup() result), whose chunks show consecutive file chunks: what one
   *  copy may read. */
  runEnd(mc: number): number;
  /** OSv's first_empty(): the lowest free chunk, windowChunks when none is. */
  firstEmpty(): number;

  /** Chooses the chunks for nchunks file chunks of nodeid from fstart. If
   *  evict, chunks of other mappings may be taken when too few are free;
   *  they leave the index now. The caller sends SETUPMAPPING for the result,
   *  then commit() or abort(). */
  place(nodeid: bigint, fstart: number, nchunks: number, evict: boolean): Placement;
  /** The SETUPMAPPING of a placement succeeded: its chunks show the file. */
  commit(nodeid: bigint, fstart: number, placed: MappingPart): void;
  /** The SETUPMAPPING of a placement failed: its chunks are free again. */
  abort(placed: MappingPart): void;

  /** The chunks evict(nchunks) would take, in runs, without taking them. */
  victims(nchunks: number): MappingPart[];
  /** Takes up to nchunks chunks out, in the policy's order (OSv's unmap():
   *  the top of the stack). Returns how many of them held live files. */
  evict(nchunks: number): number;

  /** nodeid was forgotten: its mappings leave the index. */
  drop(nodeid: bigint): void;
  /** The chunks showing file chunks [ffrom, fto) of nodeid leave the index
   *  (truncation, a failed upgrade); every copy of them. Returns how many. */
  remove(nodeid: bigint, ffrom: number, fto: number): number;
  /** Everything leaves the window (unmount). */
  clear(): void;
  /** The mappings held, in window order, for the snapshot. */
  mappings(): Mapping[];
  /** Chunks free for a new mapping now (the snapshot). */
  freeChunks(): number;
  /** Background reclaim (Linux's fuse_dax_free_mem_worker): how many
   *  chunks evict() should take now to keep enough free, 0 for none. The
   *  manager asks after each miss and reclaims under its lock, sending
   *  REMOVEMAPPING for what it took. Policies without one leave it out. */
  reclaimWanted?(): number;
}

/** The mount option's names of the two policies. */
export type PlacementName = 'lifo' | 'lru';

/** How the manager makes its policy for a window of windowChunks chunks. */
export type PlacementFactory = (windowChunks: number) => DaxPlacement;
