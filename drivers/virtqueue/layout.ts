// Split virtqueue layout (virtio 1.2 §2.7): the three areas, their sizes,
// alignments and field offsets, the flag bits, and vring_need_event.

import { GuestMemory } from '../../core/memory';
import { isPowerOfTwo } from '../../core/bits';
import { VirtqueueError } from './errors';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

export const VIRTQ_MAX_SIZE = 32768;
export const DESC_SIZE = 16;
export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

// Descriptor fields.
export const DESC_ADDR = 0;
export const DESC_LEN = 8;
export const DESC_FLAGS = 12;
export const DESC_NEXT = 14;

// Ring headers: flags then idx; the ring; then the event word.
export const RING_FLAGS = 0;
export const RING_IDX = 2;
export const RING_ENTRIES = 4;
export const USED_ELEM_SIZE = 8;

/** A guest-physical range: a buffer the device reads or writes. */
export interface Iovec {
  base: number;
  len: number;
}

export interface QueueConfig {
  /** Number of descriptors: a power of two, 1..32768. */
  size: number;
  /** Guest-physical addresses of the three areas. */
  desc: number;
  avail: number;
  used: number;
  /** VIRTIO_F_EVENT_IDX (VIRTIO_RING_F_EVENT_IDX) negotiated. */
  eventIdx: boolean;
  /** VIRTIO_F_INDIRECT_DESC (VIRTIO_RING_F_INDIRECT_DESC) negotiated. */
  indirect: boolean;
}

export function isValidQueueSize(size: number): boolean {
  return isPowerOfTwo(size) && size <= VIRTQ_MAX_SIZE;
}

export const descTableSize = (size: number): number => DESC_SIZE * size;
/** flags, idx, ring[size], used_event. */
export const availRingSize = (size: number): number => 6 + 2 * size;
/** flags, idx, ring[size] of {id, len}, avail_event. */
export const usedRingSize = (size: number): number => 6 + USED_ELEM_SIZE * size;
/** Offset of used_event in the avail ring. */
export const usedEventOffset = (size: number): number => RING_ENTRIES + 2 * size;
/** Offset of avail_event in the used ring. */
export const availEventOffset = (size: number): number => RING_ENTRIES + USED_ELEM_SIZE * size;

export interface VirtqLayout {
  descOffset: number;
  availOffset: number;
  usedOffset: number;
  /** Bytes for all three areas packed in one allocation aligned to 16. */
  totalSize: number;
  descSize: number;
  availSize: number;
  usedSize: number;
}

/** The three areas packed back to back in one 16-aligned block. */
export function virtqLayout(size: number): VirtqLayout {
  if (!isValidQueueSize(size)) throw new VirtqueueError('queue-size', `bad queue size ${size}`);
  const descSize = descTableSize(size);
  const availSize = availRingSize(size);
  const usedSize = usedRingSize(size);
  const availOffset = descSize;
  const usedOffset = alignUp(availOffset + availSize, USED_ALIGN);
  return { descOffset: 0, availOffset, usedOffset, totalSize: usedOffset + usedSize, descSize, availSize, usedSize };
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/**
 * The spec's vring_need_event: true when event_idx lies in [old_idx, new_idx)
 * modulo 2^16, i.e. the other side asked to be told once this index passed.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

/** The checks both halves make on their parameters (rust-vmm's is_valid). */
export function checkQueueConfig(mem: GuestMemory, c: QueueConfig): void {
  if (!isValidQueueSize(c.size)) {
    throw new VirtqueueError('queue-size', `queue size ${c.size} is not a power of two in 1..${VIRTQ_MAX_SIZE}`);
  }
  const areas: [string, number, number, number][] = [
    ['descriptor table', c.desc, DESC_ALIGN, descTableSize(c.size)],
    ['avail ring', c.avail, AVAIL_ALIGN, availRingSize(c.size)],
    ['used ring', c.used, USED_ALIGN, usedRingSize(c.size)],
  ];
  for (const [name, gpa, align, len] of areas) {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa % align !== 0) {
      throw new VirtqueueError('ring-align', `${name} at 0x${gpa.toString(16)} is not ${align}-aligned`);
    }
    if (!mem.contains(gpa, len)) {
      throw new VirtqueueError('ring-range', `${name} [0x${gpa.toString(16)}, +${len}) is outside guest memory`);
    }
  }
}
