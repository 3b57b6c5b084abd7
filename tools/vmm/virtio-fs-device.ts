// The virtio-fs device as QEMU's vhost-user-fs presents it over virtio-mmio
// (virtio 1.2 §5.11): device id 26, VERSION_1 | INDIRECT_DESC | EVENT_IDX,
// config { tag[36], num_request_queues }, queue 0 hiprio and queues 1..n
// request queues of `queueSize`, shared-memory region 0 the DAX cache window.
// The device owns the register file and the virtio lifecycle; the queues
// themselves are served by a backend: FUSE in TypeScript (fuse-queues.ts) or
// a vhost-user daemon (vhost-user/backend.ts), which gets the ring addresses
// and never pops here.

import { Log, consoleLog, isPowerOfTwo, type GuestMemory } from '../../core';
import type { QueueConfig } from '../../drivers/virtqueue';
import {
  MmioDeviceRegisters, MmioQueueConfig, MmioShmRegion, VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_VENDOR_QEMU,
} from '../../drivers/virtio-mmio';
import {
  VIRTIO_F_VERSION_1, VIRTIO_ID_FS, VIRTIO_QUEUE_MAX, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_STATUS_DRIVER_OK, VIRTQUEUE_MAX_SIZE, feature, hasFeature, type SharedMemoryRegion,
} from '../../drivers/virtio';
import { VIRTIO_FS_SHMCAP_ID_CACHE, encodeVirtioFsConfig } from '../../drivers/virtio-fs';

/** The features QEMU's vhost-user-fs offers (with virtiofsd) over virtio-mmio. */
export const VIRTIO_FS_DEVICE_FEATURES =
  feature(VIRTIO_F_VERSION_1) | feature(VIRTIO_RING_F_INDIRECT_DESC) | feature(VIRTIO_RING_F_EVENT_IDX);

/** QEMU's default queue-size for vhost-user-fs. */
export const VIRTIO_FS_DEFAULT_QUEUE_SIZE = 1024;

const PAGE_SIZE = 4096;

/** A ready queue as a backend needs it (vhost-user SET_VRING_NUM/ADDR + features). */
export type VirtioFsQueueSetup = QueueConfig;

/** What a backend may tell the device. */
export interface VirtioFsDeviceSink {
  /** Used buffers were returned: raise the vring interrupt. */
  interrupt(): void;
  /** The driver broke the rules (a bad ring): QEMU's virtio_error. */
  broken(reason: string): void;
}

/**
 * Serves the queues. Called only after DRIVER_OK (§3.1.1: no buffer is used
 * before it), and never after close().
 */
export interface VirtioFsBackend {
  /** Queue `index` (0 hiprio, 1..n requests) is live with these rings. */
  queueReady(index: number, setup: VirtioFsQueueSetup): void;
  /** The driver kicked queue `index`. */
  notify(index: number): void;
  /** Queue `index` stopped (QueueReady=0 or a queue reset): forget it. */
  queueStopped(index: number): void;
  /** Device reset: forget every queue; nothing started before may reach guest memory. */
  reset(): void;
  close(): void;
}

export interface VirtioFsDeviceOptions {
  /** Guest RAM (and whatever else is mapped: the window region is added by the builder). */
  memory: GuestMemory;
  /** QEMU `tag`: 1..36 bytes of UTF-8. */
  tag: string;
  /** QEMU `num-request-queues`; default 1. */
  numRequestQueues?: number;
  /** QEMU `queue-size`: each queue's QueueNumMax, a power of two; default 1024. */
  queueSize?: number;
  /** The cache window: shared-memory region 0. Absent, or len 0, means no DAX. */
  window?: SharedMemoryRegion;
  /** Builds the backend; it reports back through the sink. */
  backend: (sink: VirtioFsDeviceSink) => VirtioFsBackend;
  logger?: Log;
  /** The driver set DRIVER_OK (first time since the last reset). */
  onDriverOk?: () => void;
}

export class VirtioFsDevice {
  readonly registers: MmioDeviceRegisters;
  readonly memory: GuestMemory;
  readonly tag: string;
  readonly numRequestQueues: number;
  readonly queueSize: number;
  readonly window: SharedMemoryRegion | undefined;
  private readonly backend: VirtioFsBackend;
  private readonly onDriverOk: (() => void) | undefined;
  private readonly log: Log;
  /** Queues the driver made ready, handed to the backend at DRIVER_OK. */
  private readonly ready = new Map<number, MmioQueueConfig>();
  private started = false;
  private closed = false;

