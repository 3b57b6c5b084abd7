// What the filesystem needs from a virtio-fs device: a request path (the
// request queues), a no-reply path (the hiprio queue: FORGET), the DAX window
// (shared-memory region 0) and the guest memory it is read through. The
// virtio-fs driver implements it; tests plug in a fake.

import type { GuestMemory } from '../../core/memory';

/** Shared-memory region 0 as the guest sees it (guest-physical). */
export interface FuseDaxRegion {
  readonly base: number;
  readonly len: number;
}

export interface FuseDevice {
  /** Identity of the device: keys the per-device connection (one DAX
   *  manager, one FUSE session) shared by every mount of it. */
  readonly id: object | string;
  /** The device's tag (virtio_fs_config.tag), the mount source. */
  readonly tag?: string;
  /** Guest memory; the window is read through it at dax.base + moffset. */
  readonly memory: GuestMemory;
  /** Sends a request on a request queue; resolves with the reply bytes (the
   *  used length of a writable part of `replyCapacity` bytes). Rejects with
   *  ErrnoError (EIO) when the device is lost. */
  request(bytes: Uint8Array, replyCapacity: number): Promise<Uint8Array>;
  /** A request without reply on the hiprio queue (FORGET, BATCH_FORGET). */
  send(bytes: Uint8Array): Promise<void> | void;
  /** The DAX window, or undefined when the device has none. */
  getDax(): FuseDaxRegion | undefined;
}
