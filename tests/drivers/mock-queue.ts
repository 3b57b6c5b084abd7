// A split virtqueue written by hand, playing a (possibly hostile) driver or
// device, as rust-vmm's MockSplitQueue: raw descriptors, avail and used
// entries at the spec's offsets, so hostile rings are built in one place.
// Also the recording ring allocator and the ring layout the queue tests share.
import { BufferBacking, GuestMemory } from '../../core/memory';
import { VirtqueueError, type QueueConfig, type RingAllocator, type VirtqueueErrorKind } from '../../drivers/virtqueue';

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
 *  a free of anything not live fails the test. Wraps to `base` at `limit`.
 *  With `reuse`, the table freed last is handed out again first (as a real
 *  allocator's free list would), so a driver's table address repeats. */
export class RecordingAlloc implements RingAllocator {
  readonly live = new Set<number>();
  private next: number;
  private readonly freed: { gpa: number; len: number }[] = [];
  private readonly lens = new Map<number, number>();

  constructor(readonly base: number, readonly limit = Infinity, private readonly reuse = false) {
    this.next = base;
  }

  alloc(len: number, align: number): number {
    const last = this.freed[this.freed.length - 1];
    if (last && last.len >= len && last.gpa % align === 0) {
      this.freed.pop();
      return this.take(last.gpa, last.len);
    }
    let gpa = Math.ceil(this.next / align) * align;
    if (gpa + len > this.limit) gpa = this.base; // ample room: tables live briefly
    this.next = gpa + len;
    return this.take(gpa, len);
  }

  free(gpa: number): void {
    if (!this.live.delete(gpa)) throw new Error(`free of a table not allocated: ${gpa}`);
    if (this.reuse) this.freed.push({ gpa, len: this.lens.get(gpa)! });
    this.lens.delete(gpa);
  }

  private take(gpa: number, len: number): number {
    this.live.add(gpa);
    this.lens.set(gpa, len);
    return gpa;
  }
}

// The layout the queue tests use.
export const RAM = 0x10_0000;
export const DESC = 0x1000;
export const AVAIL = 0x2000;
export const USED = 0x3000;
export const TABLES = 0x8000; // indirect tables
export const BUF = 0x4_0000;  // data buffers

export function ram(size = RAM): GuestMemory {
  return new GuestMemory([{ name: 'ram', base: 0, size, backing: new BufferBacking(size) }]);
}

export function cfg(over: Partial<QueueConfig> = {}): QueueConfig {
  return { size: 8, desc: DESC, avail: AVAIL, used: USED, eventIdx: false, indirect: false, ...over };
}

export function kindOf(fn: () => unknown): VirtqueueErrorKind | undefined {
  try { fn(); } catch (e) {
    if (e instanceof VirtqueueError) return e.kind;
    throw e;
  }
  return undefined;
}

/** Raw ring writes, playing a (possibly hostile) driver. */
export const ring = (mem: GuestMemory, c: QueueConfig = cfg()) => new MockSplitQueue(mem, c);

