// The virtio-fs driver and its config layout.
export * from './config';
export { VirtioFsDriver, VirtioFsProbeError, VIRTIO_FS_DRIVER_FEATURES } from './driver';
export type { VirtioFsDriverOptions, RequestOptions, NegotiatedInit } from './driver';
export type { SharedMemoryRegion } from '../virtio/shm';
