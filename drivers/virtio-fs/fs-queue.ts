// The driver's queues: the hiprio queue and the request queues as the probe
// sets them up (virtio 1.2 §5.11.2), each a split ring of its own with the
// requests waiting for room on it.

import { Errno, ErrnoError } from '../../core/errno';
import type { Log } from '../../core/log';
import type { GuestMemory } from '../../core/memory';
import type { MmioDriver } from '../virtio-mmio/driver';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, hasFeature } from '../virtio/features';
import { DriverQueue, RingAllocator, virtqLayout } from '../virtqueue';
import { VIRTIO_FS_FIRST_REQUEST_QUEUE, VIRTIO_FS_HIPRIO_QUEUE } from './config';
import { VirtioFsProbeError, type RequestOptions } from './options';
import { Fifo } from './fifo';

const RING_ALIGN = 4096;

/** A request from the caller until it settles. */
export interface Pending {
  /** The request; dropped once copied into guest memory. */
  bytes: Uint8Array;
  capacity: number;
  /** The guest buffer (request, then reply at replyAt), -1 before it has one. */
  buf: number;
  replyAt: number;
  resolve(reply: Uint8Array): void;
  reject(e: Error): void;
}

export interface FsQueue {
  readonly index: number;
  readonly dq: DriverQueue<Pending>;
  readonly ring: number;
  readonly waiting: Fifo<Pending>;
  kickScheduled: boolean;
  /** Its used ring went bad: every request on it failed; it takes no more. */
  broken: boolean;
  /** A request queue whose used ring is in memory with a live view: worth busy-polling. */
  readonly pollable: boolean;
}

export interface QueueWants {
  features: bigint;
  /** num_request_queues from config space. */
  numRequestQueues: number;
  /** Request queues and queue size the caller wants. */
  requestQueues: number;
  queueSize: number;
  log: Log;
}

/**
 * Set up the hiprio queue and up to `requestQueues` request queues, each of
 * the wanted size capped by its QueueNumMax (a power of two). Every ring
 * allocated is pushed on `rings` as it is made, so a failure part way can
 * free them all.
 */
export async function setupQueues(mmio: MmioDriver, memory: GuestMemory, allocator: RingAllocator,
                                  wants: QueueWants, rings: number[]): Promise<FsQueue[]> {
  const eventIdx = hasFeature(wants.features, VIRTIO_RING_F_EVENT_IDX);
  const indirect = hasFeature(wants.features, VIRTIO_RING_F_INDIRECT_DESC);
  const queues: FsQueue[] = [];
  const count = 1 + Math.min(wants.numRequestQueues, wants.requestQueues);
  for (let index = 0; index < count; index++) {
    const max = await mmio.queueNumMax(index);
    if (max === 0) {
      if (index <= VIRTIO_FS_HIPRIO_QUEUE) throw new VirtioFsProbeError('no hiprio queue');
      if (index === VIRTIO_FS_FIRST_REQUEST_QUEUE) throw new VirtioFsProbeError('no request queue');
      wants.log(`virtio-fs: device reports ${wants.numRequestQueues} request queues but queue ${index} is absent`);
      break;
    }
    const size = floorPow2(Math.min(max, wants.queueSize));
    const layout = virtqLayout(size);
    const ring = allocator.alloc(layout.totalSize, RING_ALIGN);
    rings.push(ring);
    const desc = ring + layout.descOffset;
    const avail = ring + layout.availOffset;
    const used = ring + layout.usedOffset;
    const dq = new DriverQueue<Pending>(memory, { size, desc, avail, used, eventIdx, indirect }, allocator);
    await mmio.setupQueue(index, { num: size, desc, driver: avail, device: used });
    const pollable = index >= VIRTIO_FS_FIRST_REQUEST_QUEUE && memory.view(used, 4) !== undefined;
    queues.push({ index, dq, ring, waiting: new Fifo<Pending>(), kickScheduled: false, broken: false, pollable });
  }
  return queues;
}

/**
 * The queue for a request of `descs` descriptors: the caller's, or
 * round-robin among the request queues, those with room first; `rr` is the
 * round-robin cursor, returned advanced.
 */
export function pickQueue(queues: readonly FsQueue[], rr: number, opts: RequestOptions | undefined,
                          descs: number): { q: FsQueue | ErrnoError; rr: number } {
  let q: FsQueue | undefined;
  if (opts?.hiprio) q = queues[VIRTIO_FS_HIPRIO_QUEUE];
  else if (opts?.queue !== undefined) {
    q = Number.isInteger(opts.queue) ? queues[opts.queue] : undefined;
    if (!q) return { q: new ErrnoError(Errno.EINVAL, `virtio-fs: no queue ${opts.queue}`), rr };
  } else {
    // Round-robin over request queues, skipping full and broken ones.
    const n = queues.length - 1;
    for (let k = 0; k < n && !q; k++) {
      const c = queues[1 + ((rr + k) % n)]!;
      if (!c.broken && c.waiting.length === 0 && c.dq.numFree >= descs) { q = c; rr = (rr + k + 1) % n; }
    }
    for (let k = 0; k < n && !q; k++) {
      const c = queues[1 + ((rr + k) % n)]!;
      if (!c.broken) { q = c; rr = (rr + k + 1) % n; }
    }
  }
  if (!q || q.broken) return { q: new ErrnoError(Errno.EIO, 'virtio-fs: queue broken by the device'), rr };
  return { q, rr };
}

function floorPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
