// virtiofs-dax, the library: what an embedder imports (`import { Vfs } from
// 'virtiofs-dax'`). The guest stack — the VFS, the virtio-fs driver and its
// transports, the virtiofs filesystem with its DAX window manager — and the
// device model's embedding API: a device instance over a host directory or
// any FuseFilesystem, the in-memory one, and the wire server. Built to
// dist/lib with declarations by `npm run build`; docs/VFS.md, FILESYSTEM.md,
// DAX.md and PASSTHROUGH.md describe the calls.

// core: errors, memory, the allocator, the VFS.
export {
  Allocator, BufferBacking, Errno, ErrnoError, GuestMemory, WindowBacking, errnoName,
  type ErrnoName, type Log, type MemoryBacking,
} from '../core';
export * from '../core/vfs';

// drivers: virtio-mmio transports and the virtio-fs driver.
export { InProcessTransport } from '../drivers/virtio-mmio';
export {
  VirtioFsDriver, VirtioFsProbeError, VIRTIO_FS_DRIVER_FEATURES,
  // the config layout
  VIRTIO_FS_TAG_SIZE, VIRTIO_FS_CONFIG_TAG, VIRTIO_FS_CONFIG_NUM_REQUEST_QUEUES, VIRTIO_FS_CONFIG_SIZE,
  VIRTIO_FS_HIPRIO_QUEUE, VIRTIO_FS_FIRST_REQUEST_QUEUE, VIRTIO_FS_SHMCAP_ID_CACHE, VirtioFsConfigError,
  encodeTag, encodeVirtioFsConfig, decodeTag,
} from '../drivers/virtio-fs';
// The filesystem's RequestOptions (per call) keep the plain name; the driver's are per queue.
export type { VirtioFsDriverOptions, NegotiatedInit, RequestOptions as DriverRequestOptions, SharedMemoryRegion } from '../drivers/virtio-fs';
export { connectVirtioFs, type ConnectVirtioFsOptions, type RemoteVirtioFs } from '../drivers/virtio-fs/index.node';

// fs: the virtiofs filesystem and its DAX window manager.
export * from '../fs/virtiofs';
export { DaxManager } from '../fs/virtiofs/dax';
export type { DaxSnapshot, DaxStatsSnapshot } from '../fs/virtiofs/dax';

// The guest over the wire in one call.
export { mountShare } from '../tools/guest/mount';
export type { GuestMount, MountOptions as ShareMountOptions } from '../tools/guest/mount';

// The device model: one device per instance, over a host directory or any FuseFilesystem.
export { DeviceInstance } from '../tools/vmm/instance';
export type { DeviceConfig, InstanceOptions } from '../tools/vmm/instance';
export { MemFs, symlink } from '../tools/vmm/memfs';
export type { MemFsOptions, MemTree } from '../tools/vmm/memfs';
export type { FuseFilesystem } from '../tools/vmm/fuse';
export { WireServer } from '../tools/vmm/wire-server';
export type { DeviceLink, DeviceSession, WireServerOptions } from '../tools/vmm/wire-server';
