// The driver side of virtio-mmio version 2: register sequences over any
// MmioTransport. Every value read is from the device and untrusted; every loop
// is bounded. Sequences that go through a selector (QueueSel, the feature
// selectors, SHMSel) or read config hold a lock, so two callers never
// interleave their selects. Reads inside a sequence are issued together:
// the transport keeps order, so one round trip answers them all.

import type { MmioTransport } from '../transport';
import { isPowerOfTwo } from '../../core/bits';
import {
  VIRTIO_F_VERSION_1, VIRTIO_FEATURES_MASK, feature, formatFeatures, hasFeature,
} from '../virtio/features';
import { VIRTIO_QUEUE_MAX } from '../virtio/ids';
import type { SharedMemoryRegion } from '../virtio/shm';
import { VIRTIO_STATUS_FEATURES_OK, describeStatus } from '../virtio/status';
import * as R from './registers';

export class MmioProbeError extends Error {
  constructor(message: string) {
    super(`virtio-mmio probe: ${message}`);
    this.name = 'MmioProbeError';
  }
}

export class MmioDriverError extends Error {
  constructor(message: string) {
    super(`virtio-mmio: ${message}`);
    this.name = 'MmioDriverError';
  }
}

export interface MmioDeviceIdentity {
  version: number;
  deviceId: number;
  vendorId: number;
}

/** Where the driver put a queue's rings (guest-physical addresses). */
export interface MmioQueueSetup {
  num: number;
  desc: number;
  driver: number;
  device: number;
}

export interface MmioDriverOptions {
  /** Status reads after writing 0 before reset gives up. */
  resetPollLimit?: number;
  /** Config reads retried while ConfigGeneration keeps changing. */
  configRetryLimit?: number;
}

const U32 = 0x1_0000_0000;

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

