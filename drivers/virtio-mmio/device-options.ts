// What a device model gives its virtio-mmio register window (options) and
// what it hears back (callbacks).

import type { MmioQueueConfig } from './device-queue';
import { u64Words } from './device-features';
import * as R from './registers';
import type { Log } from '../../core/log';

export type { MmioQueueConfig } from './device-queue';

/** A shared-memory region as the device offers it (guest-physical base, length). */
export interface MmioShmRegion {
  base: bigint | number;
  len: bigint | number;
}


/** What the device model hears from its register window. All optional. */
export interface MmioDeviceCallbacks {
  /** The driver wrote QueueNotify for a ready queue. */
  onNotify?(queueIndex: number): void;
  /** The driver's Status write was accepted (not called for a refused FEATURES_OK). */
  onStatusChange?(status: number, previous: number): void;
  /** The driver wrote 0 to Status; the register state is already back to its initial values. */
  onReset?(): void;
  onQueueReady?(index: number, queue: MmioQueueConfig): void;
  onQueueDisabled?(index: number): void;
  /** The driver reset one queue (VIRTIO_F_RING_RESET). */
  onQueueReset?(index: number): void;
  /** The driver wrote config space; the device decides what sticks (writeConfig). */
  onConfigWrite?(offset: number, width: 1 | 2 | 4, value: number): void;
  /** Device-specific check of the features about to be accepted (QEMU's validate_features). */
  validateFeatures?(features: bigint): boolean;
}

export interface MmioDeviceOptions {
  deviceId: number;
  /** Defaults to QEMU's "QEMU". */
  vendorId?: number;
  /** The features offered. */
  features: bigint;
  /** Each queue's maximum size (QueueNumMax); the array length is the number of queues. */
  queueSizes: readonly number[];
  /** Shared-memory regions by id. */
  shm?: ReadonlyMap<number, MmioShmRegion> | Iterable<readonly [number, MmioShmRegion]>;
  /** Initial config-space bytes (copied). */
  config?: Uint8Array;
  logger?: Log;
}

/** A region's base and length as the four register words the guest reads. */
export interface ShmWords { baseLo: number; baseHi: number; lenLo: number; lenHi: number }

/** The offered regions by id; the device model's own values, so bad ones throw. */
export function shmWords(regions: NonNullable<MmioDeviceOptions['shm']>): Map<number, ShmWords> {
  const out = new Map<number, ShmWords>();
  for (const [id, region] of regions) {
    if (!Number.isInteger(id) || id < 0 || id > 0xff) throw new RangeError(`bad shm id ${id}`);
    const [baseLo, baseHi] = u64Words(region.base, `shm ${id} base`);
    const [lenLo, lenHi] = u64Words(region.len, `shm ${id} len`);
    if (lenLo === R.VIRTIO_MMIO_SHM_ABSENT && lenHi === R.VIRTIO_MMIO_SHM_ABSENT) {
      throw new RangeError(`shm ${id}: length ~0 means "absent"`);
    }
    out.set(id, { baseLo, baseHi, lenLo, lenHi });
  }
  return out;
}
