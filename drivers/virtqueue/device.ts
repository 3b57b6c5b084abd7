// The device half of a split virtqueue (virtio 1.2 §2.7): pops descriptor
// chains from the avail ring, validating everything the driver wrote, pushes
// used entries, and decides interrupts.
//
// Stricter than rust-vmm's virtio-queue, whose chain iterator ends a bad chain
// quietly (a loop, a next or head out of range, a chain over 2^32 - 1 bytes)
// where pop() fails it with a kind; which ignores NEXT beside INDIRECT, does
// not check that INDIRECT_DESC was negotiated, and leaves buffer addresses to
// the first access, where pop() refuses each. Also QEMU's ordering rule: no
// device-readable descriptor after a writable one.
//
// State after an error from pop():
// - a chain error (kinds head-index .. indirect-with-next) consumes that avail
//   entry; the error's `head` names it. The caller either marks the device
//   broken (QEMU's virtio_error: DEVICE_NEEDS_RESET) or, when head < size,
//   returns it with pushUsed(head, 0) and goes on popping;
// - 'avail-idx' consumes nothing: every pop throws again until a reset.
// Either way pop() returns promptly: every walk is bounded by the table size.

import { GuestMemory } from '../../core/memory';
import { U32_MAX } from '../../core/bits';
import { Area } from './area';
import { SplitRing } from './ring';
import { VirtqueueError, VirtqueueErrorKind } from './errors';
import {
  DESC_ADDR, DESC_FLAGS, DESC_LEN, DESC_NEXT, DESC_SIZE, Iovec, QueueConfig, RING_ENTRIES, RING_FLAGS,
  RING_IDX, USED_ELEM_SIZE, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY, vringNeedEvent,
} from './layout';

/** A chain as the device sees it: readable parts first, writable after. */
export interface Chain {
  head: number;
  readable: Iovec[];
  writable: Iovec[];
  readableLen: number;
  writableLen: number;
}

/** Ring positions to resume from (vhost-user SET_VRING_BASE, migration). */
export interface DeviceQueueState {
  nextAvail: number;
  nextUsed: number;
}

const TWO_32 = 0x1_0000_0000;
// Above this high word an address is not a safe integer (and not in memory).
const MAX_ADDR_HI = 0x1fffff;
// rust-vmm: an indirect table holds at most u16::MAX descriptors.
const MAX_INDIRECT_ENTRIES = 0xffff;
// An indirect table up to this size is copied in one access, then walked.
const INDIRECT_SNAPSHOT_BYTES = 256 * DESC_SIZE;

export class DeviceQueue extends SplitRing {
  private lastAvail: number;
  private usedIdx: number;
  private signalled: number;   // used.idx at the last interrupt decision
  private notifications = true;
  private availEventShadow = -1; // what we last wrote to avail_event

  // Avail ring entries read in one access, not yet popped: [availPos, availEnd).
  private readonly availBuf: Uint8Array;
  private readonly availView: DataView;
  private availPos = 0;
  private availEnd = 0;
  // One descriptor, or a whole small indirect table, copied out of guest memory.
  private readonly descBuf = new Uint8Array(DESC_SIZE);
  private readonly descView = new DataView(this.descBuf.buffer);
  private snapBuf = new Uint8Array(0);
  private snapView = new DataView(this.snapBuf.buffer);
  private readonly usedElem = new Uint8Array(USED_ELEM_SIZE);
  private readonly usedElemView = new DataView(this.usedElem.buffer);

  constructor(mem: GuestMemory, config: QueueConfig, state?: DeviceQueueState) {
    super(mem, config);
    const size = this.size;
    this.lastAvail = (state?.nextAvail ?? 0) & 0xffff;
    this.usedIdx = (state?.nextUsed ?? 0) & 0xffff;
    this.signalled = this.usedIdx;
    this.availBuf = new Uint8Array(2 * size);
    this.availView = new DataView(this.availBuf.buffer);
  }

  /** Next avail index to pop and next used index to fill (vhost-user GET_VRING_BASE). */
  get state(): DeviceQueueState {
    return { nextAvail: this.lastAvail, nextUsed: this.usedIdx };
  }

  /** The next chain the driver made available, or undefined when none. */
  pop(): Chain | undefined {
    if (this.availPos === this.availEnd) {
      const availIdx = this.avail.u16(RING_IDX);
      const ahead = (availIdx - this.lastAvail) & 0xffff;
      if (ahead > this.size) {
        throw new VirtqueueError('avail-idx', `avail.idx ${availIdx} is ${ahead} past ${this.lastAvail}, queue size ${this.size}`);
      }
      if (ahead === 0) {
        this.publishAvailEvent();
        return undefined;
      }
      // Every entry published so far (up to the ring's end) in one access,
      // read after idx as the spec orders it; each is still read only once.
      const slot = this.lastAvail & this.mask;
      const n = Math.min(ahead, this.size - slot);
      this.avail.readInto(RING_ENTRIES + 2 * slot, this.availBuf.subarray(0, 2 * n));
      this.availPos = 0;
      this.availEnd = n;
    }
    const head = this.availView.getUint16(2 * this.availPos++, true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    this.publishAvailEvent();
    return this.readChain(head);
  }

  /** Chains known to be available without another read of avail.idx. */
  get availKnown(): number {
    return this.availEnd - this.availPos;
  }

  /** Return a chain to the driver with `len` bytes written; publishes used.idx. */
  pushUsed(head: number, len: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.size) {
      throw new VirtqueueError('head-index', `used head ${head} out of range for size ${this.size}`, head);
    }
    if (!Number.isInteger(len) || len < 0 || len > U32_MAX) {
      throw new VirtqueueError('used-len', `used len ${len} is not a u32`, head);
    }
    const slot = RING_ENTRIES + USED_ELEM_SIZE * (this.usedIdx & this.mask);
    // id and len in one access, then idx.
    this.usedElemView.setUint32(0, head, true);
    this.usedElemView.setUint32(4, len, true);
    this.used.write(slot, this.usedElem);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.used.setU16(RING_IDX, this.usedIdx);
  }

