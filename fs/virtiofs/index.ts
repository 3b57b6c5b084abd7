// virtio-fs filesystem: vfsops, vnops, the FUSE session over a device, and
// the DAX window manager's device built from it.
export * from './device';
export * from './session';
export * from './connection';
export * from './dax-port';
export * from './options';
export * from './inode';
export * from './vnops';
export * from './vfsops';
export * from './driver-device';
