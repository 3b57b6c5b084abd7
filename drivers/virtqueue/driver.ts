// The driver half of a split virtqueue (virtio 1.2 §2.7.13): a free list of
// descriptors, chains with device-readable parts first, the avail ring with
// batched publication, kick decisions, and harvesting of the used ring.
// The device is untrusted: every used entry is checked before it frees
// anything, so a bad id or length cannot double-free or leak a descriptor.

import { GuestMemory } from '../../core/memory';
import { U32_MAX } from '../../core/bits';
import { SplitRing } from './ring';
import { VirtqueueError } from './errors';
import {
  DESC_ADDR, DESC_FLAGS, DESC_LEN, DESC_NEXT, DESC_SIZE, Iovec, QueueConfig, RING_ENTRIES, RING_FLAGS,
  RING_IDX, USED_ELEM_SIZE, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY, vringNeedEvent,
} from './layout';

/** Guest-physical memory for indirect tables (core/allocator.ts satisfies it). */
export interface RingAllocator {
  alloc(len: number, align: number): number;
  free(gpa: number): void;
}

export interface Completion<T> {
  token: T;
  /** Bytes the device says it wrote into the writable parts. */
  len: number;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Indirect policy (as Linux's virtqueue_use_indirect): when INDIRECT_DESC is
 * negotiated and an allocator is given, every chain of two or more parts
 * goes in an indirect table and costs one ring descriptor. When the
 * allocator fails (throws), the chain falls back to direct descriptors.
 */
export class DriverQueue<T> extends SplitRing {
  // Our own copy of the free-list links: the device may scribble on the table.
  private readonly nextFree: Uint16Array;
  private freeHead = 0;
  private nFree: number;

  // Per head of an in-flight chain.
  private readonly inFlight: Uint8Array;
  private readonly tail: Uint16Array;
  private readonly count: Uint16Array;
  private readonly writableTotal: Float64Array;
  private readonly table: Float64Array; // indirect table gpa, -1 when direct
  private readonly tokens: (T | undefined)[];
  private nInFlight = 0;

  private availIdx = 0;  // last published avail.idx
  private pending = 0;   // ring entries written but not yet published
  private kickOld = 0;   // avail.idx at the last kick decision
  private lastUsed = 0;  // next used entry to harvest
  private interrupts = true;

  private readonly scratch: Uint8Array;
  private readonly scratchView: DataView;

  // Our copy of what we wrote to each descriptor (descValid: written at all):
  // a slot reused with the same contents is not written again.
  private readonly descShadow: Uint8Array;
  private readonly descShadowView: DataView;
  private readonly descValid: Uint8Array;
  private usedEventShadow = 0; // what we last wrote to used_event
  // Used elements copied out in one access per harvest.
  private readonly usedBuf: Uint8Array;
  private readonly usedView: DataView;

  /** Initializes the rings: do this before setting QueueReady. */
  constructor(mem: GuestMemory, config: QueueConfig, private readonly allocator?: RingAllocator) {
    super(mem, config);
    const size = this.size;
    this.nextFree = new Uint16Array(size);
    for (let i = 0; i < size - 1; i++) this.nextFree[i] = i + 1;
    this.nFree = size;
    this.inFlight = new Uint8Array(size);
    this.tail = new Uint16Array(size);
    this.count = new Uint16Array(size);
    this.writableTotal = new Float64Array(size);
    this.table = new Float64Array(size).fill(-1);
    this.tokens = new Array<T | undefined>(size).fill(undefined);
    const useIndirect = config.indirect && allocator !== undefined;
    this.scratch = new Uint8Array(useIndirect ? DESC_SIZE * size : 0);
    this.scratchView = new DataView(this.scratch.buffer);
    this.descShadow = new Uint8Array(DESC_SIZE * size);
    this.descShadowView = new DataView(this.descShadow.buffer);
    this.descValid = new Uint8Array(size);
    this.usedBuf = new Uint8Array(USED_ELEM_SIZE * size);
    this.usedView = new DataView(this.usedBuf.buffer);

    for (const off of [RING_FLAGS, RING_IDX, this.usedEventOff]) this.avail.setU16(off, 0);
    for (const off of [RING_FLAGS, RING_IDX, this.availEventOff]) this.used.setU16(off, 0);
  }

  /** Free descriptors in the table. */
  get numFree(): number { return this.nFree; }
  /** Chains added and not yet harvested. */
  get numInFlight(): number { return this.nInFlight; }

  /**
   * Add a chain: `readable` parts (device reads) then `writable` parts
   * (device writes). Written to the avail ring at once; visible to the
   * device at the next publish(). Returns the head. Throws 'no-room' when
   * there are not enough free descriptors (queue the request and retry after
   * a harvest), 'bad-chain' for a request that can never fit.
   */
  add(readable: readonly Iovec[], writable: readonly Iovec[], token: T): number {
    const nr = readable.length;
    const n = nr + writable.length;
    if (n === 0 || n > this.size) {
      throw new VirtqueueError('bad-chain', `a chain of ${n} parts on a queue of ${this.size}`);
    }
    let total = 0;
    let wtotal = 0;
    for (let i = 0; i < n; i++) {
      const v = i < nr ? readable[i] : writable[i - nr];
      if (!Number.isSafeInteger(v.base) || v.base < 0 || !Number.isInteger(v.len) || v.len < 0 || v.len > U32_MAX) {
        throw new VirtqueueError('bad-chain', `bad iovec {base ${v.base}, len ${v.len}}`);
      }
      total += v.len;
      if (i >= nr) wtotal += v.len;
    }
    if (total > U32_MAX) throw new VirtqueueError('bad-chain', `chain of ${total} bytes exceeds 2^32 - 1`);
    if (this.nFree === 0) throw new VirtqueueError('no-room', 'no free descriptor');

    let head: number;
    const gpa = n > 1 && this.scratch.length > 0 ? this.allocTable(n) : -1;
    if (gpa >= 0) {
      const dv = this.scratchView;
      for (let i = 0; i < n; i++) {
        const off = i * DESC_SIZE;
        const w = i >= nr;
        const v = w ? writable[i - nr] : readable[i];
        dv.setUint32(off + DESC_ADDR, v.base >>> 0, true);
        dv.setUint32(off + DESC_ADDR + 4, Math.floor(v.base / TWO_32), true);
        dv.setUint32(off + DESC_LEN, v.len, true);
        dv.setUint16(off + DESC_FLAGS, (w ? VIRTQ_DESC_F_WRITE : 0) | (i < n - 1 ? VIRTQ_DESC_F_NEXT : 0), true);
        dv.setUint16(off + DESC_NEXT, i < n - 1 ? i + 1 : 0, true);
      }
      this.mem.write(gpa, this.scratch.subarray(0, n * DESC_SIZE));
      head = this.freeHead;
      this.writeDesc(head, gpa, n * DESC_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
      this.tail[head] = head;
      this.count[head] = 1;
      this.table[head] = gpa;
    } else {
      if (this.nFree < n) throw new VirtqueueError('no-room', `${n} descriptors needed, ${this.nFree} free`);
      head = this.freeHead;
      let d = head;
      for (let i = 0; i < n; i++) {
        const w = i >= nr;
        const v = w ? writable[i - nr] : readable[i];
        const last = i === n - 1;
        const next = last ? 0 : this.nextFree[d];
        this.writeDesc(d, v.base, v.len, (w ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT), next);
        if (!last) d = next;
      }
      this.tail[head] = d;
      this.count[head] = n;
      this.table[head] = -1;
    }
    this.freeHead = this.nextFree[this.tail[head]];
    this.nFree -= this.count[head];
    this.inFlight[head] = 1;
    this.tokens[head] = token;
    this.writableTotal[head] = wtotal;
    this.nInFlight++;

    this.avail.setU16(RING_ENTRIES + 2 * ((this.availIdx + this.pending) & this.mask), head);
    this.pending++;
    return head;
  }

  /** Make the added chains visible: ring entries were written first, now idx. */
  publish(): void {
    if (this.pending === 0) return;
    this.availIdx = (this.availIdx + this.pending) & 0xffff;
    this.pending = 0;
    this.avail.setU16(RING_IDX, this.availIdx);
  }

  /**
   * Publish, then decide whether the device wants a notification for the
   * chains published since the last decision (EVENT_IDX: avail_event;
   * otherwise the used ring's NO_NOTIFY flag).
   */
  kickNeeded(): boolean {
    this.publish();
    const newIdx = this.availIdx;
    const oldIdx = this.kickOld;
    this.kickOld = newIdx;
    if (newIdx === oldIdx) return false;
    if (this.config.eventIdx) return vringNeedEvent(this.used.u16(this.availEventOff), newIdx, oldIdx);
    return (this.used.u16(RING_FLAGS) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Take the completed chains from the used ring, freeing exactly their
   * descriptors (and indirect tables). A bad entry (id out of range or not
   * in flight, len above the chain's writable total) is consumed and thrown
   * as a VirtqueueError, but only when it is the first entry of this call:
   * otherwise the good completions before it are returned and the next call
   * throws. A bad len still frees its chain; the error carries the token.
   * A used.idx more than size ahead is thrown ('used-idx') and not consumed:
   * the device is broken.
   */
  harvest(): Completion<T>[] {
    const out: Completion<T>[] = [];
    const usedIdx = this.used.u16(RING_IDX);
    try {
      if (((usedIdx - this.lastUsed) & 0xffff) > this.size) {
        throw new VirtqueueError('used-idx', `used.idx ${usedIdx} is more than ${this.size} past ${this.lastUsed}`);
      }
      // The new elements in one access (two when they wrap), after idx.
      const ahead = (usedIdx - this.lastUsed) & 0xffff;
      const first = this.lastUsed & this.mask;
      const n1 = Math.min(ahead, this.size - first);
      if (n1 > 0) this.used.readInto(RING_ENTRIES + USED_ELEM_SIZE * first, this.usedBuf.subarray(0, USED_ELEM_SIZE * n1));
      if (ahead > n1) this.used.readInto(RING_ENTRIES, this.usedBuf.subarray(USED_ELEM_SIZE * n1, USED_ELEM_SIZE * ahead));
      for (let k = 0; this.lastUsed !== usedIdx; k++) {
        const id = this.usedView.getUint32(USED_ELEM_SIZE * k, true);
        const len = this.usedView.getUint32(USED_ELEM_SIZE * k + 4, true);
        const badId = id >= this.size || this.inFlight[id] === 0;
        if (badId || len > this.writableTotal[id]) {
          if (out.length > 0) return out;
          this.lastUsed = (this.lastUsed + 1) & 0xffff;
          if (badId) throw new VirtqueueError('used-id', `used id ${id} is not a chain in flight`);
          const wt = this.writableTotal[id];
          throw new VirtqueueError('used-len', `used len ${len} above the ${wt} writable bytes of chain ${id}`,
            id, this.release(id));
        }
        this.lastUsed = (this.lastUsed + 1) & 0xffff;
        out.push({ token: this.release(id), len });
      }
      return out;
    } finally {
      // As Linux: with interrupts on, ask for one at the next used entry.
      if (this.config.eventIdx && this.interrupts) this.setUsedEvent(this.lastUsed);
    }
  }

  /** True when the device has used entries not yet harvested. */
  hasUsed(): boolean {
    return this.used.u16(RING_IDX) !== this.lastUsed;
  }

  /**
   * Ask for interrupts again. Returns true when used entries arrived in the
   * meantime: harvest them, since no interrupt may come for those.
   */
  enableInterrupts(): boolean {
    this.interrupts = true;
    if (this.config.eventIdx) this.setUsedEvent(this.lastUsed);
    else this.avail.setU16(RING_FLAGS, 0);
    return this.hasUsed();
  }

  /**
   * Stop asking for interrupts (while polling). With EVENT_IDX used_event
   * simply stops moving, so the device finds it behind and stays quiet (as
   * Linux); otherwise avail.flags gets NO_INTERRUPT. Advisory either way.
   */
  disableInterrupts(): void {
    this.interrupts = false;
    if (!this.config.eventIdx) this.avail.setU16(RING_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  /** Release every chain in flight (device reset, lost device); returns their tokens. */
  detachAll(): T[] {
    const out: T[] = [];
    for (let h = 0; h < this.size; h++) if (this.inFlight[h]) out.push(this.release(h));
    return out;
  }

  // --- internals -----------------------------------------------------------

  private allocTable(n: number): number {
    try {
      const gpa = this.allocator!.alloc(n * DESC_SIZE, DESC_SIZE);
      return Number.isSafeInteger(gpa) && gpa >= 0 ? gpa : -1;
    } catch {
      return -1; // fall back to direct descriptors, as Linux on kmalloc failure
    }
  }

  /** The avail ring is ours: a value already there need not be written again. */
  private setUsedEvent(v: number): void {
    if (v === this.usedEventShadow) return;
    this.avail.setU16(this.usedEventOff, v);
    this.usedEventShadow = v;
  }

  /** One 16-byte access, or none when the slot already holds these contents. */
  private writeDesc(i: number, addr: number, len: number, flags: number, next: number): void {
    const off = i * DESC_SIZE;
    const dv = this.descShadowView;
    const lo = addr >>> 0;
    const hi = Math.floor(addr / TWO_32);
    if (this.descValid[i] && dv.getUint32(off + DESC_ADDR, true) === lo && dv.getUint32(off + DESC_ADDR + 4, true) === hi
        && dv.getUint32(off + DESC_LEN, true) === len && dv.getUint16(off + DESC_FLAGS, true) === flags
        && dv.getUint16(off + DESC_NEXT, true) === next) return;
    dv.setUint32(off + DESC_ADDR, lo, true);
    dv.setUint32(off + DESC_ADDR + 4, hi, true);
    dv.setUint32(off + DESC_LEN, len, true);
    dv.setUint16(off + DESC_FLAGS, flags, true);
    dv.setUint16(off + DESC_NEXT, next, true);
    this.descValid[i] = 1;
    this.desc.write(off, this.descShadow.subarray(off, off + DESC_SIZE));
  }

  private release(head: number): T {
    const token = this.tokens[head] as T;
    this.tokens[head] = undefined;
    this.inFlight[head] = 0;
    this.nInFlight--;
    const gpa = this.table[head];
    if (gpa >= 0) {
      this.table[head] = -1;
      this.allocator!.free(gpa);
    }
    this.nextFree[this.tail[head]] = this.freeHead;
    this.freeHead = head;
    this.nFree += this.count[head];
    return token;
  }
}