  /**
   * Whether to interrupt the driver for the entries pushed since the last
   * decision (EVENT_IDX: used_event; otherwise avail.flags NO_INTERRUPT).
   */
  needsInterrupt(): boolean {
    const newIdx = this.usedIdx;
    const oldIdx = this.signalled;
    this.signalled = newIdx;
    if (newIdx === oldIdx) return false;
    if (this.config.eventIdx) return vringNeedEvent(this.avail.u16(this.usedEventOff), newIdx, oldIdx);
    return (this.avail.u16(RING_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * Turn driver notifications (kicks) on or off. Off: used.flags NO_NOTIFY,
   * or with EVENT_IDX avail_event stops following pop(). On: the reverse;
   * returns true when chains are already waiting (pop them: no kick will
   * come for those).
   */
  setNotification(enabled: boolean): boolean {
    this.notifications = enabled;
    if (this.config.eventIdx) this.publishAvailEvent();
    else this.used.setU16(RING_FLAGS, enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY);
    return enabled && this.avail.u16(RING_IDX) !== this.lastAvail;
  }

  // --- internals -----------------------------------------------------------

  /** With EVENT_IDX: kick me once the driver publishes past what I popped. */
  private publishAvailEvent(): void {
    // The used ring is ours: a value already there need not be written again.
    if (this.config.eventIdx && this.notifications && this.availEventShadow !== this.lastAvail) {
      this.used.setU16(this.availEventOff, this.lastAvail);
      this.availEventShadow = this.lastAvail;
    }
  }

  private readChain(head: number): Chain {
    if (head >= this.size) this.fail('head-index', head, `head ${head} >= queue size ${this.size}`);
    const readable: Iovec[] = [];
    const writable: Iovec[] = [];
    let readableLen = 0;
    let writableLen = 0;
    let table = this.desc;
    let snap = false; // the table is in snapBuf (a small indirect one)
    let tableLen = this.size;
    let budget = this.size; // descriptors left before the walk must be a loop
    let indirect = false;
    let i = head;
    for (;;) {
      // Each descriptor copied out once, in one access: the driver may change
      // the table under us.
      let dv: DataView;
      let off: number;
      if (snap) {
        dv = this.snapView;
        off = i * DESC_SIZE;
      } else {
        table.readInto(i * DESC_SIZE, this.descBuf);
        dv = this.descView;
        off = 0;
      }
      const lo = dv.getUint32(off + DESC_ADDR, true);
      const hi = dv.getUint32(off + DESC_ADDR + 4, true);
      const len = dv.getUint32(off + DESC_LEN, true);
      const flags = dv.getUint16(off + DESC_FLAGS, true);
      const next = dv.getUint16(off + DESC_NEXT, true);
      const addr = hi * TWO_32 + lo;

      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.config.indirect) this.fail('indirect-not-negotiated', head, 'INDIRECT without VIRTIO_F_INDIRECT_DESC');
        if (indirect) this.fail('nested-indirect', head, 'INDIRECT inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) this.fail('indirect-with-next', head, 'INDIRECT together with NEXT');
        if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > MAX_INDIRECT_ENTRIES) {
          this.fail('indirect-len', head, `indirect table of ${len} bytes`);
        }
        if (hi > MAX_ADDR_HI || !this.mem.contains(addr, len)) {
          this.fail('address', head, `indirect table [0x${addr.toString(16)}, +${len}) outside guest memory`);
        }
        table = new Area(this.mem, addr, len);
        if (len <= INDIRECT_SNAPSHOT_BYTES) {
          if (this.snapBuf.length < len) {
            this.snapBuf = new Uint8Array(INDIRECT_SNAPSHOT_BYTES);
            this.snapView = new DataView(this.snapBuf.buffer);
          }
          table.readInto(0, this.snapBuf.subarray(0, len));
          snap = true;
        }
        tableLen = len / DESC_SIZE;
        budget = tableLen;
        indirect = true;
        i = 0;
        continue;
      }

      if (budget === 0) this.fail('chain-too-long', head, `chain longer than its table (${tableLen}): a loop`);
      budget--;
      if (hi > MAX_ADDR_HI || !this.mem.contains(addr, len)) {
        this.fail('address', head, `buffer [0x${addr.toString(16)}, +${len}) outside guest memory`);
      }
      if (readableLen + writableLen + len > U32_MAX) this.fail('total-len', head, 'chain length above 2^32 - 1');
      if (flags & VIRTQ_DESC_F_WRITE) {
        writable.push({ base: addr, len });
        writableLen += len;
      } else {
        if (writable.length > 0) this.fail('readable-after-writable', head, 'device-readable descriptor after a writable one');
        readable.push({ base: addr, len });
        readableLen += len;
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      if (next >= tableLen) this.fail('next-index', head, `next ${next} >= table length ${tableLen}`);
      i = next;
    }
    return { head, readable, writable, readableLen, writableLen };
  }

  private fail(kind: VirtqueueErrorKind, head: number, message: string): never {
    throw new VirtqueueError(kind, `chain ${head}: ${message}`, head);
  }
}