  constructor(options: VirtioFsDeviceOptions) {
    // Options are the operator's, not the guest's: refuse them as QEMU's realize does.
    const { memory, tag, numRequestQueues = 1, queueSize = VIRTIO_FS_DEFAULT_QUEUE_SIZE, window } = options;
    if (!Number.isInteger(numRequestQueues) || numRequestQueues < 1) {
      throw new RangeError(`num-request-queues ${numRequestQueues}: must be larger than 0`);
    }
    if (numRequestQueues > VIRTIO_QUEUE_MAX - 1) {
      throw new RangeError(`num-request-queues ${numRequestQueues}: at most ${VIRTIO_QUEUE_MAX - 1}`);
    }
    if (!isPowerOfTwo(queueSize)) {
      throw new RangeError(`queue-size ${queueSize}: must be a power of 2`);
    }
    if (queueSize > VIRTQUEUE_MAX_SIZE) throw new RangeError(`queue-size ${queueSize}: must be ${VIRTQUEUE_MAX_SIZE} or smaller`);
    const config = encodeVirtioFsConfig(tag, numRequestQueues); // refuses a bad tag
    const shm = new Map<number, MmioShmRegion>();
    if (window && window.len !== 0) {
      const { base, len } = window;
      // The virtio-fs DAX branch of QEMU: cache-size a power of 2, at least a page.
      if (!isPowerOfTwo(len) || len < PAGE_SIZE) {
        throw new RangeError(`cache-size ${len}: must be a power of 2 no smaller than ${PAGE_SIZE}`);
      }
      if (!Number.isSafeInteger(base) || base < 0 || base % PAGE_SIZE !== 0 || !Number.isSafeInteger(base + len)) {
        throw new RangeError(`cache window base ${base}: must be page-aligned`);
      }
      shm.set(VIRTIO_FS_SHMCAP_ID_CACHE, { base, len });
      this.window = { base, len };
    }
    this.memory = memory;
    this.tag = tag;
    this.numRequestQueues = numRequestQueues;
    this.queueSize = queueSize;
    this.log = options.logger ?? consoleLog;
    this.registers = new MmioDeviceRegisters({
      deviceId: VIRTIO_ID_FS,
      vendorId: VIRTIO_MMIO_VENDOR_QEMU,
      features: VIRTIO_FS_DEVICE_FEATURES,
      queueSizes: new Array<number>(1 + numRequestQueues).fill(queueSize),
      shm,
      config,
      logger: this.log,
    }, {
      onQueueReady: (index, q) => this.queueReady(index, q),
      onQueueDisabled: (index) => this.queueStopped(index),
      onQueueReset: (index) => this.queueStopped(index),
      onStatusChange: (status) => this.statusChanged(status),
      onReset: () => this.reset(),
      onNotify: (index) => this.notify(index),
    });
    this.onDriverOk = options.onDriverOk;
    this.backend = options.backend({
      interrupt: () => { if (!this.closed) this.registers.raise(VIRTIO_MMIO_INT_VRING); },
      broken: (reason) => { if (!this.closed) this.registers.needsReset(reason); },
    });
  }

  /** Stop serving: the backend closes; later guest accesses reach a dead device. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready.clear();
    this.started = false;
    this.backend.close();
  }

  get isClosed(): boolean { return this.closed; }

  // --- register callbacks ----------------------------------------------------

  private setup(q: MmioQueueConfig): VirtioFsQueueSetup {
    const f = this.registers.driverFeatures;
    return {
      size: q.num, desc: q.desc, avail: q.driver, used: q.device,
      eventIdx: hasFeature(f, VIRTIO_RING_F_EVENT_IDX),
      indirect: hasFeature(f, VIRTIO_RING_F_INDIRECT_DESC),
    };
  }

  private queueReady(index: number, q: MmioQueueConfig): void {
    if (this.closed) return;
    this.ready.set(index, q);
    // A queue enabled after DRIVER_OK (after a queue reset) goes live at once.
    if (this.started) this.backend.queueReady(index, this.setup(q));
  }

  private queueStopped(index: number): void {
    if (this.closed || !this.ready.delete(index)) return;
    if (this.started) this.backend.queueStopped(index);
  }

  private statusChanged(status: number): void {
    if (this.closed || this.started || !(status & VIRTIO_STATUS_DRIVER_OK)) return;
    // QEMU's vuf_set_status starts vhost at DRIVER_OK: that is when the
    // backend learns the rings (§3.1.1: no buffer is used before DRIVER_OK).
    this.started = true;
    this.onDriverOk?.();
    for (const [index, q] of this.ready) {
      this.backend.queueReady(index, this.setup(q));
      if (this.registers.isBroken) return;
    }
  }

  private reset(): void {
    if (this.closed) return;
    this.ready.clear();
    this.started = false;
    this.backend.reset();
  }

  private notify(index: number): void {
    // Kicks before DRIVER_OK are dropped: the backend drains each queue when it goes live.
    if (this.closed || !this.started || !this.ready.has(index)) return;
    this.backend.notify(index);
  }
}
