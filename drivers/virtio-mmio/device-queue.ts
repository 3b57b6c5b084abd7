// One queue's registers on the device side of virtio-mmio: its size, where
// the driver put its rings, ready and reset. QEMU keeps these in VirtQueue and
// VirtIOMMIOQueue; the rules for each write follow QEMU and say where we are
// stricter. The register window (device-registers.ts) selects the queue and
// logs a refusal; this file decides it.

import * as R from './registers';
import { isPowerOfTwo } from '../../core/bits';
import { VIRTQUEUE_MAX_SIZE } from '../virtio/ids';

/** Where the driver put a queue's rings, handed over when it sets QueueReady. */
export interface MmioQueueConfig {
  num: number;
  desc: number;
  driver: number;
  device: number;
}

const U32 = 0x1_0000_0000;

export class MmioQueue {
  num: number;
  ready = false;
  /** QueueReset reads 1 from a queue reset until QueueReady or a device reset. */
  resetDone = false;
  private descLo = 0; private descHi = 0;
  private driverLo = 0; private driverHi = 0;
  private deviceLo = 0; private deviceHi = 0;

  /** `max` is QueueNumMax; the device model's own value, so a bad one throws. */
  constructor(readonly index: number, readonly max: number) {
    if (!Number.isInteger(max) || !isPowerOfTwo(max) || max > VIRTQUEUE_MAX_SIZE) {
      throw new RangeError(`queue ${index}: size ${max} is not a power of two up to ${VIRTQUEUE_MAX_SIZE}`);
    }
    this.num = max;
  }

  /** Back to the defaults: num = max, no rings, not ready. */
  reset(resetDone: boolean): void {
    this.num = this.max;
    this.ready = false;
    this.resetDone = resetDone;
    this.descLo = this.descHi = this.driverLo = this.driverHi = this.deviceLo = this.deviceHi = 0;
  }

  /** QueueNum; a refusal as a message, undefined when accepted. */
  setNum(v: number, packed: boolean): string | undefined {
    // QEMU virtio_queue_set_num ignores a size of 0 or above the maximum. It
    // does not check powers of two; we do for split rings (§2.7), since
    // free-running 16-bit indices taken modulo a size that does not divide
    // 65536 corrupt the ring.
    if (v === 0 || v > this.max) return `QueueNum ${v} outside 1..${this.max} for queue ${this.index}`;
    if (!isPowerOfTwo(v) && !packed) return `QueueNum ${v} is not a power of two (queue ${this.index})`;
    if (this.ready) return `QueueNum written while queue ${this.index} is ready: ignored`;
    this.num = v;
    return undefined;
  }

  /** One of the six ring-address words; a refusal as a message. */
  setAddress(offset: number, v: number): string | undefined {
    // QEMU stages ring addresses and applies them only on QueueReady=1, so a
    // write while the queue runs cannot move live rings. We ignore it outright.
    if (this.ready) return `${R.registerName(offset)} written while queue ${this.index} is ready: ignored`;
    switch (offset) {
      case R.VIRTIO_MMIO_QUEUE_DESC_LOW: this.descLo = v; break;
      case R.VIRTIO_MMIO_QUEUE_DESC_HIGH: this.descHi = v; break;
      case R.VIRTIO_MMIO_QUEUE_DRIVER_LOW: this.driverLo = v; break;
      case R.VIRTIO_MMIO_QUEUE_DRIVER_HIGH: this.driverHi = v; break;
      case R.VIRTIO_MMIO_QUEUE_DEVICE_LOW: this.deviceLo = v; break;
      default: this.deviceHi = v;
    }
    return undefined;
  }

  /**
   * QueueReady=1: the rings as configured, or a reason the device must be
   * reset. Our guest memory is addressed by JS numbers; a ring beyond 2^53
   * cannot be mapped, which QEMU answers with virtio_error("Cannot map desc").
   */
  enable(): MmioQueueConfig | string {
    const config = this.config();
    if (!Number.isSafeInteger(config.desc) || !Number.isSafeInteger(config.driver)
        || !Number.isSafeInteger(config.device)) {
      return `queue ${this.index}: ring address beyond 2^53`;
    }
    this.ready = true;
    this.resetDone = false;
    return config;
  }

  config(): MmioQueueConfig {
    return {
      num: this.num,
      desc: this.descHi * U32 + this.descLo,
      driver: this.driverHi * U32 + this.driverLo,
      device: this.deviceHi * U32 + this.deviceLo,
    };
  }
}
