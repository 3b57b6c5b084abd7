// The whole stack in one process, for tests: a device instance serving any
// FuseFilesystem (no window, RAM in a buffer, read-only), its virtio-fs
// driver probed over the in-process transport, and the share mounted at '/'
// of a Vfs of its own. No sockets, no host directory.
import { Allocator } from '../../core/allocator';
import { Vfs } from '../../core/vfs';
import { InProcessTransport } from '../../drivers/virtio-mmio/in-process-transport';
import { VirtioFsDriver } from '../../drivers/virtio-fs/driver';
import { VirtiofsFileSystemType, fuseDeviceOf } from '../../fs/virtiofs';
import type { FuseFilesystem } from '../../tools/vmm/fuse';
import { DeviceInstance, type DeviceConfig } from '../../tools/vmm/instance';

const MEMORY = 16 << 20;

/** The device model's half: `filesystem` behind a device tagged `tag`. */
export function inProcessDevice(filesystem: FuseFilesystem, tag: string, caps?: DeviceConfig['caps']): DeviceInstance {
  return DeviceInstance.create({
    sharedDir: '/nonexistent', tag, cacheSize: 0, queueSize: 64, numRequestQueues: 1, memory: MEMORY,
    daxPolicy: 'none', readonly: true, filesystem, logger: () => undefined, caps,
  }, { ram: 'buffer' });
}

/** The guest's half: host's device probed and mounted at '/' with `options`.
 *  The caller unmounts, closes the driver, then the host. */
export async function mountInProcess(host: DeviceInstance, options: Record<string, string> = {}): Promise<{ driver: VirtioFsDriver; vfs: Vfs }> {
  const driver = await VirtioFsDriver.probe(new InProcessTransport(host.device.registers), host.memory,
    new Allocator(0, MEMORY), { logger: () => undefined });
  const type = new VirtiofsFileSystemType({ log: () => undefined });
  type.addDevice(fuseDeviceOf(driver, host.memory));
  const vfs = new Vfs();
  await vfs.mount(type, host.config.tag, '/', options);
  return { driver, vfs };
}