export class MmioDriver {
  private readonly resetPollLimit: number;
  private readonly configRetryLimit: number;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly transport: MmioTransport, options: MmioDriverOptions = {}) {
    this.resetPollLimit = options.resetPollLimit ?? 1000;
    this.configRetryLimit = options.configRetryLimit ?? 16;
  }

  /** Check MagicValue, Version 2 and a device behind the window. */
  async probe(expectedDeviceId?: number): Promise<MmioDeviceIdentity> {
    const t = this.transport;
    const [magic, version, deviceId, vendorId] = await Promise.all([
      t.read(R.VIRTIO_MMIO_MAGIC_VALUE, 4), t.read(R.VIRTIO_MMIO_VERSION, 4),
      t.read(R.VIRTIO_MMIO_DEVICE_ID, 4), t.read(R.VIRTIO_MMIO_VENDOR_ID, 4),
    ]);
    if (magic !== R.VIRTIO_MMIO_MAGIC) {
      throw new MmioProbeError(`bad MagicValue ${hex(magic)} (want ${hex(R.VIRTIO_MMIO_MAGIC)} "virt")`);
    }
    if (version === R.VIRTIO_MMIO_VERSION_LEGACY) {
      throw new MmioProbeError('legacy device (Version 1); only Version 2 is supported');
    }
    if (version !== R.VIRTIO_MMIO_VERSION_MODERN) throw new MmioProbeError(`unsupported Version ${version}`);
    if (deviceId === 0) throw new MmioProbeError('no device behind the transport (DeviceID 0)');
    if (expectedDeviceId !== undefined && deviceId !== expectedDeviceId) {
      throw new MmioProbeError(`DeviceID ${deviceId}, expected ${expectedDeviceId}`);
    }
    return { version, deviceId, vendorId };
  }

  /** Write 0 to Status and wait, boundedly, until the device reads back 0. */
  async reset(): Promise<void> {
    this.transport.write(R.VIRTIO_MMIO_STATUS, 4, 0);
    for (let i = 0; i < this.resetPollLimit; i++) {
      if ((await this.transport.read(R.VIRTIO_MMIO_STATUS, 4)) === 0) return;
    }
    throw new MmioDriverError(`device did not reset after ${this.resetPollLimit} Status reads`);
  }

  getStatus(): Promise<number> {
    return this.transport.read(R.VIRTIO_MMIO_STATUS, 4);
  }

  setStatus(status: number): void {
    this.transport.write(R.VIRTIO_MMIO_STATUS, 4, status & 0xff);
  }

  /** OR `bits` into Status; resolves with the status read back afterwards. */
  addStatus(bits: number): Promise<number> {
    return this.locked(async () => {
      const status = await this.getStatus();
      this.setStatus(status | bits);
      return this.getStatus();
    });
  }

  /** The 64 bits of DeviceFeatures (words 0 and 1). */
  readDeviceFeatures(): Promise<bigint> {
    return this.locked(async () => {
      const t = this.transport;
      t.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 0);
      const lo = t.read(R.VIRTIO_MMIO_DEVICE_FEATURES, 4);
      t.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 1);
      const hi = t.read(R.VIRTIO_MMIO_DEVICE_FEATURES, 4);
      const [l, h] = await Promise.all([lo, hi]);
      return BigInt(l >>> 0) | (BigInt(h >>> 0) << 32n);
    });
  }

  /** Write the 64 bits of DriverFeatures (words 0 and 1). */
  writeDriverFeatures(features: bigint): void {
    const f = features & VIRTIO_FEATURES_MASK;
    const t = this.transport;
    t.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 0);
    t.write(R.VIRTIO_MMIO_DRIVER_FEATURES, 4, Number(f & 0xffffffffn));
    t.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 1);
    t.write(R.VIRTIO_MMIO_DRIVER_FEATURES, 4, Number(f >> 32n));
  }

  /**
   * Accept the offered subset of `wanted` (plus VIRTIO_F_VERSION_1, which this
   * modern transport requires), set FEATURES_OK and check that it stuck.
   * Resolves with the accepted features; rejects if the device refused them.
   * The caller sets ACKNOWLEDGE|DRIVER before, and FAILED on rejection.
   */
  async negotiate(wanted: bigint): Promise<bigint> {
    const offered = await this.readDeviceFeatures();
    if (!hasFeature(offered, VIRTIO_F_VERSION_1)) {
      throw new MmioDriverError(`device does not offer VIRTIO_F_VERSION_1 (offers ${formatFeatures(offered)})`);
    }
    const accepted = offered & (wanted | feature(VIRTIO_F_VERSION_1));
    return this.locked(async () => {
      this.writeDriverFeatures(accepted);
      const status = await this.getStatus();
      this.setStatus(status | VIRTIO_STATUS_FEATURES_OK);
      const after = await this.getStatus();
      if (!(after & VIRTIO_STATUS_FEATURES_OK)) {
        throw new MmioDriverError(
          `device refused features ${formatFeatures(accepted)} (Status reads ${describeStatus(after)})`);
      }
      return accepted;
    });
  }

  /** QueueNumMax of queue `index`; 0 when the device has no such queue. */
  async queueNumMax(index: number): Promise<number> {
    this.checkQueueIndex(index);
    return this.locked(() => {
      this.transport.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, index);
      return this.transport.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4);
    });
  }

  /**
   * Set up queue `index` (virtio 1.2 §4.2.3.2): select it, check it is not in
   * use and large enough, write size and ring addresses, then QueueReady=1.
   */
  async setupQueue(index: number, setup: MmioQueueSetup): Promise<void> {
    this.checkQueueIndex(index);
    const { num, desc, driver, device } = setup;
    for (const [name, addr] of [['desc', desc], ['driver', driver], ['device', device]] as const) {
      if (!Number.isSafeInteger(addr) || addr < 0) throw new MmioDriverError(`queue ${index}: bad ${name} address ${addr}`);
    }
    if (!isPowerOfTwo(num)) {
      throw new MmioDriverError(`queue ${index}: size ${num} is not a power of two`);
    }
    return this.locked(async () => {
      const t = this.transport;
      t.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, index);
      const [ready, max] = await Promise.all([
        t.read(R.VIRTIO_MMIO_QUEUE_READY, 4), t.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4),
      ]);
      if (ready !== 0) throw new MmioDriverError(`queue ${index} is already in use`);
      if (max === 0) throw new MmioDriverError(`queue ${index} is not available`);
      if (num > max) throw new MmioDriverError(`queue ${index}: size ${num} above QueueNumMax ${max}`);
      t.write(R.VIRTIO_MMIO_QUEUE_NUM, 4, num);
      this.write64(R.VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
      this.write64(R.VIRTIO_MMIO_QUEUE_DRIVER_LOW, driver);
      this.write64(R.VIRTIO_MMIO_QUEUE_DEVICE_LOW, device);
      t.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 1);
    });
  }

  /** Tell the device that queue `index` has new buffers. */
  notify(index: number): void {
    this.transport.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, index);
  }

  readInterruptStatus(): Promise<number> {
    return this.transport.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4);
  }

  ackInterrupt(bits: number): void {
    this.transport.write(R.VIRTIO_MMIO_INTERRUPT_ACK, 4, bits);
  }

  /** Read InterruptStatus and acknowledge what it says; resolves with those bits. */
  async takeInterrupt(): Promise<number> {
    const bits = await this.readInterruptStatus();
    if (bits !== 0) this.ackInterrupt(bits);
    return bits;
  }

  readConfigGeneration(): Promise<number> {
    return this.transport.read(R.VIRTIO_MMIO_CONFIG_GENERATION, 4);
  }

  readConfig8(offset: number): Promise<number> {
    return this.consistent(() => this.transport.read(this.configOffset(offset, 1), 1));
  }

  readConfig16(offset: number): Promise<number> {
    return this.consistent(() => this.transport.read(this.configOffset(offset, 2), 2));
  }

  readConfig32(offset: number): Promise<number> {
    return this.consistent(() => this.transport.read(this.configOffset(offset, 4), 4));
  }

  /** A 64-bit field as two 32-bit reads, consistent through ConfigGeneration. */
  async readConfig64(offset: number): Promise<bigint> {
    const at = this.configOffset(offset, 8);
    return this.consistent(async () => {
      const [lo, hi] = await Promise.all([this.transport.read(at, 4), this.transport.read(at + 4, 4)]);
      return BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
    });
  }

  /** `length` bytes of config (byte accesses, as §4.2.3 asks for u8 fields). */
  async readConfigBytes(offset: number, length: number): Promise<Uint8Array> {
    const at = this.configOffset(offset, length);
    return this.consistent(async () => {
      const reads: Promise<number>[] = new Array(length);
      for (let i = 0; i < length; i++) reads[i] = this.transport.read(at + i, 1);
      const out = new Uint8Array(length);
      const values = await Promise.all(reads);
      for (let i = 0; i < length; i++) out[i] = values[i]!;
      return out;
    });
  }

  writeConfig8(offset: number, value: number): void {
    this.transport.write(this.configOffset(offset, 1), 1, value & 0xff);
  }

  writeConfig16(offset: number, value: number): void {
    this.transport.write(this.configOffset(offset, 2), 2, value & 0xffff);
  }

  writeConfig32(offset: number, value: number): void {
    this.transport.write(this.configOffset(offset, 4), 4, value >>> 0);
  }

  /**
   * Shared-memory region `id` as { base, len }, or undefined when the device
   * reports the length ~0 (no such region). Values beyond 2^53 are rejected:
   * guest memory is addressed by JS numbers.
   */
  async sharedMemoryRegion(id: number): Promise<SharedMemoryRegion | undefined> {
    if (!Number.isInteger(id) || id < 0 || id > 0xff) throw new MmioDriverError(`bad shared-memory id ${id}`);
    return this.locked(async () => {
      const t = this.transport;
      t.write(R.VIRTIO_MMIO_SHM_SEL, 4, id);
      const [lenLo, lenHi, baseLo, baseHi] = await Promise.all([
        t.read(R.VIRTIO_MMIO_SHM_LEN_LOW, 4), t.read(R.VIRTIO_MMIO_SHM_LEN_HIGH, 4),
        t.read(R.VIRTIO_MMIO_SHM_BASE_LOW, 4), t.read(R.VIRTIO_MMIO_SHM_BASE_HIGH, 4),
      ]);
      if (lenLo === R.VIRTIO_MMIO_SHM_ABSENT && lenHi === R.VIRTIO_MMIO_SHM_ABSENT) return undefined;
      const len = (lenHi >>> 0) * U32 + (lenLo >>> 0);
      const base = (baseHi >>> 0) * U32 + (baseLo >>> 0);
      if (!Number.isSafeInteger(base + len)) {
        throw new MmioDriverError(`shared-memory region ${id} ends beyond 2^53 (base ${hex(base)}, len ${hex(len)})`);
      }
      return { base, len };
    });
  }

  // ---- internals ---------------------------------------------------------

  /** Run `fn` after every earlier locked sequence, whatever their outcome. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Read generation, the field, generation again, until both generations
   * agree (§2.5.1, §4.2.3.1.1), a bounded number of times.
   */
  private consistent<T>(readField: () => Promise<T>): Promise<T> {
    return this.locked(async () => {
      for (let i = 0; i < this.configRetryLimit; i++) {
        const before = this.readConfigGeneration();
        const value = readField();
        const after = this.readConfigGeneration();
        const [g0, v, g1] = await Promise.all([before, value, after]);
        if (g0 === g1) return v;
      }
      throw new MmioDriverError(`config kept changing over ${this.configRetryLimit} reads`);
    });
  }

  private configOffset(offset: number, length: number): number {
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length < 0
        || R.VIRTIO_MMIO_CONFIG + offset + length > 0x1_0000_0000) {
      throw new MmioDriverError(`bad config access at ${offset}, ${length} bytes`);
    }
    return R.VIRTIO_MMIO_CONFIG + offset;
  }

  private checkQueueIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= VIRTIO_QUEUE_MAX) {
      throw new MmioDriverError(`bad queue index ${index}`);
    }
  }

  private write64(lowOffset: number, value: number): void {
    this.transport.write(lowOffset, 4, value % U32);
    this.transport.write(lowOffset + 4, 4, Math.floor(value / U32));
  }
}
