// virtiofs-dax, the library: what an embedder imports (`import { Vfs } from
// 'virtiofs-dax'`). The guest stack — the VFS, the virtio-fs driver and its
// transports, the virtiofs filesystem with its DAX window manager — and the
// device model's embedding API: a device instance over a host directory or
// any FuseFilesystem, the in-memory one, and the wire server. Built to
// dist/lib with declarations by `npm run build`; docs/VFS.md, FILESYSTEM.md,
// DAX.md and PASSTHROUGH.md describe the calls.

// core: errors, memory, the allocator, the VFS.
export { Errno, ErrnoError, errnoName } from '../core/errno';
export type { ErrnoName } from '../core/errno';
export type { Log } from '../core/log';
export { Allocator } from '../core/allocator';
export { BufferBacking, GuestMemory } from '../core/memory';
export type { MemoryBacking } from '../core/memory';
export { WindowBacking } from '../core/window';
export * from '../core/vfs';

// drivers: virtio-mmio transports and the virtio-fs driver.
export { InProcessTransport } from '../drivers/virtio-mmio/in-process-transport';
export * from '../drivers/virtio-fs/config';
export { VirtioFsDriver, VirtioFsProbeError, VIRTIO_FS_DRIVER_FEATURES } from '../drivers/virtio-fs';
// The filesystem's RequestOptions (per call) keep the plain name; the driver's are per queue.
export type { VirtioFsDriverOptions, NegotiatedInit, RequestOptions as DriverRequestOptions, SharedMemoryRegion } from '../drivers/virtio-fs';
export { connectVirtioFs } from '../drivers/virtio-fs/connect.node';
export type { ConnectVirtioFsOptions, RemoteVirtioFs } from '../drivers/virtio-fs/connect.node';

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
