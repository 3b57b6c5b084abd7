// The device side of a virtio-mmio (version 2) register window: what a guest
// read returns and what a guest write does. The behaviour is QEMU's
// hw/virtio/virtio-mmio.c (non-legacy) over hw/virtio/virtio.c; each place that
// follows QEMU, or departs from it, says so. A guest access never throws: bad
// widths, offsets and values are logged and ignored (reads return 0), exactly
// as QEMU logs LOG_GUEST_ERROR and carries on.

import { VIRTIO_F_RING_PACKED, VIRTIO_F_RING_RESET, VIRTIO_F_VERSION_1 } from '../virtio/features';
import { VIRTIO_QUEUE_MAX } from '../virtio/ids';
import {
  VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK,
} from '../virtio/status';
import * as R from './registers';
import { MmioQueue, type MmioQueueConfig } from './device-queue';
import { MmioFeatures } from './device-features';
import { shmWords, type MmioDeviceCallbacks, type MmioDeviceOptions, type ShmWords } from './device-options';
import type { Log } from '../../core/log';

export type { MmioShmRegion, MmioDeviceCallbacks, MmioDeviceOptions, MmioQueueConfig } from './device-options';

const U32 = 0x1_0000_0000;

export class MmioDeviceRegisters {
  readonly deviceId: number;
  readonly vendorId: number;
  /** Offered features. */
  readonly deviceFeatures: bigint;
  private readonly features: MmioFeatures;
  private readonly queues: MmioQueue[];
  private readonly shm: ReadonlyMap<number, ShmWords>;
  private configBytes: Uint8Array;
  private configView: DataView;
  private readonly log: Log;
  private interruptHandler: (() => void) | undefined;

  private statusValue = 0;
  private isr = 0;
  private generationValue = 0;
  private broken = false;
  private queueSel = 0;
  private shmSel = 0;

  constructor(options: MmioDeviceOptions, private readonly callbacks: MmioDeviceCallbacks = {}) {
    // Options come from the device model's own code, not the guest: throwing is fine here.
    const { deviceId, vendorId = R.VIRTIO_MMIO_VENDOR_QEMU, features, queueSizes } = options;
    if (!Number.isInteger(deviceId) || deviceId < 0 || deviceId >= U32) throw new RangeError('bad deviceId');
    if (!Number.isInteger(vendorId) || vendorId < 0 || vendorId >= U32) throw new RangeError('bad vendorId');
    if (queueSizes.length > VIRTIO_QUEUE_MAX) throw new RangeError('too many queues');
    this.deviceId = deviceId;
    this.vendorId = vendorId;
    this.features = new MmioFeatures(BigInt(features), (f) => callbacks.validateFeatures?.(f) ?? true);
    this.deviceFeatures = this.features.offered;
    this.queues = queueSizes.map((max, i) => new MmioQueue(i, max));
    this.shm = shmWords(options.shm ?? []);
    this.configBytes = options.config ? options.config.slice() : new Uint8Array(0);
    this.configView = new DataView(this.configBytes.buffer);
    this.log = options.logger ?? (() => {});
  }

  // ---- device-model side -------------------------------------------------

  /** Where interrupts go (the transport). One handler; a second call replaces it. */
  setInterruptHandler(handler: (() => void) | undefined): void {
    this.interruptHandler = handler;
  }

  get status(): number { return this.statusValue; }
  get interruptStatus(): number { return this.isr; }
  get configGeneration(): number { return this.generationValue; }
  /** Features accepted by the driver (valid once FEATURES_OK stuck). */
  get driverFeatures(): bigint { return this.features.negotiated; }
  /** True after needsReset() until the driver resets the device. */
  get isBroken(): boolean { return this.broken; }
  get queueCount(): number { return this.queues.length; }
  /** The live config bytes; after changing them directly call configChanged(). */
  get config(): Uint8Array { return this.configBytes; }

  /** A queue's current setup, or undefined when it is not ready. */
  queue(index: number): MmioQueueConfig | undefined {
    const q = this.queues[index];
    return q && q.ready ? q.config() : undefined;
  }

