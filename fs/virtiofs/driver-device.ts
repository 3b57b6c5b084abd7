// The virtio-fs driver as the filesystem's FuseDevice: requests on the
// request queues, FORGET and BATCH_FORGET on hiprio, the window read through
// the same guest memory the driver's rings live in.

import type { GuestMemory } from '../../core/memory';
import type { VirtioFsDriver } from '../../drivers/virtio-fs/driver';
import type { FuseDevice } from './device';

export function fuseDeviceOf(driver: VirtioFsDriver, memory: GuestMemory): FuseDevice {
  return {
    id: driver,
    tag: driver.tag,
    memory,
    request: (bytes, replyCapacity) => driver.request(bytes, replyCapacity),
    send: (bytes) => driver.send(bytes, { hiprio: true }),
    getDax: () => driver.getDax(),
  };
}
