// A split virtqueue written by hand, playing a (possibly hostile) driver or
// device, as rust-vmm's MockSplitQueue: raw descriptors, avail and used
// entries at the spec's offsets, so hostile rings are built in one place.
// Also the recording ring allocator the queue tests share.
import type { GuestMemory } from '../../core/memory';
import type { QueueConfig, RingAllocator } from '../../drivers/virtqueue';

export class MockSplitQueue {
  constructor(readonly mem: GuestMemory, readonly cfg: Pick<QueueConfig, 'size' | 'desc' | 'avail' | 'used'>) {}

  /** Descriptor i of the table at `table` (the ring's own by default). */
  desc(i: number, addr: number, len: number, flags: number, next: number, table = this.cfg.desc): void {
    const a = table + 16 * i;
    this.mem.setU64(a, BigInt(addr));
    this.mem.setU32(a + 8, len);
    this.mem.setU16(a + 12, flags);
    this.mem.setU16(a + 14, next);
  }

  /** avail.ring[from..] = heads, then avail.idx = from + heads.length (mod 2^16). */
  offer(heads: readonly number[], from = this.availIdx): void {
    heads.forEach((h, k) => this.mem.setU16(this.cfg.avail + 4 + 2 * ((from + k) % this.cfg.size), h));
    this.setAvailIdx(from + heads.length);
  }

  get availIdx(): number { return this.mem.u16(this.cfg.avail + 2); }
  setAvailIdx(idx: number): void { this.mem.setU16(this.cfg.avail + 2, idx & 0xffff); }

  /** used.ring[slot] = { id, len }, as a device would write it. */
  usedElem(slot: number, id: number, len: number): void {
    const a = this.cfg.used + 4 + 8 * (slot % this.cfg.size);
    this.mem.setU32(a, id);
    this.mem.setU32(a + 4, len);
  }

  get usedIdx(): number { return this.mem.u16(this.cfg.used + 2); }
  setUsedIdx(idx: number): void { this.mem.setU16(this.cfg.used + 2, idx & 0xffff); }
}

/** A bump allocator of indirect tables from `base` that records what is live;
 *  a free of anything not live fails the test. Wraps to `base` at `limit`. */
export class RecordingAlloc implements RingAllocator {
  readonly live = new Set<number>();
  private next: number;

  constructor(readonly base: number, readonly limit = Infinity) {
    this.next = base;
  }

  alloc(len: number, align: number): number {
    let gpa = Math.ceil(this.next / align) * align;
    if (gpa + len > this.limit) gpa = this.base; // ample room: tables live briefly
    this.next = gpa + len;
    this.live.add(gpa);
    return gpa;
  }

  free(gpa: number): void {
    if (!this.live.delete(gpa)) throw new Error(`free of a table not allocated: ${gpa}`);
  }
}