  /**
   * Set InterruptStatus bits and signal the interrupt (QEMU virtio_set_isr +
   * virtio_notify_vector). Every raise is delivered, even if bits were already
   * pending, so a transport that carries edges cannot lose a wakeup. A broken
   * device stays silent, as QEMU's virtio_notify_vector returns when broken.
   */
  raise(bits: number): void {
    const b = bits & (R.VIRTIO_MMIO_INT_VRING | R.VIRTIO_MMIO_INT_CONFIG);
    if (b === 0 || this.broken) return;
    this.isr |= b;
    this.interruptHandler?.();
  }

  /**
   * Replace config bytes at `offset` and tell the driver (configChanged).
   * Out-of-range updates are a bug in the device model: RangeError.
   */
  writeConfig(offset: number, bytes: Uint8Array): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes.length > this.configBytes.length) {
      throw new RangeError(`config update [${offset}, +${bytes.length}) beyond ${this.configBytes.length} bytes`);
    }
    this.configBytes.set(bytes, offset);
    this.configChanged();
  }

  /** Replace the whole config space (its length may change). */
  replaceConfig(bytes: Uint8Array): void {
    this.configBytes = bytes.slice();
    this.configView = new DataView(this.configBytes.buffer);
    this.configChanged();
  }

  /**
   * The device changed its config. Departs from QEMU's virtio_notify_config,
   * which bumps the generation only once DRIVER_OK is set: we bump it always,
   * because a driver reading config during initialisation must see the change
   * too (virtio 1.2 §2.5.1). The interrupt is QEMU's: only after DRIVER_OK.
   */
  configChanged(): void {
    this.generationValue = (this.generationValue + 1) >>> 0;
    this.notifyConfig();
  }

  /**
   * The device is broken (a bad ring, say): QEMU's virtio_error. With
   * VERSION_1 negotiated, set DEVICE_NEEDS_RESET and raise a config interrupt;
   * then stop notifying and stop serving notifies until the driver resets.
   */
  needsReset(reason: string): void {
    this.log(`virtio-mmio: device needs reset: ${reason}`);
    if (this.features.has(VIRTIO_F_VERSION_1)) {
      this.statusValue |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
      if (this.statusValue & VIRTIO_STATUS_DRIVER_OK) {
        this.generationValue = (this.generationValue + 1) >>> 0;
        this.notifyConfig();
      }
    }
    this.broken = true;
  }

  // ---- guest side --------------------------------------------------------

  /** A guest read of `width` bytes at `offset` in the register window. */
  read(offset: number, width: number): number {
    if (!Number.isInteger(offset) || offset < 0) return this.bad(`read at bad offset ${offset}`);
    if (offset >= R.VIRTIO_MMIO_CONFIG) return this.readConfig(offset - R.VIRTIO_MMIO_CONFIG, width);
    // QEMU: control registers are 32-bit only; other widths log and read 0.
    // A misaligned offset matches no register and falls to "bad register offset".
    if (width !== 4) return this.bad(`wrong size ${width} read of ${R.registerName(offset)}`);
    switch (offset) {
      case R.VIRTIO_MMIO_MAGIC_VALUE: return R.VIRTIO_MMIO_MAGIC;
      case R.VIRTIO_MMIO_VERSION: return R.VIRTIO_MMIO_VERSION_MODERN;
      case R.VIRTIO_MMIO_DEVICE_ID: return this.deviceId;
      case R.VIRTIO_MMIO_VENDOR_ID: return this.vendorId;
      case R.VIRTIO_MMIO_DEVICE_FEATURES: return this.features.deviceWord();
      case R.VIRTIO_MMIO_QUEUE_NUM_MAX: {
        // QEMU: 0 for a queue the device does not have. QEMU answers
        // VIRTQUEUE_MAX_SIZE for any existing queue; we give each its own max.
        const q = this.queues[this.queueSel];
        return q ? q.max : 0;
      }
      case R.VIRTIO_MMIO_QUEUE_READY: return this.queues[this.queueSel]?.ready ? 1 : 0;
      case R.VIRTIO_MMIO_QUEUE_RESET: return this.queues[this.queueSel]?.resetDone ? 1 : 0;
      case R.VIRTIO_MMIO_INTERRUPT_STATUS: return this.isr;
      case R.VIRTIO_MMIO_STATUS: return this.statusValue;
      case R.VIRTIO_MMIO_CONFIG_GENERATION: return this.generationValue;
      case R.VIRTIO_MMIO_SHM_LEN_LOW: return this.shm.get(this.shmSel)?.lenLo ?? R.VIRTIO_MMIO_SHM_ABSENT;
      case R.VIRTIO_MMIO_SHM_LEN_HIGH: return this.shm.get(this.shmSel)?.lenHi ?? R.VIRTIO_MMIO_SHM_ABSENT;
      // QEMU reads SHMLen as ~0 always (no regions) and SHMBase as a bad offset (0).
      // We serve real regions; an absent one reads ~0 for its base too, which
      // is never mistaken for a usable address.
      case R.VIRTIO_MMIO_SHM_BASE_LOW: return this.shm.get(this.shmSel)?.baseLo ?? R.VIRTIO_MMIO_SHM_ABSENT;
      case R.VIRTIO_MMIO_SHM_BASE_HIGH: return this.shm.get(this.shmSel)?.baseHi ?? R.VIRTIO_MMIO_SHM_ABSENT;
      case R.VIRTIO_MMIO_DEVICE_FEATURES_SEL:
      case R.VIRTIO_MMIO_DRIVER_FEATURES:
      case R.VIRTIO_MMIO_DRIVER_FEATURES_SEL:
      case R.VIRTIO_MMIO_QUEUE_SEL:
      case R.VIRTIO_MMIO_QUEUE_NUM:
      case R.VIRTIO_MMIO_QUEUE_NOTIFY:
      case R.VIRTIO_MMIO_INTERRUPT_ACK:
      case R.VIRTIO_MMIO_QUEUE_DESC_LOW:
      case R.VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case R.VIRTIO_MMIO_QUEUE_DRIVER_LOW:
      case R.VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
      case R.VIRTIO_MMIO_QUEUE_DEVICE_LOW:
      case R.VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
      case R.VIRTIO_MMIO_SHM_SEL:
        return this.bad(`read of write-only register ${R.registerName(offset)}`);
      default:
        return this.bad(`read at bad register offset ${R.registerName(offset)}`);
    }
  }

  /** A guest write of `width` bytes at `offset`; never answered, never throws. */
  write(offset: number, width: number, value: number): void {
    if (!Number.isInteger(offset) || offset < 0) { this.bad(`write at bad offset ${offset}`); return; }
    if (typeof value !== 'number' || !Number.isFinite(value)) { this.bad(`write of bad value ${value}`); return; }
    if (offset >= R.VIRTIO_MMIO_CONFIG) { this.writeConfigFromGuest(offset - R.VIRTIO_MMIO_CONFIG, width, value); return; }
    if (width !== 4) { this.bad(`wrong size ${width} write of ${R.registerName(offset)}`); return; }
    const v = value >>> 0;
    switch (offset) {
      case R.VIRTIO_MMIO_DEVICE_FEATURES_SEL: this.features.deviceSel = v; return;
      case R.VIRTIO_MMIO_DRIVER_FEATURES_SEL: this.features.driverSel = v; return;
      case R.VIRTIO_MMIO_DRIVER_FEATURES: {
        const refusal = this.features.setDriverWord(v, (this.statusValue & VIRTIO_STATUS_FEATURES_OK) !== 0);
        if (refusal) this.bad(refusal);
        return;
      }
      case R.VIRTIO_MMIO_QUEUE_SEL:
        // QEMU: a selector beyond VIRTIO_QUEUE_MAX is ignored; one beyond our
        // queues is kept and makes every queue register read 0.
        if (v < VIRTIO_QUEUE_MAX) this.queueSel = v;
        else this.bad(`QueueSel ${v} beyond ${VIRTIO_QUEUE_MAX}`);
        return;
      case R.VIRTIO_MMIO_QUEUE_NUM: this.writeQueueNum(v); return;
      case R.VIRTIO_MMIO_QUEUE_READY: this.writeQueueReady(v); return;
      case R.VIRTIO_MMIO_QUEUE_RESET: this.writeQueueReset(v); return;
      case R.VIRTIO_MMIO_QUEUE_NOTIFY: this.writeQueueNotify(v); return;
      case R.VIRTIO_MMIO_INTERRUPT_ACK:
        // QEMU: isr &= ~value; the line drops when nothing is left.
        this.isr &= ~v;
        return;
      case R.VIRTIO_MMIO_STATUS: this.writeStatus(v & 0xff); return;
      case R.VIRTIO_MMIO_QUEUE_DESC_LOW:
      case R.VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case R.VIRTIO_MMIO_QUEUE_DRIVER_LOW:
      case R.VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
      case R.VIRTIO_MMIO_QUEUE_DEVICE_LOW:
      case R.VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        this.writeQueueAddress(offset, v);
        return;
      case R.VIRTIO_MMIO_SHM_SEL: this.shmSel = v; return;
      case R.VIRTIO_MMIO_MAGIC_VALUE:
      case R.VIRTIO_MMIO_VERSION:
      case R.VIRTIO_MMIO_DEVICE_ID:
      case R.VIRTIO_MMIO_VENDOR_ID:
      case R.VIRTIO_MMIO_DEVICE_FEATURES:
      case R.VIRTIO_MMIO_QUEUE_NUM_MAX:
      case R.VIRTIO_MMIO_INTERRUPT_STATUS:
      case R.VIRTIO_MMIO_CONFIG_GENERATION:
      case R.VIRTIO_MMIO_SHM_LEN_LOW:
      case R.VIRTIO_MMIO_SHM_LEN_HIGH:
      case R.VIRTIO_MMIO_SHM_BASE_LOW:
      case R.VIRTIO_MMIO_SHM_BASE_HIGH:
        this.bad(`write to read-only register ${R.registerName(offset)}`);
        return;
      default:
        this.bad(`write at bad register offset ${R.registerName(offset)}`);
    }
  }

  // ---- internals ---------------------------------------------------------

  private bad(message: string): 0 {
    this.log(`virtio-mmio: ${message}`);
    return 0;
  }

  private readConfig(offset: number, width: number): number {
    // QEMU virtio_config_modern_read{b,w,l}: out of range reads all ones
    // ((uint32_t)-1, cut to the access size); any alignment is served.
    const view = this.configView;
    const inRange = offset + width <= this.configBytes.length;
    switch (width) {
      case 1: return inRange ? view.getUint8(offset) : 0xff;
      case 2: return inRange ? view.getUint16(offset, true) : 0xffff;
      case 4: return inRange ? view.getUint32(offset, true) : 0xffffffff;
      default: return this.bad(`config read of bad width ${width}`);
    }
  }

  private writeConfigFromGuest(offset: number, width: number, value: number): void {
    if (width !== 1 && width !== 2 && width !== 4) { this.bad(`config write of bad width ${width}`); return; }
    // QEMU virtio_config_modern_write*: out of range is ignored. In range, QEMU
    // stores the bytes and calls set_config, but the next read refreshes them
    // from get_config; so the device model decides what sticks.
    if (offset + width > this.configBytes.length) {
      this.bad(`config write [${offset}, +${width}) beyond ${this.configBytes.length} bytes`);
      return;
    }
    const v = width === 4 ? value >>> 0 : value & (width === 2 ? 0xffff : 0xff);
    if (this.callbacks.onConfigWrite) this.callbacks.onConfigWrite(offset, width, v);
    else this.bad(`config write at ${offset} ignored: the device has no writable config`);
  }

  private writeStatus(value: number): void {
    const previous = this.statusValue;
    if (value === 0) { this.reset(); return; }
    if ((value & VIRTIO_STATUS_FEATURES_OK) && !(previous & VIRTIO_STATUS_FEATURES_OK)) {
      const refusal = this.features.accept();
      if (refusal) {
        // QEMU virtio_set_status: when validation fails the whole Status write
        // is dropped, so the driver reads FEATURES_OK back unset.
        this.bad(refusal);
        return;
      }
    }
    // QEMU stores the value as written (virtio_set_status), NEEDS_RESET included.
    this.statusValue = value;
    this.callbacks.onStatusChange?.(value, previous);
  }

  /**
   * Status 0: QEMU virtio_reset + virtio_mmio_soft_reset. Queues go back to
   * their defaults (num = max, no rings, not ready), features, interrupt
   * status, selectors and the broken flag are cleared. The generation is kept,
   * as QEMU keeps it. QEMU keeps the feature selectors until a system reset;
   * we clear them too, which no driver can tell apart.
   */
  private reset(): void {
    const previous = this.statusValue;
    this.statusValue = 0;
    this.isr = 0;
    this.features.reset();
    this.broken = false;
    this.queueSel = 0;
    this.shmSel = 0;
    for (const q of this.queues) q.reset(false);
    if (previous !== 0) this.callbacks.onStatusChange?.(0, previous);
    this.callbacks.onReset?.();
  }

  private writeQueueNum(v: number): void {
    // QEMU ignores a write to a queue that does not exist.
    const q = this.queues[this.queueSel];
    if (!q) { this.bad(`QueueNum for absent queue ${this.queueSel}`); return; }
    const refusal = q.setNum(v, this.features.has(VIRTIO_F_RING_PACKED));
    if (refusal) this.bad(refusal);
  }

  private writeQueueAddress(offset: number, v: number): void {
    const q = this.queues[this.queueSel];
    if (!q) { this.bad(`${R.registerName(offset)} for absent queue ${this.queueSel}`); return; }
    const refusal = q.setAddress(offset, v);
    if (refusal) this.bad(refusal);
  }

  private writeQueueReady(v: number): void {
    const index = this.queueSel;
    const q = this.queues[index];
    if (!q) { this.bad(`QueueReady for absent queue ${index}`); return; }
    if (v === 0) {
      // QEMU: enabled = 0; the rings stay configured but we stop serving them.
      if (q.ready) { q.ready = false; this.callbacks.onQueueDisabled?.(index); }
      return;
    }
    if (q.ready) { this.bad(`QueueReady=1 for queue ${index}, already ready: ignored`); return; }
    const config = q.enable();
    if (typeof config === 'string') { this.needsReset(config); return; }
    this.callbacks.onQueueReady?.(index, config);
  }

  private writeQueueReset(v: number): void {
    const index = this.queueSel;
    const q = this.queues[index];
    if (!q) { this.bad(`QueueReset for absent queue ${index}`); return; }
    if (!this.features.has(VIRTIO_F_RING_RESET)) {
      this.bad('QueueReset without VIRTIO_F_RING_RESET: ignored');
      return;
    }
    if (v !== 1) { this.bad(`QueueReset ${v}: only 1 resets`); return; }
    // QEMU implements this for virtio-pci only (virtio_queue_reset, then the
    // queue is disabled). virtio 1.2 §4.2.2.2: the mmio device presents 1 in
    // QueueReset once reset, until QueueReady or a device reset.
    const wasReady = q.ready;
    q.reset(true);
    if (wasReady) this.callbacks.onQueueDisabled?.(index);
    this.callbacks.onQueueReset?.(index);
  }

  private writeQueueNotify(v: number): void {
    // QEMU: values at or beyond VIRTIO_QUEUE_MAX are ignored, and
    // virtio_queue_notify does nothing for a queue without rings or on a broken
    // device. We also require the queue to be ready (QEMU serves a queue after
    // QueueReady=0 because its rings stay mapped; we do not).
    const q = this.queues[v];
    if (!q) { this.bad(`QueueNotify for absent queue ${v}`); return; }
    if (!q.ready) { this.bad(`QueueNotify for queue ${v}, not ready`); return; }
    if (this.broken) return;
    this.callbacks.onNotify?.(v);
  }

  private notifyConfig(): void {
    // QEMU virtio_notify_config: nothing before DRIVER_OK; then ISR |= 3
    // (QEMU sets both bits, so a driver also rescans its queues).
    if (!(this.statusValue & VIRTIO_STATUS_DRIVER_OK)) return;
    this.isr |= R.VIRTIO_MMIO_INT_VRING | R.VIRTIO_MMIO_INT_CONFIG;
    this.interruptHandler?.();
  }
}
