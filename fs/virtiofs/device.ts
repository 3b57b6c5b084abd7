// What the filesystem needs of a virtio-fs device: a request path (the
// request queues), a no-reply path (the hiprio queue: FORGET), the DAX window
// (shared-memory region 0) and the guest memory it is read through; and the
// virtio-fs driver as such a device. Tests plug in a fake.

import type { GuestMemory } from '../../core/memory';
import type { NegotiatedInit, SharedMemoryRegion, VirtioFsDriver } from '../../drivers/virtio-fs';

export interface FuseDevice {
  /** Identity of the device: keys the per-device connection (one DAX
   *  manager, one FUSE session) shared by every mount of it. */
  readonly id: object | string;
  /** The device's tag (virtio_fs_config.tag), the mount source. */
  readonly tag?: string;
  /** Guest memory; the window is read through it at its region's base + moffset. */
  readonly memory: GuestMemory;
  /** Sends a request on a request queue; resolves with the reply bytes (the
   *  used length of a writable part of `replyCapacity` bytes). Rejects with
   *  ErrnoError (EIO) when the device is lost. */
  request(bytes: Uint8Array, replyCapacity: number): Promise<Uint8Array>;
  /** A request without reply on the hiprio queue (FORGET, BATCH_FORGET). */
  send(bytes: Uint8Array): Promise<void> | void;
  /** The DAX window's region, or undefined when the device has none. */
  getDax(): SharedMemoryRegion | undefined;
  /** Told what FUSE_INIT negotiated, and undefined after FUSE_DESTROY, so
   *  that a driver reports the map alignment (OSv's get_map_alignment()). */
  attachInit?(init: NegotiatedInit | undefined): void;
  /** The FUSE connection was aborted (a request timed out): stop the device,
   *  so nothing it completes later lands in memory being reused. */
  abort?(reason: string): void;
}

/** The virtio-fs driver as a FuseDevice: requests on the request queues,
 *  FORGET and BATCH_FORGET on hiprio, the window read through the guest
 *  memory the driver's rings live in. */
export function fuseDeviceOf(driver: VirtioFsDriver, memory: GuestMemory): FuseDevice {
  return {
    id: driver,
    tag: driver.tag,
    memory,
    request: (bytes, replyCapacity) => driver.request(bytes, replyCapacity),
    send: (bytes) => driver.send(bytes, { hiprio: true }),
    getDax: () => driver.getDax(),
    attachInit: (init) => driver.attachInit(init),
    abort: () => { void driver.close(); },
  };
}
