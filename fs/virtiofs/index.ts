// virtio-fs filesystem: vfsops, vnops, the inode cache, the FUSE session
// over a device, and the DAX window manager's port built from it.
export * from './device';
export * from './session';
export * from './connection';
export * from './dax-port';
export * from './options';
export * from './inode';
export * from './inode-cache';
export * from './vnops';
export * from './vfsops';
